#ifndef BOWDEN_POLICY_POLICY_SOURCE_H_
#define BOWDEN_POLICY_POLICY_SOURCE_H_

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "policy/policy.h"

namespace bowden::policy {

// The relay's current policy: a textproto file (optional) plus grants from
// the command line, reloaded when the file changes. A file that does not
// parse or validate is rejected with its line and reason, and the policy in
// force stays as it was.
//
// Thread-safe. Get() is cheap: callers hold the returned snapshot for one
// decision.
class PolicySource {
 public:
  // Reports each reload attempt: the new grant count, or why it was refused.
  using ReloadCallback = std::function<void(const absl::StatusOr<size_t>&)>;

  // `path` may be empty (grants from `extra` only).
  static absl::StatusOr<std::unique_ptr<PolicySource>> Load(
      std::string path, std::vector<bowden::v1::Grant> extra);
  ~PolicySource();

  std::shared_ptr<const Policy> Get() const ABSL_LOCKS_EXCLUDED(mu_);

  // Reloads when the file's size, mtime or inode changed. Returns whether a
  // new policy took effect; an error means the file was refused.
  absl::StatusOr<bool> ReloadIfChanged() ABSL_LOCKS_EXCLUDED(mu_);

  // Checks the file every `interval` on a background thread until
  // destruction, calling `on_reload` after each changed file.
  void StartWatching(absl::Duration interval, ReloadCallback on_reload);

 private:
  struct FileStamp {
    ino_t inode = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const FileStamp& o) const {
      return inode == o.inode && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
             mtime.tv_nsec == o.mtime.tv_nsec;
    }
  };

  PolicySource(std::string path, std::vector<bowden::v1::Grant> extra)
      : path_(std::move(path)), extra_(std::move(extra)) {}
  // Reads and validates the file plus the extra grants.
  absl::StatusOr<Policy> Build() const;
  FileStamp Stamp() const;

  const std::string path_;
  const std::vector<bowden::v1::Grant> extra_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const Policy> current_ ABSL_GUARDED_BY(mu_);
  FileStamp stamp_ ABSL_GUARDED_BY(mu_);
  absl::Notification stop_;
  std::thread watcher_;
};

}  // namespace bowden::policy

#endif  // BOWDEN_POLICY_POLICY_SOURCE_H_
