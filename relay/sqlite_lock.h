#ifndef BOWDEN_RELAY_SQLITE_LOCK_H_
#define BOWDEN_RELAY_SQLITE_LOCK_H_

#include <sqlite3.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bowden::relay {

// How long a write to one of the relay's stores (identities.db, state.db)
// waits for a write lock another program holds (a backup, a sqlite3 shell):
// well inside the CLI's 10 s deadline, so an admin reads the store's
// sentence rather than "deadline exceeded".
inline constexpr absl::Duration kSqliteLockWait = absl::Seconds(5);

// Makes `db` wait up to kSqliteLockWait for another connection's lock,
// logging one WARNING per wait that names `file` (a string literal: it must
// outlive `db`), so an operator whose command hangs learns why.
void WaitForOtherWriters(sqlite3* db, const char* file);

// The status of a failed write to `file` through `db` ("cannot WHAT: ..."):
// Unavailable, naming the likely culprits, when another program kept the
// lock past kSqliteLockWait (the caller adds what to do); Internal with
// SQLite's message otherwise.
absl::Status SqliteWriteError(sqlite3* db, absl::string_view file,
                              absl::string_view what);

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_SQLITE_LOCK_H_
