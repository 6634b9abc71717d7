#include "audit/segments.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "audit/sql.h"

namespace bowden::audit::internal {
namespace {

void BindBlob(sqlite3_stmt* stmt, int i, absl::string_view bytes) {
  sqlite3_bind_blob(stmt, i, bytes.empty() ? "" : bytes.data(),
                    static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
}

// The (seq, hash) of row `seq`, or NotFound.
absl::StatusOr<std::pair<std::string, std::string>> RowHashes(sqlite3* db,
                                                              int64_t seq) {
  absl::StatusOr<Statement> stmt =
      Prepare(db, "SELECT prev_hash, hash FROM audit_log WHERE seq = ?");
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_int64(stmt->get(), 1, seq);
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) {
    return absl::NotFoundError(absl::StrCat(
        "audit log: row ", seq,
        " is missing, so its segment cannot be sealed; run `bowden audit "
        "verify`"));
  }
  if (rc != SQLITE_ROW) return SqlError(db, "read row hashes");
  return std::make_pair(std::string(Column(stmt->get(), 0)),
                        std::string(Column(stmt->get(), 1)));
}

absl::StatusOr<int64_t> QueryInt64(sqlite3* db, const std::string& sql,
                                   int64_t bind = 0) {
  absl::StatusOr<Statement> stmt = Prepare(db, sql);
  if (!stmt.ok()) return stmt.status();
  if (sql.find('?') != std::string::npos) {
    sqlite3_bind_int64(stmt->get(), 1, bind);
  }
  int rc = sqlite3_step(stmt->get());
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return SqlError(db, sql.substr(0, 40));
  return sqlite3_column_int64(stmt->get(), 0);
}

absl::Status InsertSegment(sqlite3* db, const SegmentRecord& s) {
  absl::StatusOr<Statement> stmt = Prepare(
      db,
      "INSERT INTO audit_segments (id, first_seq, last_seq, rows, "
      "first_prev_hash, last_hash, sealed_at_unix_micros, segment_hash, "
      "pruned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)");
  if (!stmt.ok()) return stmt.status();
  sqlite3_stmt* st = stmt->get();
  sqlite3_bind_int64(st, 1, s.id);
  sqlite3_bind_int64(st, 2, s.first_seq);
  sqlite3_bind_int64(st, 3, s.last_seq);
  sqlite3_bind_int64(st, 4, s.rows);
  BindBlob(st, 5, s.first_prev_hash);
  BindBlob(st, 6, s.last_hash);
  sqlite3_bind_int64(st, 7, s.sealed_at_unix_micros);
  BindBlob(st, 8, s.segment_hash);
  if (sqlite3_step(st) != SQLITE_DONE) return SqlError(db, "seal segment");
  return absl::OkStatus();
}

SegmentCheck Bad(SegmentCheck check, int64_t id, std::string detail) {
  check.ok = false;
  check.segment = id;
  check.detail = std::move(detail);
  return check;
}

}  // namespace

std::string SegmentHash(absl::string_view prev_segment_hash,
                        const SegmentRecord& s) {
  std::string bytes(kSegmentTag);
  AppendBe64(s.id, &bytes);
  AppendBe64(s.first_seq, &bytes);
  AppendBe64(s.last_seq, &bytes);
  AppendBe64(s.rows, &bytes);
  bytes.append(s.first_prev_hash);
  bytes.append(s.last_hash);
  AppendBe64(s.sealed_at_unix_micros, &bytes);
  return Sha256Of(prev_segment_hash, bytes);
}

absl::StatusOr<std::vector<SegmentRecord>> ReadSegments(sqlite3* db) {
  absl::StatusOr<Statement> stmt = Prepare(
      db,
      "SELECT id, first_seq, last_seq, rows, first_prev_hash, last_hash, "
      "sealed_at_unix_micros, segment_hash, pruned FROM audit_segments "
      "ORDER BY id");
  if (!stmt.ok()) return stmt.status();
  std::vector<SegmentRecord> segments;
  int rc;
  while ((rc = sqlite3_step(stmt->get())) == SQLITE_ROW) {
    sqlite3_stmt* st = stmt->get();
    SegmentRecord s;
    s.id = sqlite3_column_int64(st, 0);
    s.first_seq = sqlite3_column_int64(st, 1);
    s.last_seq = sqlite3_column_int64(st, 2);
    s.rows = sqlite3_column_int64(st, 3);
    s.first_prev_hash = std::string(Column(st, 4));
    s.last_hash = std::string(Column(st, 5));
    s.sealed_at_unix_micros = sqlite3_column_int64(st, 6);
    s.segment_hash = std::string(Column(st, 7));
    s.pruned = sqlite3_column_int64(st, 8) != 0;
    segments.push_back(std::move(s));
  }
  if (rc != SQLITE_DONE) return SqlError(db, "read segments");
  return segments;
}

SegmentCheck CheckSegments(const std::vector<SegmentRecord>& segments,
                           absl::Duration retention, absl::Time now) {
  SegmentCheck check;
  check.kept_from_hash = GenesisHash();
  std::string prev_segment_hash = GenesisHash();
  int64_t prev_last_seq = 0;
  std::string prev_last_hash = GenesisHash();
  bool seen_kept = false;
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentRecord& s = segments[i];
    const int64_t want_id = static_cast<int64_t>(i) + 1;
    if (s.id != want_id) {
      return Bad(
          check, want_id,
          absl::StrCat("segment record ", want_id, " is missing (the next is ",
                       s.id, "): a segment record was removed"));
    }
    if (s.first_prev_hash.size() != kHashSize ||
        s.last_hash.size() != kHashSize || s.segment_hash.size() != kHashSize) {
      check.malformed = true;
      return Bad(check, s.id,
                 absl::StrCat("segment ", s.id,
                              " has a hash column of the wrong size"));
    }
    if (s.first_seq != prev_last_seq + 1 || s.last_seq < s.first_seq ||
        s.rows != s.last_seq - s.first_seq + 1) {
      return Bad(
          check, s.id,
          absl::StrCat("segment ", s.id, " covers rows ", s.first_seq, "-",
                       s.last_seq, " (", s.rows,
                       " rows) but should start at row ", prev_last_seq + 1,
                       ": segment records were removed or edited"));
    }
    if (s.first_prev_hash != prev_last_hash) {
      return Bad(
          check, s.id,
          absl::StrCat("segment ", s.id, " does not start where segment ",
                       s.id - 1, " ends: a segment record was edited"));
    }
    if (SegmentHash(prev_segment_hash, s) != s.segment_hash) {
      return Bad(check, s.id,
                 absl::StrCat("segment ", s.id,
                              "'s record does not match its hash: it was "
                              "edited"));
    }
    if (s.pruned) {
      if (seen_kept) {
        return Bad(check, s.id,
                   absl::StrCat("segment ", s.id,
                                " is pruned but an older segment is kept: "
                                "retention only removes the oldest"));
      }
      const absl::Time sealed = absl::FromUnixMicros(s.sealed_at_unix_micros);
      if (retention == absl::InfiniteDuration() || sealed + retention > now) {
        check.pruned_early = true;
        return Bad(
            check, s.id,
            retention == absl::InfiniteDuration()
                ? absl::StrCat("segment ", s.id,
                               " was pruned (its rows deleted), but no "
                               "retention is set")
                : absl::StrCat("segment ", s.id, " was pruned, but it was ",
                               "sealed at ", absl::FormatTime(sealed),
                               ", less than the retention of ",
                               absl::FormatDuration(retention), " ago"));
      }
      ++check.pruned;
      check.kept_from_seq = s.last_seq;
      check.kept_from_hash = s.last_hash;
    } else {
      seen_kept = true;
    }
    prev_segment_hash = s.segment_hash;
    prev_last_seq = s.last_seq;
    prev_last_hash = s.last_hash;
    ++check.segments;
  }
  return check;
}

