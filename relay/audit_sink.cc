#include "relay/audit_sink.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "relay/relay_metrics.h"

namespace bowden::relay {
namespace {

// How often the writer checks whether to seal a segment or prune one, and
// how many rows of a pruned segment one step deletes (tens of milliseconds).
// Record() blocks beyond this many queued events (see audit_sink.h).
constexpr size_t kMaxQueued = 100000;
constexpr absl::Duration kMaintenanceInterval = absl::Seconds(1);
constexpr int64_t kMaxDeletePerStep = 5000;

}  // namespace

AuditSink::AuditSink(std::unique_ptr<audit::AuditLog> log,
                     size_t backlog_limit)
    : log_(std::move(log)), backlog_limit_(backlog_limit) {
  writer_ = std::thread([this] { Run(); });
}

AuditSink::~AuditSink() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
}

void AuditSink::Record(bowden::v1::AuditEvent event) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](AuditSink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return self->queue_.size() < kMaxQueued;
      },
      this));
  queue_.push_back(Entry{std::move(event), nullptr, nullptr});
  ++recorded_;
  PublishDepth();
}

void AuditSink::RecordBatch(std::vector<bowden::v1::AuditEvent> events,
                            std::function<void()> committed) {
  if (events.empty()) {
    if (committed) committed();
    return;
  }
  auto failed = std::make_shared<bool>(false);
  for (size_t i = 0; i < events.size(); ++i) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](AuditSink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return self->queue_.size() < kMaxQueued;
        },
        this));
    const bool last = i + 1 == events.size();
    queue_.push_back(Entry{std::move(events[i]),
                           last ? std::move(committed) : nullptr, failed});
    ++recorded_;
    PublishDepth();
  }
}

void AuditSink::Flush() {
  struct Want {
    AuditSink* self;
    uint64_t written;
  };
  absl::MutexLock lock(&mu_);
  Want want{this, recorded_};
  if (waiting_for_lock_ && written_ < recorded_) {
    LOG(WARNING)
        << "an audit query waits for the audit writer, which waits for "
           "audit.db's lock ("
        << recorded_ - written_ << " event(s) to write)";
  }
  mu_.Await(absl::Condition(
      +[](Want* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return w->self->written_ >= w->written;
      },
      &want));
}

absl::Status AuditSink::AdmitsNewSessions() {
  absl::MutexLock lock(&mu_);
  const uint64_t waiting = recorded_ - written_;
  if (waiting < backlog_limit_) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(
      "the relay cannot write its audit log now (", waiting,
      " events wait for audit.db, which another program may hold locked): "
      "it opens no new sessions until they are written; try again shortly, "
      "and if this lasts, tell the relay's operator"));
}

void AuditSink::StopWaitingForLocks() {
  absl::MutexLock lock(&mu_);
  give_up_on_locks_ = true;
}

absl::StatusOr<int64_t> AuditSink::AppendWaitingForLock(
    const std::vector<bowden::v1::AuditEvent>& events) {
  bool waited = false;
  for (;;) {
    absl::StatusOr<int64_t> seq = log_->AppendBatch(events);
    // Unavailable is SQLITE_BUSY/LOCKED after the busy timeout: another
    // connection holds the write lock. Anything else will not go away by
    // waiting.
    const bool locked = !seq.ok() && absl::IsUnavailable(seq.status());
    {
      absl::MutexLock lock(&mu_);
      if (!locked || give_up_on_locks_) {
        waiting_for_lock_ = false;
        if (waited && seq.ok()) {
          LOG(INFO)
              << "audit.db's lock is free again: the audit writer goes on";
        }
        return seq;
      }
      if (!waiting_for_lock_) {
        LOG(WARNING)
            << "audit.db is locked by another connection (" << seq.status()
            << "): the audit writer waits for the lock with " << events.size()
            << " event(s) to write, and audit queries wait with it; end the "
               "other program's transaction (e.g. a `sqlite3 audit.db` "
               "session)";
      }
      waiting_for_lock_ = true;
    }
    waited = true;
    // A try normally fails only after the busy timeout; should SQLite say
    // "locked" at once, do not spin.
    absl::SleepFor(absl::Milliseconds(100));
  }
}

