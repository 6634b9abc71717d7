#ifndef BOWDEN_RELAY_AUDIT_SINK_H_
#define BOWDEN_RELAY_AUDIT_SINK_H_

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "proto/audit.pb.h"

namespace bowden::relay {

// Hands audit events to one writer thread, so gRPC reactions never wait for
// the log's fsync. The same thread seals segments and applies retention
// (AuditLog::MaintainSegments) once a second, in chunks between batches. An
// event is durable once the writer has committed it (normally within a
// millisecond or two); a relay killed before that loses only events still
// queued, and the chain stays intact either way.
//
// While another connection holds audit.db's write lock (an operator's
// `sqlite3 audit.db`, a backup tool), the writer keeps trying the same batch
// (each try waits SQLite's 5 s busy timeout) and logs that it waits, rather
// than dropping events: a dropped event leaves no gap in the chain, so
// nothing would ever show it is missing. Only once StopWaitingForLocks() was
// called (the relay is stopping) does a locked database make it give up,
// logging each event it could not write.
//
// Meanwhile Dial opens no new sessions once `backlog_limit` events wait
// (AdmitsNewSessions()), so that what can still queue is bounded by the live
// sessions' closes, one batch per attached agent and the rate-limited
// refusals. Record() blocks only at 100,000 queued events, a bound on memory
// of last resort: blocking its caller, the relay's one callback thread,
// stops every session.
//
// Thread-safe.
class AuditSink {
 public:
  static constexpr size_t kDefaultBacklogLimit = 5000;
  explicit AuditSink(std::unique_ptr<audit::AuditLog> log,
                     size_t backlog_limit = kDefaultBacklogLimit);
  // Writes what is queued, then stops the writer.
  ~AuditSink();

  void Record(bowden::v1::AuditEvent event) ABSL_LOCKS_EXCLUDED(mu_);
  // Records `events` in order and calls `committed` (on the writer thread)
  // once all of them are in the log: how the relay acknowledges an agent's
  // batch only after it is durable.
  void RecordBatch(std::vector<bowden::v1::AuditEvent> events,
                   std::function<void()> committed) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits until everything recorded so far is committed (for tests and
  // queries that must see their own writes). While the writer waits for
  // audit.db's lock, so does this (and it logs that it does).
  void Flush() ABSL_LOCKS_EXCLUDED(mu_);
  // From now on the writer gives up on a batch when audit.db stays locked
  // for a busy timeout, instead of waiting for the lock: called when the
  // relay stops, so that it cannot hang on another program's lock.
  void StopWaitingForLocks() ABSL_LOCKS_EXCLUDED(mu_);

  // OK, or UnavailableError saying why no new session may open: at least
  // `backlog_limit` events wait to be written (audit.db locked by another
  // program), and a session's rows would only pile up in memory.
  absl::Status AdmitsNewSessions() ABSL_LOCKS_EXCLUDED(mu_);

  audit::AuditLog& log() { return *log_; }

 private:
  struct Entry;
  void Run();
  void Write(std::vector<Entry>& batch);
  // Appends `events` in one transaction, trying again while audit.db is
  // locked by another connection (until StopWaitingForLocks()).
  absl::StatusOr<int64_t> AppendWaitingForLock(
      const std::vector<bowden::v1::AuditEvent>& events)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Maintain();
  // Events recorded but not yet written, for /metrics.
  void PublishDepth() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::unique_ptr<audit::AuditLog> log_;
  const size_t backlog_limit_;
  absl::Mutex mu_;
  struct Entry {
    bowden::v1::AuditEvent event;
    std::function<void()>
        committed;  // may be empty; only on a batch's last entry
    // Shared by the entries of one RecordBatch: set when any of them could
    // not be written, so the batch is not acknowledged (and is resent).
    std::shared_ptr<bool> batch_failed;
  };
  std::deque<Entry> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t recorded_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Set by the writer while it waits for another connection's lock.
  bool waiting_for_lock_ ABSL_GUARDED_BY(mu_) = false;
  bool give_up_on_locks_ ABSL_GUARDED_BY(mu_) = false;
  // Only the writer thread touches these.
  absl::Time next_maintenance_ = absl::InfinitePast();
  int64_t pruned_rows_ = 0;
  std::thread writer_;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_AUDIT_SINK_H_
