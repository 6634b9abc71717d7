#include "audit/checkpoint.h"

#include "audit/sql.h"

namespace bowden::audit::internal {

absl::StatusOr<std::optional<Checkpoint>> ReadCheckpoint(sqlite3* db) {
  absl::StatusOr<Statement> stmt =
      Prepare(db,
              "SELECT head_seq, head_hash, sessions_checked_seq "
              "FROM audit_checkpoint WHERE id = 1");
  if (!stmt.ok()) return stmt.status();
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return SqlError(db, "read checkpoint");
  Checkpoint checkpoint;
  checkpoint.head_seq = sqlite3_column_int64(stmt->get(), 0);
  checkpoint.head_hash = std::string(Column(stmt->get(), 1));
  checkpoint.sessions_checked_seq = sqlite3_column_int64(stmt->get(), 2);
  return checkpoint;
}

namespace {

void BindBlob(sqlite3_stmt* stmt, int i, absl::string_view bytes) {
  sqlite3_bind_blob(stmt, i, bytes.empty() ? "" : bytes.data(),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

}  // namespace

absl::Status AdvanceHead(sqlite3* db, int64_t from_seq,
                         absl::string_view from_hash, int64_t seq,
                         absl::string_view hash) {
  absl::StatusOr<Statement> stmt =
      Prepare(db,
              "UPDATE audit_checkpoint SET head_seq = ?1, head_hash = ?2 "
              "WHERE id = 1 AND head_seq = ?3 AND head_hash = ?4 AND ?1 >= ?3");
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_int64(stmt->get(), 1, seq);
  BindBlob(stmt->get(), 2, hash);
  sqlite3_bind_int64(stmt->get(), 3, from_seq);
  BindBlob(stmt->get(), 4, from_hash);
  if (sqlite3_step(stmt->get()) != SQLITE_DONE)
    return SqlError(db, "advance head");
  return absl::OkStatus();
}

absl::Status SetSessionsChecked(sqlite3* db, int64_t seq) {
  absl::StatusOr<Statement> stmt = Prepare(
      db, "UPDATE audit_checkpoint SET sessions_checked_seq = ? WHERE id = 1");
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_int64(stmt->get(), 1, seq);
  if (sqlite3_step(stmt->get()) != SQLITE_DONE) {
    return SqlError(db, "record checked sessions");
  }
  return absl::OkStatus();
}

}  // namespace bowden::audit::internal
