// File handling for the CA directory: private directories, atomic writes that
// never expose a key with loose permissions, bounded reads and a directory
// lock. Nothing here knows about X.509; ca.cc does the cryptography.

#ifndef BOWDEN_CERTS_PEM_FILES_H_
#define BOWDEN_CERTS_PEM_FILES_H_

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::certs {

// PEM certificates and keys are a few KiB; anything larger is not one of ours,
// and reading it whole would let a hostile file exhaust memory.
inline constexpr size_t kMaxPemFileBytes = 64 * 1024;

// What StagedFile::Commit does when the destination already exists.
enum class Overwrite {
  kRefuse,   // AlreadyExists; the existing file is left untouched.
  kReplace,  // Atomically replaced; readers see the old or the new file.
};

// Returns `dir` + "/" + `file`, without doubling a trailing slash.
std::string JoinPath(absl::string_view dir, absl::string_view file);

// True if something (file, directory, dangling symlink) exists at `path`.
bool PathExists(const std::string& path);

// Creates `dir` and any missing parents with mode 0700, so that only the
// owner can list or open the keys inside. Existing directories keep their
// mode. FailedPrecondition if a component exists but is not a directory.
absl::Status MakePrivateDirectory(const std::string& dir);

// A file written in full to a temporary name next to its destination, waiting
// to be moved into place. Staging both files of a key pair before committing
// either means that running out of disk space cannot leave a new key beside
// an old certificate.
//
// The temporary file is created by mkostemp(), which opens it O_CREAT|O_EXCL
// with mode 0600: a key is never readable by others, not even between open()
// and chmod(). It is then fchmod'ed to the requested mode (so the umask cannot
// change it) and fsync'ed. Destruction without Commit() removes it.
//
// Thread-compatible: one StagedFile must not be used from two threads at once.
class StagedFile {
 public:
  static absl::StatusOr<StagedFile> Create(const std::string& path,
                                           absl::string_view contents,
                                           mode_t mode);

  StagedFile(StagedFile&& other) noexcept;
  StagedFile& operator=(StagedFile&& other) noexcept;
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;
  ~StagedFile();

  // Moves the file into place with rename() (kReplace), or link() (kRefuse:
  // AlreadyExists if the destination exists, decided atomically even when
  // two processes race), then fsyncs the directory so that a crash cannot
  // lose a file reported as written. Call at most once.
  absl::Status Commit(Overwrite overwrite);

 private:
  StagedFile(std::string path, std::string tmp_path)
      : path_(std::move(path)), tmp_path_(std::move(tmp_path)) {}

  std::string path_;
  std::string tmp_path_;  // Empty once committed or moved from.
};

// Reads `path` whole. NotFound if it does not exist, FailedPrecondition if it
// is not a regular file or exceeds kMaxPemFileBytes. With `owner_only`, also
// FailedPrecondition if group or others have any permission on it (the check
// ssh makes for private keys: a leaked CA key forges every identity).
absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        bool owner_only);

// An exclusive flock(2) on a directory, held until destruction. The CA takes it
// around every init and issuance so that concurrent `bowden ca` runs cannot
// interleave a key from one with a certificate from another.
//
// Thread-compatible: a DirectoryLock object must not be shared between threads
// without synchronisation. flock locks belong to the open file description, so
// two DirectoryLocks on one directory exclude each other even within a
// process (the second Acquire blocks until the first is destroyed).
class DirectoryLock {
 public:
  // Blocks until the lock is held. NotFound if `dir` does not exist.
  static absl::StatusOr<DirectoryLock> Acquire(const std::string& dir);

  DirectoryLock(DirectoryLock&& other) noexcept;
  DirectoryLock& operator=(DirectoryLock&& other) noexcept;
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) : fd_(fd) {}

  int fd_ = -1;  // Open O_RDONLY|O_DIRECTORY; closing it releases the lock.
};

}  // namespace bowden::certs

#endif  // BOWDEN_CERTS_PEM_FILES_H_
