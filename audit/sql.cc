#include "audit/sql.h"

#include <map>
#include <string>

#include "absl/strings/str_cat.h"

namespace bowden::audit::internal {

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  std::string message =
      absl::StrCat("audit log: ", what, ": ", sqlite3_errmsg(db));
  switch (sqlite3_errcode(db)) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<Statement> Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    return SqlError(db, "prepare");
  }
  return Statement(stmt);
}

absl::Status Exec(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    // Name the statement by its start; the schema is a page long.
    return SqlError(db, absl::string_view(sql).substr(0, 40));
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3*> OpenConnection(const std::string& path, int flags) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open audit log '", path, "': ", error));
  }
  // An append holds the write lock for one fsync; in WAL readers never wait
  // for it, so this only matters if another process writes the file.
  sqlite3_busy_timeout(db, 5000);
  return db;
}

absl::string_view Column(sqlite3_stmt* stmt, int i) {
  const void* data = sqlite3_column_blob(stmt, i);
  int size = sqlite3_column_bytes(stmt, i);
  return data ? absl::string_view(static_cast<const char*>(data), size)
              : absl::string_view();
}

RowContent RowAt(sqlite3_stmt* stmt) {
  RowContent row;
  row.seq = sqlite3_column_int64(stmt, 0);
  row.time_unix_micros = sqlite3_column_int64(stmt, 1);
  row.kind = Column(stmt, 2);
  row.actor = Column(stmt, 3);
  row.printer = Column(stmt, 4);
  row.target = Column(stmt, 5);
  row.session_id = Column(stmt, 6);
  row.outcome = Column(stmt, 7);
  row.detail = Column(stmt, 8);
  row.fields = Column(stmt, 9);
  return row;
}

absl::StatusOr<bowden::v1::AuditEvent> EventAt(sqlite3_stmt* stmt) {
  RowContent row = RowAt(stmt);
  absl::StatusOr<std::map<std::string, std::string>> fields =
      DecodeFields(row.fields);
  if (!fields.ok()) {
    return absl::DataLossError(absl::StrCat("audit row ", row.seq, ": ",
                                            fields.status().message(),
                                            "; run `bowden audit verify`"));
  }
  bowden::v1::AuditEvent event;
  event.set_seq(row.seq);
  event.set_time_unix_micros(row.time_unix_micros);
  event.set_kind(std::string(row.kind));
  event.set_actor(std::string(row.actor));
  event.set_printer(std::string(row.printer));
  event.set_target(std::string(row.target));
  event.set_session_id(std::string(row.session_id));
  event.set_outcome(std::string(row.outcome));
  event.set_detail(std::string(row.detail));
  event.mutable_fields()->insert(fields->begin(), fields->end());
  return event;
}

}  // namespace bowden::audit::internal
