// AuditLog::Verify: walks the chain in one read snapshot on a connection of
// its own, so a long verification never blocks appends.

#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/chain.h"
#include "audit/checkpoint.h"
#include "audit/segments.h"
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
    case Problem::kSegmentMismatch:
      return "segment mismatch";
    case Problem::kPrunedEarly:
      return "pruned early";
    case Problem::kUnreadable:
      return "unreadable";
  }
  return "unknown";
}

VerifyResult AuditLog::Verify() const { return WalkAll(nullptr); }

VerifyResult AuditLog::Verify(absl::string_view expected_head) const {
  absl::StatusOr<Anchor> anchor = ParseAnchor(expected_head);
  if (!anchor.ok()) {
    return Broken(Problem::kBadAnchor, 0,
                  std::string(anchor.status().message()));
  }
  return WalkAll(&*anchor);
}

namespace {

using Connection = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

// A read-only connection of its own inside a read transaction, so the walk
// and any lookup see one snapshot and never block appends.
absl::StatusOr<Connection> OpenSnapshot(const std::string& path) {
  absl::StatusOr<sqlite3*> opened =
      internal::OpenConnection(path, SQLITE_OPEN_READONLY);
  if (!opened.ok()) return opened.status();
  Connection db(*opened, sqlite3_close);
  if (absl::Status s = internal::Exec(db.get(), "BEGIN"); !s.ok()) return s;
  return db;
}

VerifyResult Unreadable(sqlite3* db, int64_t seq, absl::string_view what) {
  return Broken(Problem::kUnreadable, seq,
                std::string(internal::SqlError(db, what).message()));
}

// Checks that row `head.seq` is still stored with hash `head.hash` and that
// its content still hashes to it.
VerifyResult CheckHead(sqlite3* db, const Anchor& head) {
  if (head.seq == 0) {
    if (head.hash == GenesisHash()) return VerifyResult();
    return Broken(Problem::kAnchorMismatch, 0,
                  "the stored verified head names row 0 with a hash other than "
                  "genesis: the checkpoint was edited");
  }
  absl::StatusOr<Statement> stmt = Prepare(
      db, absl::StrCat("SELECT ", kRowColumns,
                       ", prev_hash, hash FROM audit_log WHERE seq = ?"));
  if (!stmt.ok()) return Unreadable(db, head.seq, "select head");
  sqlite3_bind_int64(stmt->get(), 1, head.seq);
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) {
    return Broken(Problem::kTruncated, head.seq,
                  absl::StrCat("row ", head.seq,
                               ", the last verified row, is gone: rows were "
                               "removed"));
  }
  if (rc != SQLITE_ROW) return Unreadable(db, head.seq, "read head");
  absl::string_view prev_hash = Column(stmt->get(), 10);
  absl::string_view hash = Column(stmt->get(), 11);
  if (hash != head.hash) {
    return Broken(Problem::kAnchorMismatch, head.seq,
                  absl::StrCat("row ", head.seq,
                               " is not the row last verified (its stored hash "
                               "differs): the log or its checkpoint was "
                               "rewritten"));
  }
  if (ChainHash(prev_hash, RowAt(stmt->get())) != hash) {
    return Broken(Problem::kHashMismatch, head.seq,
                  absl::StrCat("row ", head.seq,
                               "'s content does not match its hash: the row "
                               "was edited"));
  }
  VerifyResult ok;
  ok.rows_checked = 1;
  return ok;
}

// After a walk that ended at row `walked_to`: each kept segment's last row
// must be stored with the hash its record names (its first row is then
// right too: the walk chained it onto the previous segment's last row,
// which the segment chain ties to this record's first_prev_hash).
VerifyResult CheckKeptSegments(
    sqlite3* db, const std::vector<internal::SegmentRecord>& segments,
    int64_t walked_to) {
  absl::StatusOr<Statement> stmt =
      Prepare(db, "SELECT hash FROM audit_log WHERE seq = ?");
  if (!stmt.ok()) return Unreadable(db, 0, "select segment end");
  for (const internal::SegmentRecord& segment : segments) {
    if (segment.pruned) continue;
    if (segment.last_seq > walked_to) {
      VerifyResult result = Broken(
          Problem::kTruncated, walked_to + 1,
          absl::StrCat("segment ", segment.id, " ends at row ",
                       segment.last_seq, " but the log ends at row ", walked_to,
                       ": rows from ", walked_to + 1, " were removed"));
      result.segment = segment.id;
      return result;
    }
    sqlite3_reset(stmt->get());
    sqlite3_bind_int64(stmt->get(), 1, segment.last_seq);
    int rc = sqlite3_step(stmt->get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return Unreadable(db, segment.last_seq, "read segment end");
    }
    if (rc == SQLITE_DONE || Column(stmt->get(), 0) != segment.last_hash) {
      VerifyResult result =
          Broken(Problem::kSegmentMismatch, segment.last_seq,
                 absl::StrCat("row ", segment.last_seq,
                              ", the last of segment ", segment.id,
                              ", is not the row its sealed record names: the "
                              "segment's rows were replaced"));
      result.segment = segment.id;
      return result;
    }
  }
  return VerifyResult();
}

}  // namespace

