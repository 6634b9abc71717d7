#include "certs/pem_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace bowden::certs {
namespace {

absl::Status ErrnoError(int err, absl::string_view what) {
  return absl::ErrnoToStatus(err, what);
}

// Directory part of `path` ("." when there is none), used to put the temporary
// file on the same filesystem so that rename() and link() are atomic.
std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Closes `fd`, retrying nothing: on Linux the descriptor is released even when
// close() reports EINTR, and retrying could close a descriptor reused by
// another thread.
absl::Status CloseFd(int fd, const std::string& path) {
  if (close(fd) != 0) {
    return ErrnoError(errno, absl::StrCat("closing ", path));
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, absl::StrCat("writing ", path));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, absl::StrCat("opening ", dir));
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) return ErrnoError(err, absl::StrCat("syncing ", dir));
  return absl::OkStatus();
}

}  // namespace

std::string JoinPath(absl::string_view dir, absl::string_view file) {
  if (dir.empty()) return std::string(file);
  if (dir.back() == '/') return absl::StrCat(dir, file);
  return absl::StrCat(dir, "/", file);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

absl::Status MakePrivateDirectory(const std::string& dir) {
  if (dir.empty()) {
    return absl::InvalidArgumentError(
        "the CA directory is empty: pass a path such as /etc/bowden/ca");
  }
  std::string prefix = dir.front() == '/' ? "/" : "";
  for (absl::string_view part : absl::StrSplit(dir, '/', absl::SkipEmpty())) {
    absl::StrAppend(&prefix, part, "/");
    if (mkdir(prefix.c_str(), 0700) == 0) {
      // mkdir() applies the umask; chmod() makes the mode exactly 0700.
      if (chmod(prefix.c_str(), 0700) != 0) {
        return ErrnoError(errno, absl::StrCat("setting mode 0700 on ", prefix));
      }
      continue;
    }
    if (errno != EEXIST) {
      return ErrnoError(errno, absl::StrCat("creating directory ", prefix));
    }
    struct stat st;
    if (stat(prefix.c_str(), &st) != 0) {
      return ErrnoError(errno, absl::StrCat("inspecting ", prefix));
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(absl::StrCat(
          prefix, " exists but is not a directory: choose another --dir"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<StagedFile> StagedFile::Create(const std::string& path,
                                              absl::string_view contents,
                                              mode_t mode) {
  const std::string dir = DirName(path);
  std::string tmp = JoinPath(dir, absl::StrCat(".", BaseName(path), ".XXXXXX"));
  const int fd = mkostemp(&tmp[0], O_CLOEXEC);
  if (fd < 0) {
    return ErrnoError(errno,
                      absl::StrCat("creating a temporary file in ", dir));
  }
  // From here on the destructor removes the temporary file on any failure.
  StagedFile staged(path, tmp);
  absl::Status s;
  if (fchmod(fd, mode) != 0) {
    s = ErrnoError(errno,
                   absl::StrFormat("setting mode %04o on %s", mode, tmp));
  }
  if (s.ok()) s = WriteAll(fd, contents, tmp);
  if (s.ok() && fsync(fd) != 0) {
    s = ErrnoError(errno, absl::StrCat("syncing ", tmp));
  }
  const absl::Status closed = CloseFd(fd, tmp);
  if (!s.ok()) return s;
  if (!closed.ok()) return closed;
  return staged;
}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_path_(std::exchange(other.tmp_path_, std::string())) {}

StagedFile& StagedFile::operator=(StagedFile&& other) noexcept {
  if (this != &other) {
    if (!tmp_path_.empty()) unlink(tmp_path_.c_str());
    path_ = std::move(other.path_);
    tmp_path_ = std::exchange(other.tmp_path_, std::string());
  }
  return *this;
}

StagedFile::~StagedFile() {
  if (!tmp_path_.empty()) unlink(tmp_path_.c_str());
}

absl::Status StagedFile::Commit(Overwrite overwrite) {
  if (tmp_path_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, " was already committed: stage it again"));
  }
  if (overwrite == Overwrite::kReplace) {
    if (rename(tmp_path_.c_str(), path_.c_str()) != 0) {
      return ErrnoError(errno,
                        absl::StrCat("moving ", tmp_path_, " to ", path_));
    }
    tmp_path_.clear();  // It is `path_` now.
  } else {
    if (link(tmp_path_.c_str(), path_.c_str()) != 0) {
      if (errno == EEXIST) {
        return absl::AlreadyExistsError(
            absl::StrCat(path_, " already exists: refusing to overwrite it"));
      }
      return ErrnoError(errno,
                        absl::StrCat("linking ", tmp_path_, " to ", path_));
    }
    unlink(tmp_path_.c_str());  // `path_` keeps the data.
    tmp_path_.clear();
  }
  return SyncDirectory(DirName(path_));
}

absl::StatusOr<std::string> ReadPemFile(const std::string& path,
                                        bool owner_only) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(path, " does not exist"));
    }
    return ErrnoError(errno, absl::StrCat("opening ", path));
  }
  absl::Cleanup close_fd = [fd] { close(fd); };

  // fstat() on the open descriptor, not stat() on the name, so the file we
  // check is the file we read.
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return ErrnoError(errno, absl::StrCat("inspecting ", path));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not a regular file: point at the PEM file"));
  }
  if (owner_only && (st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s has mode %04o, so other users may read it: run `chmod 600 %s`",
        path, st.st_mode & 07777, path));
  }
  if (static_cast<size_t>(st.st_size) > kMaxPemFileBytes) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "%s is %d bytes, more than the %d a PEM certificate or key can be: "
        "check that it is the right file",
        path, st.st_size, kMaxPemFileBytes));
  }

  std::string data;
  data.resize(kMaxPemFileBytes + 1);
  size_t used = 0;
  // Read until EOF rather than trusting st_size: the file may change under us.
  while (used < data.size()) {
    const ssize_t n = read(fd, &data[used], data.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, absl::StrCat("reading ", path));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > kMaxPemFileBytes) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " grew past ", kMaxPemFileBytes, " bytes while being read: ",
        "check that nothing else is writing to it"));
  }
  data.resize(used);
  return data;
}

absl::StatusOr<DirectoryLock> DirectoryLock::Acquire(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return absl::NotFoundError(absl::StrCat(dir, " does not exist"));
    }
    return ErrnoError(errno, absl::StrCat("opening directory ", dir));
  }
  while (flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    close(fd);
    return ErrnoError(err, absl::StrCat("locking ", dir));
  }
  return DirectoryLock(fd);
}

DirectoryLock::DirectoryLock(DirectoryLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

DirectoryLock& DirectoryLock::operator=(DirectoryLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace bowden::certs
