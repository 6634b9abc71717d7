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
  queue_.push_back(Entry{std::move(event), nullptr});
  ++recorded_;
}

void AuditSink::RecordBatch(std::vector<bowden::v1::AuditEvent> events,
                            std::function<void()> committed) {
  if (events.empty()) {
    if (committed) committed();
    return;
  }
  for (size_t i = 0; i + 1 < events.size(); ++i) Record(std::move(events[i]));
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](AuditSink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return self->queue_.size() < kMaxQueued;
      },
      this));
  queue_.push_back(Entry{std::move(events.back()), std::move(committed)});
  ++recorded_;
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
  while (true) {
    Entry entry;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuditSink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return !self->queue_.empty() || self->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, and everything is written
      entry = std::move(queue_.front());
      queue_.pop_front();
    }
    absl::StatusOr<int64_t> seq = log_->Append(entry.event);
    if (!seq.ok()) {
      LOG(ERROR) << "audit log append failed (" << entry.event.kind() << "): " << seq.status();
    }
    // Only a committed batch is acknowledged; a failed one is resent.
    if (entry.committed && seq.ok()) entry.committed();
    absl::MutexLock lock(&mu_);
    ++written_;
  }
}

}  // namespace bowden::relay
