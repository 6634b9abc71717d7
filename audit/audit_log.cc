#include "audit/audit_log.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "audit/chain.h"
#include "audit/checkpoint.h"
#include "audit/redact.h"
#include "audit/sql.h"

namespace bowden::audit {
namespace {

using bowden::v1::AuditEvent;
using bowden::v1::AuditQuery;
using internal::Column;
using internal::Exec;
using internal::kRowColumns;
using internal::OpenConnection;
using internal::Prepare;
using internal::RowAt;
using internal::SqlError;
using internal::Statement;

// 2: audit_segments, and DELETE allowed for rows of pruned segments (a
// version-1 program would report pruned rows as deleted, so it refuses).
constexpr int kSchemaVersion = 2;
constexpr int kDefaultQueryLimit = 1000;
constexpr int kMaxQueryLimit = 10000;

// The triggers are defence in depth against mistakes and casual edits; the
// hash chain is what proves integrity. The INSERT trigger also stops
// INSERT OR REPLACE, which would bypass the DELETE trigger (SQLite fires
// delete triggers for REPLACE only with recursive_triggers on).
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS audit_log (
  seq INTEGER PRIMARY KEY,
  time_unix_micros INTEGER NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  printer TEXT NOT NULL,
  target TEXT NOT NULL,
  session_id TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT NOT NULL,
  fields BLOB NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS audit_log_by_printer ON audit_log (printer, seq);
CREATE INDEX IF NOT EXISTS audit_log_by_actor ON audit_log (actor, seq);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (time_unix_micros);
CREATE INDEX IF NOT EXISTS audit_log_by_session ON audit_log (session_id, seq);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
CREATE TABLE IF NOT EXISTS audit_segments (
  id INTEGER PRIMARY KEY,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  rows INTEGER NOT NULL,
  first_prev_hash BLOB NOT NULL,
  last_hash BLOB NOT NULL,
  sealed_at_unix_micros INTEGER NOT NULL,
  segment_hash BLOB NOT NULL,
  pruned INTEGER NOT NULL DEFAULT 0);
DROP TRIGGER IF EXISTS audit_log_no_delete;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_segments WHERE pruned = 1
                 AND OLD.seq BETWEEN first_seq AND last_seq)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS audit_segments_no_delete BEFORE DELETE ON audit_segments
BEGIN SELECT RAISE(ABORT, 'audit_segments: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS audit_segments_prune_only BEFORE UPDATE ON audit_segments
WHEN OLD.pruned = 1 OR NEW.pruned != 1 OR NEW.id != OLD.id
  OR NEW.first_seq != OLD.first_seq OR NEW.last_seq != OLD.last_seq
  OR NEW.rows != OLD.rows OR NEW.first_prev_hash != OLD.first_prev_hash
  OR NEW.last_hash != OLD.last_hash
  OR NEW.sealed_at_unix_micros != OLD.sealed_at_unix_micros
  OR NEW.segment_hash != OLD.segment_hash
BEGIN SELECT RAISE(ABORT, 'audit_segments: only marking a segment pruned is allowed'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_next_seq_only BEFORE INSERT ON audit_log
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log)
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: seq must follow the last row'); END;
CREATE TABLE IF NOT EXISTS audit_checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  head_seq INTEGER NOT NULL,
  head_hash BLOB NOT NULL,
  sessions_checked_seq INTEGER NOT NULL);
INSERT OR IGNORE INTO audit_checkpoint VALUES (1, 0, zeroblob(32), 0);
CREATE INDEX IF NOT EXISTS audit_log_session_opens ON audit_log (seq)
  WHERE kind = 'session.open';
CREATE INDEX IF NOT EXISTS audit_log_session_closes ON audit_log (session_id)
  WHERE kind = 'session.close';
)sql";

void Bind(sqlite3_stmt* stmt, int i, absl::string_view text) {
  // A null pointer would bind SQL NULL; an empty string must stay ''.
  sqlite3_bind_text(stmt, i, text.empty() ? "" : text.data(),
                    static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

absl::StatusOr<int64_t> QueryInt(sqlite3* db, const char* sql) {
  absl::StatusOr<Statement> stmt = Prepare(db, sql);
  if (!stmt.ok()) return stmt.status();
  if (sqlite3_step(stmt->get()) != SQLITE_ROW) return SqlError(db, sql);
  return sqlite3_column_int64(stmt->get(), 0);
}

// journal_mode=WAL persists in the file; synchronous=FULL is per connection
// and makes every commit fsync the WAL, so a committed append survives power
// loss, not only a crash of this process.
// cache_size: the writer keeps 512 KiB of pages, not SQLite's default 2 MB,
// which the relay otherwise filled once the log held a few ten thousand rows
// and kept for good (most of what it held over its idle memory after bursts
// of sessions). An append walks the table and six indexes from their roots;
// their upper pages fit in 512 KiB (the session indexes' leaves are random
// and miss either way): 512 KiB cost 0-5% more CPU per append than 2 MB
// (`audit_append_for_bench`, a fresh log and one of 1,000,000 rows), 256 KiB
// nearly twice as much (docs/benchmarks-memory.md).
absl::Status PrepareWriter(sqlite3* db, const std::string& path) {
  absl::StatusOr<Statement> mode = Prepare(db, "PRAGMA journal_mode=WAL");
  if (!mode.ok()) {  // e.g. SQLITE_NOTADB, kept as DataLoss
    return absl::Status(mode.status().code(),
                        absl::StrCat("audit log '", path, "' cannot be read: ",
                                     mode.status().message()));
  }
  if (sqlite3_step(mode->get()) != SQLITE_ROW ||
      Column(mode->get(), 0) != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat("audit log '", path, "' cannot use WAL journaling (",
                     sqlite3_errmsg(db), "); put it on a local file system"));
  }
  mode->reset();
  absl::StatusOr<int64_t> version = QueryInt(db, "PRAGMA user_version");
  if (!version.ok()) return version.status();
  if (*version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("audit log '", path, "' has schema version ", *version,
                     ", newer than this program's ", kSchemaVersion,
                     "; upgrade Bowden to read it"));
  }
  for (const char* sql :
       {"PRAGMA synchronous=FULL", "PRAGMA recursive_triggers=ON",
        "PRAGMA cache_size=-512", "BEGIN IMMEDIATE", kSchema,
        "PRAGMA user_version=2", "COMMIT"}) {
    if (absl::Status s = Exec(db, sql); !s.ok()) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return absl::FailedPreconditionError(
          absl::StrCat("audit log '", path, "' is not usable: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

AuditLog::AuditLog(std::string path, sqlite3* writer, sqlite3* reader,
                   AuditLogOptions options)
    : path_(std::move(path)),
      options_(std::move(options)),
      writer_(writer),
      reader_(reader) {}

AuditLog::~AuditLog() {
  sqlite3_close(reader_);
  sqlite3_close(writer_);
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Open(
    const std::string& path, AuditLogOptions options) {
  if (!options.clock) options.clock = [] { return absl::Now(); };
  absl::StatusOr<sqlite3*> writer =
      OpenConnection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (!writer.ok()) return writer.status();
  if (absl::Status s = PrepareWriter(*writer, path); !s.ok()) {
    sqlite3_close(*writer);
    return s;
  }
  absl::StatusOr<sqlite3*> reader = OpenConnection(path, SQLITE_OPEN_READONLY);
  if (!reader.ok()) {
    sqlite3_close(*writer);
    return reader.status();
  }
  return std::unique_ptr<AuditLog>(
      new AuditLog(path, *writer, *reader, std::move(options)));
}

namespace {

// An event's columns, escaped, before it has a seq, a time and a hash; owns
// the bytes RowContent views.
struct PendingRow {
  explicit PendingRow(const AuditEvent& event)
      : kind(EscapeInvalidUtf8(event.kind())),
        actor(EscapeInvalidUtf8(event.actor())),
        printer(EscapeInvalidUtf8(event.printer())),
        target(EscapeInvalidUtf8(event.target())),
        session_id(EscapeInvalidUtf8(event.session_id())),
        outcome(EscapeInvalidUtf8(event.outcome())),
        detail(EscapeInvalidUtf8(event.detail())) {
    std::map<std::string, std::string> escaped;
    for (const auto& [key, value] : event.fields()) {
      escaped[EscapeInvalidUtf8(key)] = EscapeInvalidUtf8(value);
    }
    fields = EncodeFields(escaped);
  }
  RowContent View(int64_t seq, int64_t time_unix_micros) const {
    return RowContent{seq,    time_unix_micros, kind,    actor,  printer,
                      target, session_id,       outcome, detail, fields};
  }

  std::string kind, actor, printer, target, session_id, outcome, detail, fields;
};

}  // namespace

absl::StatusOr<int64_t> AuditLog::Append(const AuditEvent& event) {
  return AppendBatch({event});
}

absl::StatusOr<int64_t> AuditLog::AppendBatch(
    const std::vector<AuditEvent>& events) {
  if (events.empty())
    return absl::InvalidArgumentError("no audit events to append");
  std::vector<PendingRow> rows;
  rows.reserve(events.size());
  for (const AuditEvent& event : events) {
    if (event.kind().empty()) {
      return absl::InvalidArgumentError("audit event has no kind");
    }
    rows.emplace_back(event);
  }

  absl::MutexLock lock(&write_mu_);
  // IMMEDIATE takes the write lock before reading the tail, so the seq and
  // prev_hash read here are still the tail when these rows commit, even if
  // another process writes the same file. One transaction, so one fsync,
  // for the whole batch.
  if (absl::Status s = Exec(writer_, "BEGIN IMMEDIATE"); !s.ok()) return s;
  auto fail = [this](absl::Status status) {
    sqlite3_exec(writer_, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  };
  absl::StatusOr<Statement> tail = Prepare(
      writer_, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (!tail.ok()) return fail(tail.status());
  int rc = sqlite3_step(tail->get());
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    return fail(SqlError(writer_, "read tail"));
  }
  int64_t seq = rc == SQLITE_ROW ? sqlite3_column_int64(tail->get(), 0) + 1 : 1;
  // A tampered tail still chains: the new row commits to what is stored,
  // and Verify reports the damage where it is.
  std::string prev_hash =
      rc == SQLITE_ROW ? std::string(Column(tail->get(), 1)) : GenesisHash();
  tail->reset();  // finalize: the read is done
  // Rows this writer chains onto the verified head are verified by
  // construction, so the head moves with them and a restart has nothing to
  // walk. Onto any other tail (rows someone else appended, a head behind)
  // it stays where it is, and the next VerifySinceHead walks from it.
  const int64_t tail_seq = seq - 1;
  const std::string tail_hash = prev_hash;
  absl::StatusOr<std::optional<internal::Checkpoint>> checkpoint =
      internal::ReadCheckpoint(writer_);
  if (!checkpoint.ok()) return fail(checkpoint.status());
  const bool advance_head = checkpoint->has_value() &&
                            (*checkpoint)->head_seq == tail_seq &&
                            (*checkpoint)->head_hash == tail_hash;

  absl::StatusOr<Statement> insert =
      Prepare(writer_, absl::StrCat("INSERT INTO audit_log (", kRowColumns,
                                    ", prev_hash, hash) VALUES "
                                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  if (!insert.ok()) return fail(insert.status());
  sqlite3_stmt* s = insert->get();
  for (const PendingRow& pending : rows) {
    RowContent row = pending.View(seq++, absl::ToUnixMicros(options_.clock()));
    std::string hash = ChainHash(prev_hash, row);
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, row.seq);
    sqlite3_bind_int64(s, 2, row.time_unix_micros);
    int i = 3;
    for (absl::string_view text : {row.kind, row.actor, row.printer, row.target,
                                   row.session_id, row.outcome, row.detail}) {
      Bind(s, i++, text);
    }
    for (absl::string_view bytes :
         {row.fields, absl::string_view(prev_hash), absl::string_view(hash)}) {
      sqlite3_bind_blob(s, i++, bytes.empty() ? "" : bytes.data(),
                        static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    }
    if (sqlite3_step(s) != SQLITE_DONE)
      return fail(SqlError(writer_, "insert"));
    prev_hash = std::move(hash);
  }
  insert->reset();  // finalize before COMMIT
  if (advance_head) {
    if (absl::Status advanced = internal::AdvanceHead(
            writer_, tail_seq, tail_hash, seq - 1, prev_hash);
        !advanced.ok()) {
      return fail(advanced);
    }
  }
  if (sqlite3_exec(writer_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(SqlError(writer_, "commit"));
  }
  return seq - 1;
}

absl::StatusOr<std::vector<AuditEvent>> AuditLog::Query(
    const AuditQuery& query) {
  if (query.limit() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("audit query limit ", query.limit(), " is negative"));
  }
  int limit = query.limit() == 0 ? kDefaultQueryLimit
                                 : std::min(query.limit(), kMaxQueryLimit);
  // Only the filters in use appear in the SQL, so SQLite can pick an index.
  std::string sql =
      absl::StrCat("SELECT ", kRowColumns, " FROM audit_log WHERE seq > ?1");
  if (query.since_unix_micros() != 0) {
    absl::StrAppend(&sql, " AND time_unix_micros >= ?2");
  }
  if (!query.printer().empty()) absl::StrAppend(&sql, " AND printer = ?3");
  if (!query.user().empty()) absl::StrAppend(&sql, " AND actor = ?4");
  if (!query.kind().empty()) absl::StrAppend(&sql, " AND kind = ?5");
  if (query.before_seq() > 0) absl::StrAppend(&sql, " AND seq < ?7");
  if (!query.session_id().empty())
    absl::StrAppend(&sql, " AND session_id = ?8");
  absl::StrAppend(&sql,
                  query.newest_first() ? " ORDER BY seq DESC" : " ORDER BY seq",
                  " LIMIT ?6");

  absl::MutexLock lock(&read_mu_);
  absl::StatusOr<Statement> stmt = Prepare(reader_, sql);
  if (!stmt.ok()) return stmt.status();
  sqlite3_stmt* s = stmt->get();
  sqlite3_bind_int64(s, 1, query.after_seq());
  sqlite3_bind_int64(s, 2, query.since_unix_micros());
  Bind(s, 3, query.printer());
  Bind(s, 4, query.user());
  Bind(s, 5, query.kind());
  sqlite3_bind_int(s, 6, limit);
  sqlite3_bind_int64(s, 7, query.before_seq());
  Bind(s, 8, query.session_id());
  std::vector<AuditEvent> events;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    absl::StatusOr<AuditEvent> event = internal::EventAt(s);
    if (!event.ok()) return event.status();
    events.push_back(*std::move(event));
  }
  if (rc != SQLITE_DONE) return SqlError(reader_, "query");
  return events;
}

absl::StatusOr<std::string> AuditLog::HeadAnchor() {
  absl::MutexLock lock(&read_mu_);
  absl::StatusOr<Statement> stmt = Prepare(
      reader_, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (!stmt.ok()) return stmt.status();
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return FormatAnchor(0, GenesisHash());
  if (rc != SQLITE_ROW) return SqlError(reader_, "read head");
  return FormatAnchor(sqlite3_column_int64(stmt->get(), 0),
                      Column(stmt->get(), 1));
}

}  // namespace bowden::audit
