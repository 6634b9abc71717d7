#include "policy/policy_source.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "config/textproto.h"

namespace bowden::policy {

absl::StatusOr<std::unique_ptr<PolicySource>> PolicySource::Load(
    std::string path, std::vector<bowden::v1::Grant> extra) {
  std::unique_ptr<PolicySource> source(new PolicySource(std::move(path), std::move(extra)));
  FileStamp stamp = source->Stamp();
  absl::StatusOr<Policy> policy = source->Build();
  if (!policy.ok()) return policy.status();
  absl::MutexLock lock(&source->mu_);
  source->current_ = std::make_shared<const Policy>(*std::move(policy));
  source->stamp_ = stamp;
  return source;
}

PolicySource::~PolicySource() {
  stop_.Notify();
  if (watcher_.joinable()) watcher_.join();
}

std::shared_ptr<const Policy> PolicySource::Get() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

PolicySource::FileStamp PolicySource::Stamp() const {
  FileStamp stamp;
  struct stat st;
  if (!path_.empty() && stat(path_.c_str(), &st) == 0) {
    stamp.inode = st.st_ino;
    stamp.size = st.st_size;
    stamp.mtime = st.st_mtim;
  }
  return stamp;
}

absl::StatusOr<Policy> PolicySource::Build() const {
  bowden::v1::Policy proto;
  if (!path_.empty()) {
    absl::Status loaded = config::LoadTextProto(path_, &proto);
    if (!loaded.ok()) return loaded;
  }
  for (const bowden::v1::Grant& grant : extra_) *proto.add_grant() = grant;
  absl::StatusOr<Policy> policy = Policy::FromProto(proto);
  if (!policy.ok() && !path_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": ", policy.status().message()));
  }
  return policy;
}

absl::StatusOr<bool> PolicySource::ReloadIfChanged() {
  if (path_.empty()) return false;
  FileStamp stamp = Stamp();
  {
    absl::MutexLock lock(&mu_);
    if (stamp == stamp_) return false;
    // Remember the stamp even when the file is refused, so a bad file is
    // reported once, not on every check.
    stamp_ = stamp;
  }
  absl::StatusOr<Policy> policy = Build();
  if (!policy.ok()) return policy.status();
  absl::MutexLock lock(&mu_);
  current_ = std::make_shared<const Policy>(*std::move(policy));
  return true;
}

void PolicySource::StartWatching(absl::Duration interval, ReloadCallback on_reload) {
  if (path_.empty()) return;
  watcher_ = std::thread([this, interval, on_reload = std::move(on_reload)] {
    while (!stop_.WaitForNotificationWithTimeout(interval)) {
      absl::StatusOr<bool> reloaded = ReloadIfChanged();
      if (!reloaded.ok()) {
        on_reload(reloaded.status());
      } else if (*reloaded) {
        on_reload(Get()->grant_count());
      }
    }
  });
}

}  // namespace bowden::policy