absl::StatusOr<int64_t> SealDueSegments(sqlite3* db, int64_t max_rows,
                                        absl::Duration max_age,
                                        absl::Time now) {
  int64_t sealed = 0;
  while (true) {
    absl::StatusOr<Statement> last =
        Prepare(db,
                "SELECT id, last_seq, segment_hash FROM audit_segments "
                "ORDER BY id DESC LIMIT 1");
    if (!last.ok()) return last.status();
    int rc = sqlite3_step(last->get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return SqlError(db, "read last segment");
    }
    SegmentRecord next;
    std::string prev_segment_hash = GenesisHash();
    next.id = 1;
    next.first_seq = 1;
    if (rc == SQLITE_ROW) {
      next.id = sqlite3_column_int64(last->get(), 0) + 1;
      next.first_seq = sqlite3_column_int64(last->get(), 1) + 1;
      prev_segment_hash = std::string(Column(last->get(), 2));
    }
    last->reset();
    absl::StatusOr<int64_t> tail =
        QueryInt64(db, "SELECT MAX(seq) FROM audit_log");
    if (!tail.ok()) return tail.status();
    if (*tail < next.first_seq) return sealed;  // the open segment is empty
    const int64_t open_rows = *tail - next.first_seq + 1;
    if (max_rows > 0 && open_rows >= max_rows) {
      next.last_seq = next.first_seq + max_rows - 1;
    } else if (max_age > absl::ZeroDuration()) {
      absl::StatusOr<int64_t> first_time =
          QueryInt64(db, "SELECT time_unix_micros FROM audit_log WHERE seq = ?",
                     next.first_seq);
      if (!first_time.ok()) return first_time.status();
      if (absl::FromUnixMicros(*first_time) + max_age > now) return sealed;
      next.last_seq = *tail;
    } else {
      return sealed;
    }
    absl::StatusOr<std::pair<std::string, std::string>> first =
        RowHashes(db, next.first_seq);
    if (!first.ok()) return first.status();
    absl::StatusOr<std::pair<std::string, std::string>> end =
        RowHashes(db, next.last_seq);
    if (!end.ok()) return end.status();
    next.rows = next.last_seq - next.first_seq + 1;
    next.first_prev_hash = first->first;
    next.last_hash = end->second;
    next.sealed_at_unix_micros = absl::ToUnixMicros(now);
    next.segment_hash = SegmentHash(prev_segment_hash, next);
    if (absl::Status s = InsertSegment(db, next); !s.ok()) return s;
    ++sealed;
  }
}

