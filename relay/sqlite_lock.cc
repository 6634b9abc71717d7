#include "relay/sqlite_lock.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace bowden::relay {
namespace {

constexpr int kLockPollMs = 10;

// SQLite's busy handler; `file` is the name WaitForOtherWriters was given.
int WaitForLock(void* file, int attempts) {
  if (attempts == 0) {
    LOG(WARNING) << static_cast<const char*>(file)
                 << " is locked by another connection (a backup or a sqlite3 "
                    "shell?); waiting up to "
                 << absl::FormatDuration(kSqliteLockWait) << " for it";
  }
  if (attempts * absl::Milliseconds(kLockPollMs) >= kSqliteLockWait) return 0;
  sqlite3_sleep(kLockPollMs);
  return 1;
}

}  // namespace

void WaitForOtherWriters(sqlite3* db, const char* file) {
  sqlite3_busy_handler(db, WaitForLock, const_cast<char*>(file));
}

absl::Status SqliteWriteError(sqlite3* db, absl::string_view file,
                              absl::string_view what) {
  if (sqlite3_errcode(db) == SQLITE_BUSY) {
    return absl::UnavailableError(absl::StrCat(
        "cannot ", what, ": another program kept ", file, " locked for ",
        absl::FormatDuration(kSqliteLockWait),
        " (a backup or a sqlite3 shell?)"));
  }
  return absl::InternalError(
      absl::StrCat("cannot ", what, ": ", sqlite3_errmsg(db)));
}

}  // namespace bowden::relay
