// AuditLog::Verify: walks the chain in one read snapshot on a connection of
// its own, so a long verification never blocks appends.

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/chain.h"
#include "audit/sql.h"

namespace bowden::audit {
namespace {

using Problem = VerifyResult::Problem;
using internal::Column;
using internal::kRowColumns;
using internal::Prepare;
using internal::RowAt;
using internal::Statement;

VerifyResult Broken(Problem problem, int64_t seq, std::string detail) {
  VerifyResult result;
  result.problem = problem;
  result.seq = seq;
  result.detail = std::move(detail);
  return result;
}

// The seq of a row after `seq` whose stored hash is `hash`, or 0. Runs only
// once a row is already known to be broken, so the full scan is affordable.
int64_t LaterRowWithHash(sqlite3* db, int64_t seq, absl::string_view hash) {
  absl::StatusOr<Statement> stmt = Prepare(
      db, "SELECT seq FROM audit_log WHERE hash = ? AND seq > ? LIMIT 1");
  if (!stmt.ok()) return 0;
  sqlite3_bind_blob(stmt->get(), 1, hash.data(), static_cast<int>(hash.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt->get(), 2, seq);
  if (sqlite3_step(stmt->get()) != SQLITE_ROW) return 0;
  return sqlite3_column_int64(stmt->get(), 0);
}

// Checks one row against the chain so far. `expected_seq` is the seq the row
// must have and `prev` the hash of the row before it.
VerifyResult CheckRow(sqlite3* db, sqlite3_stmt* stmt, int64_t expected_seq,
                      const std::string& prev) {
  RowContent row = RowAt(stmt);
  absl::string_view prev_hash = Column(stmt, 10);
  absl::string_view hash = Column(stmt, 11);
  if (row.seq > expected_seq) {
    return Broken(Problem::kSeqGap, expected_seq,
                  absl::StrCat("row ", expected_seq,
                               " is missing (the next "
                               "row is ",
                               row.seq, "): rows were deleted"));
  }
  if (row.seq < expected_seq) {  // only possible for seq <= 0 at the start
    return Broken(Problem::kMalformedRow, row.seq,
                  absl::StrCat("row ", row.seq, " precedes row 1"));
  }
  if (prev_hash.size() != kHashSize || hash.size() != kHashSize) {
    return Broken(Problem::kMalformedRow, row.seq,
                  absl::StrCat("row ", row.seq, " has a hash or prev_hash of ",
                               hash.size(), "/", prev_hash.size(),
                               " bytes instead of ", kHashSize));
  }
  if (prev_hash != prev) {
    if (int64_t later = LaterRowWithHash(db, row.seq, prev_hash); later > 0) {
      return Broken(
          Problem::kReordered, row.seq,
          absl::StrCat("row ", row.seq, " follows the row now stored as ",
                       later, ": rows were reordered"));
    }
    return Broken(
        Problem::kPrevHashMismatch, row.seq,
        absl::StrCat("row ", row.seq,
                     "'s prev_hash is not the hash "
                     "of row ",
                     row.seq - 1, ": a row before it was replaced or removed"));
  }
  if (ChainHash(prev_hash, row) != hash) {
    return Broken(Problem::kHashMismatch, row.seq,
                  absl::StrCat("row ", row.seq,
                               "'s content does not match its "
                               "hash: the row was edited"));
  }
  return VerifyResult();
}

}  // namespace

absl::string_view ProblemName(Problem problem) {
  switch (problem) {
    case Problem::kNone:
      return "ok";
    case Problem::kSeqGap:
      return "seq gap";
    case Problem::kReordered:
      return "reordered";
    case Problem::kPrevHashMismatch:
      return "prev_hash mismatch";
    case Problem::kHashMismatch:
      return "hash mismatch";
    case Problem::kMalformedRow:
      return "malformed row";
    case Problem::kTruncated:
      return "truncated";
    case Problem::kAnchorMismatch:
      return "anchor mismatch";
    case Problem::kBadAnchor:
      return "bad anchor";
    case Problem::kUnreadable:
      return "unreadable";
  }
  return "unknown";
}

VerifyResult AuditLog::Verify() const { return Walk(nullptr); }

VerifyResult AuditLog::Verify(absl::string_view expected_head) const {
  absl::StatusOr<Anchor> anchor = ParseAnchor(expected_head);
  if (!anchor.ok()) {
    return Broken(Problem::kBadAnchor, 0,
                  std::string(anchor.status().message()));
  }
  return Walk(&*anchor);
}

VerifyResult AuditLog::Walk(const Anchor* anchor) const {
  absl::StatusOr<sqlite3*> opened =
      internal::OpenConnection(path_, SQLITE_OPEN_READONLY);
  if (!opened.ok()) {
    return Broken(Problem::kUnreadable, 0,
                  std::string(opened.status().message()));
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(*opened, sqlite3_close);
  auto unreadable = [&db](int64_t seq, absl::string_view what) {
    return Broken(Problem::kUnreadable, seq,
                  std::string(internal::SqlError(db.get(), what).message()));
  };
  // One transaction: the walk and any lookup see the same snapshot.
  if (!internal::Exec(db.get(), "BEGIN").ok()) return unreadable(0, "begin");
  absl::StatusOr<Statement> stmt =
      Prepare(db.get(), absl::StrCat("SELECT ", kRowColumns,
                                     ", prev_hash, hash FROM audit_log "
                                     "ORDER BY seq"));
  if (!stmt.ok()) return unreadable(0, "select");
  std::string prev = GenesisHash();
  int64_t last_seq = 0;
  int64_t rows = 0;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    VerifyResult row = CheckRow(db.get(), stmt->get(), last_seq + 1, prev);
    if (!row.ok()) {
      row.rows_checked = rows;
      row.head = FormatAnchor(last_seq, prev);
      return row;
    }
    ++rows;
    last_seq = sqlite3_column_int64(stmt->get(), 0);
    prev = std::string(Column(stmt->get(), 11));
    if (anchor != nullptr && anchor->seq == last_seq && anchor->hash != prev) {
      VerifyResult result = Broken(
          Problem::kAnchorMismatch, last_seq,
          absl::StrCat("row ", last_seq,
                       " is not the row the anchor names: "
                       "the log was rewritten from there or is another log"));
      result.rows_checked = rows;
      result.head = FormatAnchor(last_seq, prev);
      return result;
    }
  }
  if (rc != SQLITE_DONE) return unreadable(last_seq + 1, "walk");
  VerifyResult result;
  result.rows_checked = rows;
  result.head = FormatAnchor(last_seq, prev);
  if (anchor != nullptr && anchor->seq > last_seq) {
    result.problem = Problem::kTruncated;
    result.seq = last_seq + 1;
    result.detail = absl::StrCat("the log ends at row ", last_seq,
                                 " but the anchor names row ", anchor->seq,
                                 ": rows from ", last_seq + 1, " were removed");
  } else if (anchor != nullptr && anchor->seq == 0 &&
             anchor->hash != GenesisHash()) {
    result.problem = Problem::kAnchorMismatch;
    result.detail = "the anchor names row 0 with a hash other than genesis";
  }
  return result;
}

}  // namespace bowden::audit
