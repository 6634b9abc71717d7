#include "relay/audit_sink.h"

#include "glog/logging.h"

namespace bowden::relay {
namespace {

constexpr size_t kMaxQueued = 10000;

}  // namespace

AuditSink::AuditSink(std::unique_ptr<audit::AuditLog> log) : log_(std::move(log)) {
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
    queue_.push_back(
        Entry{std::move(events[i]), last ? std::move(committed) : nullptr, failed});
    ++recorded_;
  }
}

void AuditSink::Flush() {
  struct Want {
    AuditSink* self;
    uint64_t written;
  };
  absl::MutexLock lock(&mu_);
  Want want{this, recorded_};
  mu_.Await(absl::Condition(
      +[](Want* w) ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->self->written_ >= w->written; },
      &want));
}

void AuditSink::Run() {
  // Everything queued goes into one transaction (one fsync), up to this many:
  // under load the log keeps up with thousands of requests a second.
  constexpr size_t kMaxBatch = 1024;
  while (true) {
    std::vector<Entry> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuditSink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return !self->queue_.empty() || self->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, and everything is written
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<bowden::v1::AuditEvent> events;
    events.reserve(batch.size());
    for (Entry& entry : batch) events.push_back(std::move(entry.event));
    absl::StatusOr<int64_t> seq = log_->AppendBatch(events);
    if (!seq.ok()) {
      // One at a time, so one bad event cannot keep the others out; each
      // failure is logged and marks its agent batch as not acknowledged.
      for (size_t i = 0; i < batch.size(); ++i) {
        absl::StatusOr<int64_t> one = log_->Append(events[i]);
        if (one.ok()) continue;
        LOG(ERROR) << "audit log append failed (" << events[i].kind() << "): " << one.status();
        if (batch[i].batch_failed) *batch[i].batch_failed = true;
      }
    }
    // Only an agent batch all of whose events are in the log is
    // acknowledged; the agent resends the others.
    for (Entry& entry : batch) {
      if (entry.committed && !(entry.batch_failed && *entry.batch_failed)) entry.committed();
    }
    absl::MutexLock lock(&mu_);
    written_ += batch.size();
  }
}

}  // namespace bowden::relay