VerifyResult AuditLog::WalkSegments(sqlite3* db, const Anchor* from,
                                    const Anchor* anchor) const {
  absl::StatusOr<std::vector<internal::SegmentRecord>> segments =
      internal::ReadSegments(db);
  if (!segments.ok()) return Unreadable(db, 0, "read segments");
  // The clock is read only when retention matters, so a log without pruned
  // segments verifies without consuming a fake clock's readings.
  bool any_pruned = false;
  for (const internal::SegmentRecord& s : *segments) any_pruned |= s.pruned;
  internal::SegmentCheck check = internal::CheckSegments(
      *segments, options_.segments.retention,
      any_pruned ? options_.clock() : absl::InfinitePast());
  if (!check.ok) {
    VerifyResult result =
        Broken(check.malformed      ? Problem::kMalformedRow
               : check.pruned_early ? Problem::kPrunedEarly
                                    : Problem::kSegmentMismatch,
               0, check.detail);
    result.segment = check.segment;
    if (check.segment >= 1 &&
        check.segment <= static_cast<int64_t>(segments->size())) {
      result.seq = (*segments)[check.segment - 1].first_seq;
    }
    return result;
  }
  Anchor start{check.kept_from_seq, check.kept_from_hash};
  if (from != nullptr && from->seq > start.seq) start = *from;
  VerifyResult result = Walk(db, start, anchor);
  if (result.ok()) {
    absl::StatusOr<Anchor> tail = ParseAnchor(result.head);
    const int64_t walked_to = tail.ok() ? tail->seq : 0;
    VerifyResult kept = CheckKeptSegments(db, *segments, walked_to);
    if (!kept.ok()) {
      kept.rows_checked = result.rows_checked;
      kept.head = result.head;
      result = std::move(kept);
    }
  }
  result.segments = check.segments;
  result.pruned_segments = check.pruned;
  return result;
}

VerifyResult AuditLog::WalkAll(const Anchor* anchor) const {
  absl::StatusOr<Connection> db = OpenSnapshot(path_);
  if (!db.ok()) {
    return Broken(Problem::kUnreadable, 0, std::string(db.status().message()));
  }
  return WalkSegments(db->get(), nullptr, anchor);
}

VerifyResult AuditLog::VerifySinceHead() {
  absl::StatusOr<Connection> db = OpenSnapshot(path_);
  if (!db.ok()) {
    return Broken(Problem::kUnreadable, 0, std::string(db.status().message()));
  }
  absl::StatusOr<std::optional<internal::Checkpoint>> checkpoint =
      internal::ReadCheckpoint(db->get());
  if (!checkpoint.ok()) return Unreadable(db->get(), 0, "read checkpoint");
  Anchor from{0, GenesisHash()};
  if (checkpoint->has_value()) {
    from = Anchor{(*checkpoint)->head_seq, (*checkpoint)->head_hash};
  }
  // A head whose row retention deleted is vouched for no more: the walk
  // then starts where the segment records say the kept rows start.
  absl::StatusOr<int64_t> pruned_through = internal::PrunedThrough(db->get());
  if (!pruned_through.ok()) return Unreadable(db->get(), 0, "read segments");
  const bool head_pruned = from.seq <= *pruned_through;
  VerifyResult head;
  if (!head_pruned) head = CheckHead(db->get(), from);
  if (!head.ok()) return head;
  VerifyResult result =
      WalkSegments(db->get(), head_pruned ? nullptr : &from, nullptr);
  result.rows_checked += head.rows_checked;
  if (!result.ok() || !checkpoint->has_value()) return result;
  absl::StatusOr<Anchor> tail = ParseAnchor(result.head);
  if (!tail.ok() || tail->seq == from.seq) return result;
  absl::MutexLock lock(&write_mu_);
  if (absl::Status s = internal::AdvanceHead(writer_, (*checkpoint)->head_seq,
                                             (*checkpoint)->head_hash,
                                             tail->seq, tail->hash);
      !s.ok()) {
    // Only costs the next start a longer walk.
    result.detail =
        absl::StrCat("verified, but the head was not stored: ", s.message());
  }
  return result;
}

VerifyResult AuditLog::Walk(sqlite3* db, const Anchor& from,
                            const Anchor* anchor) const {
  absl::StatusOr<Statement> stmt =
      Prepare(db, absl::StrCat("SELECT ", kRowColumns,
                               ", prev_hash, hash FROM audit_log "
                               "WHERE seq >= ? ORDER BY seq"));
  if (!stmt.ok()) return Unreadable(db, from.seq + 1, "select");
  // A row with seq <= 0 must still be found (and refused) by a whole walk.
  sqlite3_bind_int64(
      stmt->get(), 1,
      from.seq == 0 ? std::numeric_limits<int64_t>::min() : from.seq + 1);
  std::string prev = from.hash;
  int64_t last_seq = from.seq;
  int64_t rows = 0;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    VerifyResult row = CheckRow(db, stmt->get(), last_seq + 1, prev);
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
  if (rc != SQLITE_DONE) return Unreadable(db, last_seq + 1, "walk");
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
