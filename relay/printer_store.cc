#include "relay/printer_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "relay/sqlite_lock.h"

namespace bowden::relay {
namespace {

struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

absl::Status SqlError(sqlite3* db, absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("state database: ", what, ": ", sqlite3_errmsg(db)));
}

absl::StatusOr<Statement> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return SqlError(db, "prepare");
  }
  return Statement(stmt);
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrinterStore>> PrinterStore::Open(
    const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create state directory '", dir, "': ", strerror(errno)));
  }
  std::string path = absl::StrCat(dir, "/state.db");
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot open state database '", path, "': ", error));
  }
  std::unique_ptr<PrinterStore> store(new PrinterStore(db));
  WaitForOtherWriters(db, "state.db");
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS printers ("
      "  id TEXT PRIMARY KEY,"
      "  targets TEXT NOT NULL,"
      "  last_seen_unix INTEGER NOT NULL);";
  char* error = nullptr;
  if (sqlite3_exec(db, schema, nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return absl::FailedPreconditionError(absl::StrCat(
        "state database '", path, "' is not usable: ", message));
  }
  if (absl::Status loaded = store->LoadKnown(); !loaded.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "state database '", path, "' is not usable: ", loaded.message()));
  }
  return store;
}

absl::Status PrinterStore::LoadKnown() {
  absl::StatusOr<std::vector<KnownPrinter>> printers = List();
  if (!printers.ok()) return printers.status();
  absl::MutexLock lock(&mu_);
  for (KnownPrinter& printer : *printers) known_.insert(std::move(printer.id));
  return absl::OkStatus();
}

PrinterStore::~PrinterStore() { sqlite3_close(db_); }

absl::Status PrinterStore::RecordSeen(const std::string& id,
                                      const std::vector<std::string>& targets) {
  {
    // Known from its first attachment, whether or not the row can be
    // written now.
    absl::MutexLock lock(&mu_);
    known_.insert(id);
  }
  absl::MutexLock db_lock(&db_mu_);
  absl::StatusOr<Statement> stmt = Prepare(
      db_,
      "INSERT INTO printers (id, targets, last_seen_unix) VALUES (?, ?, ?) "
      "ON CONFLICT(id) DO UPDATE SET targets = excluded.targets, "
      "last_seen_unix = excluded.last_seen_unix");
  if (!stmt.ok()) return stmt.status();
  std::string joined = absl::StrJoin(targets, ",");
  sqlite3_bind_text(stmt->get(), 1, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(stmt->get(), 2, joined.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt->get(), 3, absl::ToUnixSeconds(absl::Now()));
  if (sqlite3_step(stmt->get()) != SQLITE_DONE) {
    return SqliteWriteError(db_, "state.db",
                            absl::StrCat("record printer '", id, "' as seen"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KnownPrinter>> PrinterStore::List() {
  absl::MutexLock db_lock(&db_mu_);
  absl::StatusOr<Statement> stmt = Prepare(
      db_, "SELECT id, targets, last_seen_unix FROM printers ORDER BY id");
  if (!stmt.ok()) return stmt.status();
  std::vector<KnownPrinter> printers;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    KnownPrinter printer;
    printer.id = reinterpret_cast<const char*>(sqlite3_column_text(stmt->get(), 0));
    std::string targets =
        reinterpret_cast<const char*>(sqlite3_column_text(stmt->get(), 1));
    printer.targets = absl::StrSplit(targets, ',', absl::SkipEmpty());
    printer.last_seen_unix = sqlite3_column_int64(stmt->get(), 2);
    printers.push_back(std::move(printer));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "select");
  return printers;
}

bool PrinterStore::Contains(const std::string& id) {
  absl::MutexLock lock(&mu_);
  return known_.contains(id);
}

}  // namespace bowden::relay