absl::StatusOr<int64_t> MarkPrunable(sqlite3* db, absl::Duration retention,
                                     absl::Time now) {
  if (retention == absl::InfiniteDuration()) return 0;
  // Oldest first, never the newest sealed segment, and stop at the first
  // one too young: pruned segments stay the oldest ones.
  absl::StatusOr<Statement> stmt = Prepare(
      db,
      "UPDATE audit_segments SET pruned = 1 WHERE pruned = 0 "
      "AND id < (SELECT MAX(id) FROM audit_segments) "
      "AND id < COALESCE((SELECT MIN(id) FROM audit_segments WHERE pruned = 0 "
      "AND sealed_at_unix_micros > ?1), 1 << 62)");
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_int64(
      stmt->get(), 1,
      absl::ToUnixMicros(now) - absl::ToInt64Microseconds(retention));
  if (sqlite3_step(stmt->get()) != SQLITE_DONE) {
    return SqlError(db, "mark segments pruned");
  }
  return sqlite3_changes(db);
}

absl::StatusOr<int64_t> PrunedThrough(sqlite3* db) {
  return QueryInt64(
      db,
      "SELECT COALESCE(MAX(last_seq), 0) FROM audit_segments WHERE pruned = 1");
}

absl::StatusOr<int64_t> DeletePrunedRows(sqlite3* db, int64_t max_rows,
                                         bool* more) {
  *more = false;
  absl::StatusOr<int64_t> end = PrunedThrough(db);
  if (!end.ok()) return end.status();
  absl::StatusOr<int64_t> oldest =
      QueryInt64(db, "SELECT COALESCE(MIN(seq), 0) FROM audit_log");
  if (!oldest.ok()) return oldest.status();
  if (*end == 0 || *oldest == 0 || *oldest > *end) return 0;
  const int64_t stop = std::min(*end, *oldest + max_rows - 1);
  absl::StatusOr<Statement> stmt =
      Prepare(db, "DELETE FROM audit_log WHERE seq >= ? AND seq <= ?");
  if (!stmt.ok()) return stmt.status();
  sqlite3_bind_int64(stmt->get(), 1, *oldest);
  sqlite3_bind_int64(stmt->get(), 2, stop);
  if (sqlite3_step(stmt->get()) != SQLITE_DONE) {
    return SqlError(db, "delete pruned rows");
  }
  *more = stop < *end;
  return sqlite3_changes(db);
}

}  // namespace bowden::audit::internal
