#ifndef BOWDEN_AUDIT_SEGMENTS_H_
#define BOWDEN_AUDIT_SEGMENTS_H_

// The audit_segments table (in the log's own file): sealed runs of rows whose
// heads form a chain of their own, so that retention can delete the rows of
// whole old segments while Verify still proves nothing else was removed or
// changed. Internal to //audit; audit/README.md specifies the format.

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "audit/chain.h"

namespace bowden::audit::internal {

// Prefix of a segment's hashed bytes (a compatibility promise, like
// kCanonicalTag).
inline constexpr absl::string_view kSegmentTag = "BOWDEN-AUDIT-SEGMENT-1";

struct SegmentRecord {
  int64_t id = 0;  // 1, 2, 3, ... in seq order
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int64_t rows = 0;             // last_seq - first_seq + 1
  std::string first_prev_hash;  // prev_hash of row first_seq
  std::string last_hash;        // hash of row last_seq
  int64_t sealed_at_unix_micros = 0;
  std::string segment_hash;  // SegmentHash(previous segment_hash, this)
  bool pruned = false;       // its rows are deleted (or being deleted)
};

// SHA-256(prev_segment_hash || kSegmentTag || be64(id) || be64(first_seq)
//         || be64(last_seq) || be64(rows) || first_prev_hash || last_hash
//         || be64(sealed_at_unix_micros)); the first segment's
// prev_segment_hash is GenesisHash(). `pruned` is not hashed: it is the one
// column retention changes.
std::string SegmentHash(absl::string_view prev_segment_hash,
                        const SegmentRecord& segment);

// Every segment record in id order (a few hundred a year).
absl::StatusOr<std::vector<SegmentRecord>> ReadSegments(sqlite3* db);

// What CheckSegments found: the first broken record (id, why), or where the
// kept rows start.
struct SegmentCheck {
  bool ok = true;
  bool malformed = false;     // a hash column has the wrong size
  bool pruned_early = false;  // pruned although retention does not allow it
  int64_t segment = 0;        // the record that is wrong
  std::string detail;
  int64_t segments = 0;
  int64_t pruned = 0;
  // The kept rows start after row kept_from_seq, whose hash must be
  // kept_from_hash (0 and genesis when nothing was pruned).
  int64_t kept_from_seq = 0;
  std::string kept_from_hash;
};

// Checks the records form an unbroken chain from seq 1 (ids consecutive,
// seqs contiguous, each first_prev_hash the previous last_hash, each
// segment_hash recomputed), that pruned segments are the oldest ones, and
// that each was allowed to be pruned: `retention` after it was sealed is
// before `now` (InfiniteDuration: nothing may be pruned).
SegmentCheck CheckSegments(const std::vector<SegmentRecord>& segments,
                           absl::Duration retention, absl::Time now);

// Seals the open segment (the rows after the last record) while it holds
// `max_rows` rows (0: no bound), into segments of exactly max_rows, and then
// if its first row is `max_age` old or more (ZeroDuration: no bound).
// Runs inside the caller's write transaction. Returns how many it sealed.
absl::StatusOr<int64_t> SealDueSegments(sqlite3* db, int64_t max_rows,
                                        absl::Duration max_age, absl::Time now);

// Marks pruned the oldest sealed segments sealed `retention` or longer ago,
// always keeping the newest sealed one (so the log never loses its tail).
// Inside the caller's write transaction. Returns how many it marked.
absl::StatusOr<int64_t> MarkPrunable(sqlite3* db, absl::Duration retention,
                                     absl::Time now);

// The last seq of the newest pruned segment (0 if none): rows up to it may
// be gone.
absl::StatusOr<int64_t> PrunedThrough(sqlite3* db);

// Deletes up to `max_rows` of the oldest rows that belong to pruned
// segments (the DELETE trigger refuses any other). Inside the caller's
// write transaction. Sets *more if rows of pruned segments remain.
absl::StatusOr<int64_t> DeletePrunedRows(sqlite3* db, int64_t max_rows,
                                         bool* more);

}  // namespace bowden::audit::internal

#endif  // BOWDEN_AUDIT_SEGMENTS_H_
