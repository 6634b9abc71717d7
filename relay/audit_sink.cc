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
  queue_.push_back(std::move(event));
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
    bowden::v1::AuditEvent event;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AuditSink* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return !self->queue_.empty() || self->stopping_;
          },
          this));
      if (queue_.empty()) return;  // stopping, and everything is written
      event = std::move(queue_.front());
      queue_.pop_front();
    }
    absl::StatusOr<int64_t> seq = log_->Append(event);
    if (!seq.ok()) {
      LOG(ERROR) << "audit log append failed (" << event.kind() << "): " << seq.status();
    }
    absl::MutexLock lock(&mu_);
    ++written_;
  }
}

}  // namespace bowden::relay
