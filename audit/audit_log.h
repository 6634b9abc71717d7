#ifndef BOWDEN_AUDIT_AUDIT_LOG_H_
#define BOWDEN_AUDIT_AUDIT_LOG_H_

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/audit.pb.h"

namespace bowden::audit {

struct Anchor;  // audit/chain.h

// What Verify() found. `seq` is the first row that is wrong, or for a gap or
// a truncation the first seq that is missing.
struct VerifyResult {
  enum class Problem {
    kNone,              // the chain is intact (and contains the anchor)
    kSeqGap,            // `seq` is missing: a row was deleted
    kReordered,         // row `seq` claims to follow a row stored after it
    kPrevHashMismatch,  // row `seq`'s prev_hash is not the previous row's hash
    kHashMismatch,      // row `seq`'s content does not match its hash: edited
    kMalformedRow,      // row `seq` has a NULL or wrongly sized column
    kTruncated,         // the anchor's row and those after `seq`-1 are gone
    kAnchorMismatch,    // row `seq` exists but is not the anchored row
    kBadAnchor,         // the expected head could not be parsed
    kSegmentMismatch,   // segment `segment`'s record is missing, edited, or
                        // does not match its rows
    kPrunedEarly,       // segment `segment`'s rows were deleted before the
                        // retention allows (or with no retention set)
    kUnreadable,        // the database could not be read (see detail)
  };
  Problem problem = Problem::kNone;
  int64_t seq = 0;
  int64_t rows_checked = 0;
  int64_t segment = 0;          // the segment record that is wrong, if any
  int64_t segments = 0;         // sealed segment records checked
  int64_t pruned_segments = 0;  // of them, how many had their rows deleted
  std::string head;    // anchor of the last row checked before any problem
  std::string detail;  // one line for humans

  bool ok() const { return problem == Problem::kNone; }
};
absl::string_view ProblemName(VerifyResult::Problem problem);

// When the open segment is sealed and when sealed segments' rows go.
struct SegmentPolicy {
  // Seal the open segment when it holds this many rows (0: no size bound).
  int64_t max_rows = 1000000;
  // ... or when its first row is this old (ZeroDuration: no age bound).
  absl::Duration max_age = absl::Hours(24);
  // Delete the rows of sealed segments sealed this long ago (their records
  // stay); InfiniteDuration keeps everything. The newest sealed segment is
  // always kept.
  absl::Duration retention = absl::InfiniteDuration();
};

struct AuditLogOptions {
  // Source of event times; tests inject a fake. Defaults to absl::Now.
  // Called with the append lock held, and by Verify on its caller's thread
  // (for retention), so a fake must tolerate that.
  std::function<absl::Time()> clock;
  SegmentPolicy segments;
};

// What one MaintainSegments call did.
struct MaintenanceResult {
  int64_t sealed = 0;        // segments sealed
  int64_t pruned = 0;        // segments newly marked pruned
  int64_t rows_deleted = 0;  // rows of pruned segments deleted
  bool more = false;         // rows of pruned segments remain: call again
};

// The relay's tamper-evident audit log: one append-only SQLite table (WAL,
// synchronous=FULL) whose rows are hash-chained (audit/chain.h). Append()
// returns only after the event's transaction is durably committed, so an
// acknowledged event survives kill -9 and power loss.
//
// Integrity comes from the chain, not from SQLite: triggers refuse UPDATE,
// DELETE and out-of-sequence INSERT, but anyone holding the file can drop
// them. Verify() then finds any edited, deleted or reordered row. Cutting
// rows off the end leaves a valid shorter chain; only an anchor saved
// earlier (HeadAnchor()) reveals that, via Verify(expected_head). So can a
// rewrite of the whole chain by someone who recomputes every hash.
//
// Thread-safe. Appends are serialised; Query and HeadAnchor use a second
// connection and Verify its own, so neither blocks appends.
class AuditLog {
 public:
  // Opens or creates the log at `path`. A log whose chain is broken still
  // opens (the relay keeps serving and keeps appending); Verify reports it.
  // DataLossError if the file is not an SQLite database or is corrupt;
  // FailedPreconditionError if it cannot be opened or used as an audit log.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Open(
      const std::string& path, AuditLogOptions options = {});
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Assigns the next seq and the clock's time, appends and commits.
  // InvalidArgumentError if event.kind is empty. If SQLite fails the event
  // is not acknowledged: UnavailableError if the file stays locked by another
  // process, ResourceExhaustedError if the disk is full, else InternalError.
  // Invalid UTF-8 is escaped, not refused, so an attacker's bytes cannot keep
  // their request out of the log.
  absl::StatusOr<int64_t> Append(const bowden::v1::AuditEvent& event)
      ABSL_LOCKS_EXCLUDED(write_mu_);
  // Appends `events` in order in one transaction (one fsync for all): all of
  // them commit or none does. Returns the last one's seq. Errors as for
  // Append; InvalidArgumentError, and nothing written, if any has no kind.
  absl::StatusOr<int64_t> AppendBatch(
      const std::vector<bowden::v1::AuditEvent>& events)
      ABSL_LOCKS_EXCLUDED(write_mu_);