void AuditSink::Maintain() {
  absl::StatusOr<audit::MaintenanceResult> done =
      log_->MaintainSegments(kMaxDeletePerStep);
  if (!done.ok()) {
    LOG(ERROR) << "audit log maintenance (sealing, retention) failed: "
               << done.status()
               << "; appending goes on and it is tried again shortly: check "
                  "free disk space "
                  "and that the state directory's audit.db is writable";
    next_maintenance_ = absl::Now() + kMaintenanceInterval;
    return;
  }
  if (done->sealed > 0 || done->pruned > 0) {
    LOG(INFO) << "audit log: " << done->sealed << " segment(s) sealed, "
              << done->pruned << " segment(s) past retention pruned";
  }
  pruned_rows_ += done->rows_deleted;
  if (!done->more && pruned_rows_ > 0) {
    LOG(INFO) << "audit log: " << pruned_rows_
              << " rows of pruned segments deleted";
    pruned_rows_ = 0;
  }
  // While rows of pruned segments remain, delete the next chunk as soon as
  // the queue is written: appends wait for at most one chunk.
  next_maintenance_ =
      done->more ? absl::Now() : absl::Now() + kMaintenanceInterval;
}

void AuditSink::Run() {
  // Everything queued goes into one transaction (one fsync), up to this many:
  // under load the log keeps up with thousands of requests a second.
  constexpr size_t kMaxBatch = 1024;
  while (true) {
    std::vector<Entry> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(
          absl::Condition(
              +[](AuditSink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                return !self->queue_.empty() || self->stopping_;
              },
              this),
          next_maintenance_);
      if (queue_.empty() && stopping_) return;  // everything is written
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!batch.empty()) Write(batch);
    if (absl::Now() >= next_maintenance_) Maintain();
  }
}

void AuditSink::Write(std::vector<Entry>& batch) {
  std::vector<bowden::v1::AuditEvent> events;
  events.reserve(batch.size());
  for (Entry& entry : batch) events.push_back(std::move(entry.event));
  absl::StatusOr<int64_t> seq = AppendWaitingForLock(events);
  if (absl::IsUnavailable(seq.status())) {
    // Still locked, and the relay is stopping (StopWaitingForLocks): one at
    // a time would wait a busy timeout per event to lose each anyway.
    size_t resent = 0;
    for (Entry& entry : batch) {
      if (!entry.batch_failed) continue;
      *entry.batch_failed = true;
      ++resent;
    }
    LOG(ERROR) << "audit.db is still locked by another connection as the relay "
                  "stops ("
               << seq.status() << "): " << batch.size() - resent
               << " audit event(s) are lost (the relay's own; " << resent
               << " more from agents are not acknowledged and come again); end "
                  "the other program's transaction before stopping the relay";
  } else if (!seq.ok()) {
    // One at a time, so one bad event cannot keep the others out; each
    // failure is logged and marks its agent batch as not acknowledged.
    for (size_t i = 0; i < batch.size(); ++i) {
      absl::StatusOr<int64_t> one = AppendWaitingForLock({events[i]});
      if (one.ok()) continue;
      const bool from_agent = batch[i].batch_failed != nullptr;
      LOG(ERROR) << "audit log append failed (" << events[i].kind()
                 << "): " << one.status() << "; "
                 << (from_agent ? "its agent's batch is not acknowledged and "
                                  "comes again"
                                : "this event of the relay's own is lost")
                 << ": check free disk space and that the state directory's "
                    "audit.db is writable";
      if (from_agent) *batch[i].batch_failed = true;
    }
  }
  // Only an agent batch all of whose events are in the log is
  // acknowledged; the agent resends the others.
  for (Entry& entry : batch) {
    if (entry.committed && !(entry.batch_failed && *entry.batch_failed))
      entry.committed();
  }
  absl::MutexLock lock(&mu_);
  written_ += batch.size();
  PublishDepth();
}

void AuditSink::PublishDepth() {
  RelayMetrics::Get().audit_queue_depth.Set(
      static_cast<int64_t>(recorded_ - written_));
}

}  // namespace bowden::relay
