#ifndef BOWDEN_AUDIT_SQL_H_
#define BOWDEN_AUDIT_SQL_H_

// SQLite plumbing shared by audit_log.cc and verify.cc. Internal to //audit.

#include <sqlite3.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "audit/chain.h"
#include "proto/audit.pb.h"

namespace bowden::audit::internal {

// The hashed columns, in RowAt's order.
inline constexpr char kRowColumns[] =
    "seq, time_unix_micros, kind, actor, printer, target, session_id, "
    "outcome, detail, fields";

struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

// The connection's last error with the most specific code: Unavailable for
// busy/locked, ResourceExhausted for a full disk, DataLoss for corruption.
absl::Status SqlError(sqlite3* db, absl::string_view what);
absl::StatusOr<Statement> Prepare(sqlite3* db, const std::string& sql);
absl::Status Exec(sqlite3* db, const char* sql);

// Opens `path` with `flags` (plus FULLMUTEX) and a busy timeout.
absl::StatusOr<sqlite3*> OpenConnection(const std::string& path, int flags);

// Column bytes as stored, without text conversion (NULL reads as empty).
// Valid until the statement steps again.
absl::string_view Column(sqlite3_stmt* stmt, int i);

// The row of a statement that selected kRowColumns first.
RowContent RowAt(sqlite3_stmt* stmt);
// The same row as an event. DataLossError if its fields blob is corrupt.
absl::StatusOr<bowden::v1::AuditEvent> EventAt(sqlite3_stmt* stmt);

}  // namespace bowden::audit::internal

#endif  // BOWDEN_AUDIT_SQL_H_
