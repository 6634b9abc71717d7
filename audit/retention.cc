// AuditLog::MaintainSegments: sealing and retention, on the writer's
// connection, in short transactions so appends never wait long.

#include <functional>

#include "audit/audit_log.h"
#include "audit/segments.h"
#include "audit/sql.h"

namespace bowden::audit {
namespace {

// Runs `step` in one write transaction; rolls back if it fails.
absl::Status InTransaction(sqlite3* db,
                           const std::function<absl::Status()>& step) {
  if (absl::Status s = internal::Exec(db, "BEGIN IMMEDIATE"); !s.ok()) return s;
  absl::Status status = step();
  if (status.ok()) status = internal::Exec(db, "COMMIT");
  if (!status.ok()) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  return status;
}

}  // namespace

absl::StatusOr<MaintenanceResult> AuditLog::MaintainSegments(
    int64_t max_delete_rows) {
  const SegmentPolicy& policy = options_.segments;
  MaintenanceResult result;
  absl::MutexLock lock(&write_mu_);
  const absl::Time now = options_.clock();
  // Sealing and marking are one transaction: a segment is never pruned in
  // a state where its seal was not committed.
  absl::Status status = InTransaction(writer_, [&]() -> absl::Status {
    absl::StatusOr<int64_t> sealed = internal::SealDueSegments(
        writer_, policy.max_rows, policy.max_age, now);
    if (!sealed.ok()) return sealed.status();
    result.sealed = *sealed;
    absl::StatusOr<int64_t> pruned =
        internal::MarkPrunable(writer_, policy.retention, now);
    if (!pruned.ok()) return pruned.status();
    result.pruned = *pruned;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  if (max_delete_rows <= 0) return result;
  status = InTransaction(writer_, [&]() -> absl::Status {
    absl::StatusOr<int64_t> deleted =
        internal::DeletePrunedRows(writer_, max_delete_rows, &result.more);
    if (!deleted.ok()) return deleted.status();
    result.rows_deleted = *deleted;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

}  // namespace bowden::audit
