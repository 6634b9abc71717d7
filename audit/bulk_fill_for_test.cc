#include "audit/bulk_fill_for_test.h"

#include <sqlite3.h>

#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "audit/chain.h"
#include "audit/checkpoint.h"
#include "audit/sql.h"

namespace bowden::audit {

using internal::Column;
using internal::Exec;
using internal::kRowColumns;
using internal::Prepare;
using internal::Statement;

absl::Status BulkFillForTest(const std::string& path, int64_t rows,
                             BulkFillOptions options) {
  absl::StatusOr<sqlite3*> opened =
      internal::OpenConnection(path, SQLITE_OPEN_READWRITE);
  if (!opened.ok()) return opened.status();
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(*opened, sqlite3_close);
  // One transaction and no fsync: this is test data.
  if (absl::Status s = Exec(db.get(), "PRAGMA synchronous=OFF"); !s.ok())
    return s;
  // The whole transaction in memory until commit: spilling pages to the WAL
  // midway makes the fill several times slower.
  if (absl::Status s = Exec(db.get(), "PRAGMA cache_size=-1048576"); !s.ok())
    return s;
  if (absl::Status s = Exec(db.get(), "BEGIN IMMEDIATE"); !s.ok()) return s;
  auto fail = [&db](absl::Status status) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  };
  int64_t seq = 0;
  std::string prev = GenesisHash();
  {
    absl::StatusOr<Statement> tail = Prepare(
        db.get(), "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    if (!tail.ok()) return fail(tail.status());
    if (sqlite3_step(tail->get()) == SQLITE_ROW) {
      seq = sqlite3_column_int64(tail->get(), 0);
      prev = std::string(Column(tail->get(), 1));
    }
  }
  const int64_t tail_seq = seq;
  const std::string tail_hash = prev;
  absl::StatusOr<Statement> insert =
      Prepare(db.get(), absl::StrCat("INSERT INTO audit_log (", kRowColumns,
                                     ", prev_hash, hash) VALUES "
                                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  if (!insert.ok()) return fail(insert.status());
  sqlite3_stmt* s = insert->get();
  for (int64_t i = 0; i < rows; ++i) {
    ++seq;
    const std::string session = absl::StrCat("s", seq / 1000);
    const std::string fields = EncodeFields(std::map<std::string, std::string>{
        {"method", "GET"},
        {"path", absl::StrCat("/static/webassets/packed_", seq % 97, ".js")},
        {"rule", "viewer.read"},
        {"status", "200"},
        {"verdict", "allow"}});
    RowContent row{seq,
                   options.first_time_unix_micros + seq,
                   "http.request",
                   "alice",
                   "prusa-01",
                   "octoprint",
                   session,
                   "ok",
                   "",
                   fields};
    const std::string hash = ChainHash(prev, row);
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, row.seq);
    sqlite3_bind_int64(s, 2, row.time_unix_micros);
    int column = 3;
    for (absl::string_view text : {row.kind, row.actor, row.printer, row.target,
                                   row.session_id, row.outcome, row.detail}) {
      sqlite3_bind_text(s, column++, text.data(), static_cast<int>(text.size()),
                        SQLITE_TRANSIENT);
    }
    for (absl::string_view bytes :
         {row.fields, absl::string_view(prev), absl::string_view(hash)}) {
      sqlite3_bind_blob(s, column++, bytes.data(),
                        static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    }
    if (sqlite3_step(s) != SQLITE_DONE) {
      return fail(internal::SqlError(db.get(), "bulk insert"));
    }
    prev = hash;
  }
  insert->reset();
  if (options.advance_head) {
    if (absl::Status status =
            internal::AdvanceHead(db.get(), tail_seq, tail_hash, seq, prev);
        !status.ok()) {
      return fail(status);
    }
  }
  return Exec(db.get(), "COMMIT");
}

}  // namespace bowden::audit