  // Events matching `query`, oldest or newest first (see AuditQuery).
  // DataLossError if a matching row's fields blob is corrupt.
  absl::StatusOr<std::vector<bowden::v1::AuditEvent>> Query(
      const bowden::v1::AuditQuery& query) ABSL_LOCKS_EXCLUDED(read_mu_);

  // The anchor ("SEQ:HEX", chain.h) of the last row. An operator who stores
  // it elsewhere can later prove that no row up to it was cut off.
  absl::StatusOr<std::string> HeadAnchor() ABSL_LOCKS_EXCLUDED(read_mu_);

  // Walks the whole chain from seq 1 in one read snapshot.
  VerifyResult Verify() const;
  // As Verify(), and also requires the row named by `expected_head` (an
  // earlier HeadAnchor()) to be present with that exact hash.
  VerifyResult Verify(absl::string_view expected_head) const;

  // The check a start can afford, whatever the log's size: the stored
  // verified head (the last row known to chain correctly, kept in the same
  // file and moved by each append that chains onto it) must still be there
  // with its hash and still hash to it; then only the rows after it are
  // walked. If all is well the head moves to the last row. rows_checked
  // counts the head row and the rows after it. What it cannot see: an edit
  // of a row before the head, made with the file in hand; Verify() does.
  // Without a stored head (deleted), walks the whole chain.
  VerifyResult VerifySinceHead() ABSL_LOCKS_EXCLUDED(write_mu_);

  // Seals the open segment if it reached the policy's size or age, marks
  // the segments retention allows as pruned, and deletes at most
  // `max_delete_rows` of their rows, each step its own short transaction
  // so appends wait at most for one chunk. Call periodically on the writer
  // thread (the relay's AuditSink does, once a second) and again while
  // `more`. Errors as for Append.
  absl::StatusOr<MaintenanceResult> MaintainSegments(
      int64_t max_delete_rows = 10000) ABSL_LOCKS_EXCLUDED(write_mu_);

  // Sessions left open when the writer stopped: session.open rows after the
  // last call's end that have no session.close (both found by partial
  // indexes, so the cost grows with the sessions opened since, not with the
  // log). For each, appends the session.close `make_close` builds from the
  // open row, then records how far it looked. Call at start, before any new
  // session can open. Returns how many sessions it closed.
  absl::StatusOr<int64_t> CloseDanglingSessions(
      const std::function<bowden::v1::AuditEvent(
          const bowden::v1::AuditEvent& open)>& make_close)
      ABSL_LOCKS_EXCLUDED(write_mu_, read_mu_);

 private:
  AuditLog(std::string path, sqlite3* writer, sqlite3* reader,
           AuditLogOptions options);
  // Walks the rows after `from` (seq 0: the whole chain) in `db`, inside a
  // read transaction the caller holds.
  VerifyResult Walk(sqlite3* db, const Anchor& from,
                    const Anchor* anchor) const;
  // Walk from where the segment records say the kept rows start (or from
  // `from`, if later), then checks each kept segment against its rows.
  VerifyResult WalkSegments(sqlite3* db, const Anchor* from,
                            const Anchor* anchor) const;
  VerifyResult WalkAll(const Anchor* anchor) const;

  const std::string path_;
  const AuditLogOptions options_;
  absl::Mutex write_mu_;
  sqlite3* const writer_ ABSL_PT_GUARDED_BY(write_mu_);
  absl::Mutex read_mu_;
  sqlite3* const reader_ ABSL_PT_GUARDED_BY(read_mu_);
};

}  // namespace bowden::audit

#endif  // BOWDEN_AUDIT_AUDIT_LOG_H_
