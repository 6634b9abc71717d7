// AuditLog::CloseDanglingSessions: at start, a session.close for every
// session the previous run left open.

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "audit/audit_log.h"
#include "audit/checkpoint.h"
#include "audit/sql.h"

namespace bowden::audit {
namespace {

using bowden::v1::AuditEvent;
using internal::Prepare;
using internal::Statement;

// Opens looked at per query, so memory stays bounded however many there are.
constexpr int kBatch = 500;

// The constants must appear literally for SQLite to use the partial indexes
// audit_log_session_opens and audit_log_session_closes (audit_log.cc).
constexpr char kUnclosed[] =
    "SELECT %s FROM audit_log AS o "
    "WHERE o.kind = 'session.open' AND o.seq > ?1 AND o.seq <= ?2 "
    "AND NOT EXISTS (SELECT 1 FROM audit_log AS c "
    "WHERE c.kind = 'session.close' AND c.session_id = o.session_id) "
    "ORDER BY o.seq LIMIT ?3";

}  // namespace

absl::StatusOr<int64_t> AuditLog::CloseDanglingSessions(
    const std::function<AuditEvent(const AuditEvent& open)>& make_close) {
  int64_t from = 0;
  int64_t end = 0;
  {
    absl::MutexLock lock(&read_mu_);
    absl::StatusOr<std::optional<internal::Checkpoint>> checkpoint =
        internal::ReadCheckpoint(reader_);
    if (!checkpoint.ok()) return checkpoint.status();
    if (checkpoint->has_value()) from = (*checkpoint)->sessions_checked_seq;
    absl::StatusOr<Statement> tail =
        Prepare(reader_, "SELECT COALESCE(MAX(seq), 0) FROM audit_log");
    if (!tail.ok()) return tail.status();
    if (sqlite3_step(tail->get()) != SQLITE_ROW) {
      return internal::SqlError(reader_, "read tail");
    }
    end = sqlite3_column_int64(tail->get(), 0);
  }
  std::string sql = kUnclosed;
  sql.replace(sql.find("%s"), 2,
              absl::StrCat("o.", absl::StrReplaceAll(internal::kRowColumns,
                                                     {{", ", ", o."}})));
  int64_t closed = 0;
  while (true) {
    std::vector<AuditEvent> closes;
    {
      absl::MutexLock lock(&read_mu_);
      absl::StatusOr<Statement> stmt = Prepare(reader_, sql);
      if (!stmt.ok()) return stmt.status();
      sqlite3_bind_int64(stmt->get(), 1, from);
      sqlite3_bind_int64(stmt->get(), 2, end);
      sqlite3_bind_int(stmt->get(), 3, kBatch);
      int rc;
      while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
        absl::StatusOr<AuditEvent> open = internal::EventAt(stmt->get());
        if (!open.ok()) return open.status();
        from = open->seq();
        closes.push_back(make_close(*open));
      }
      if (rc != SQLITE_DONE)
        return internal::SqlError(reader_, "find open sessions");
    }
    if (closes.empty()) break;
    absl::StatusOr<int64_t> appended = AppendBatch(closes);
    if (!appended.ok()) return appended.status();
    closed += static_cast<int64_t>(closes.size());
  }
  absl::MutexLock lock(&write_mu_);
  if (absl::Status s = internal::SetSessionsChecked(writer_, end); !s.ok())
    return s;
  return closed;
}

}  // namespace bowden::audit
