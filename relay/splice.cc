#include "relay/splice.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glog/logging.h"
#include "relay/relay_metrics.h"

namespace bowden::relay {

// One of the two streams. Deletes itself when gRPC is done with it.
class Splice::End final : public Reactor {
 public:
  End(std::shared_ptr<Splice> splice, Side side,
      grpc::CallbackServerContext* context)
      : splice_(std::move(splice)), side_(side), context_(context) {}

  bool cancelled() const { return context_->IsCancelled(); }

  void OnReadDone(bool ok) override { splice_->OnRead(side_, this, ok); }
  void OnWriteDone(bool ok) override { splice_->OnWritten(side_, this, ok); }
  void OnCancel() override { splice_->OnCancelled(side_); }
  void OnDone() override {
    splice_->OnEndDone(side_);
    delete this;
  }

  grpc::ByteBuffer in;   // being read from this stream
  grpc::ByteBuffer out;  // being written to this stream

 private:
  std::shared_ptr<Splice> splice_;
  const Side side_;
  grpc::CallbackServerContext* const context_;
};

Splice::Splice(SessionInfo info, ClosedCallback on_closed)
    : info_(std::move(info)), on_closed_(std::move(on_closed)) {}

Splice::Reactor* Splice::AttachUser(grpc::CallbackServerContext* context) {
  auto* end = new End(shared_from_this(), kUser, context);
  {
    absl::MutexLock lock(&mu_);
    attached_[kUser] = true;
  }
  gates_[kUser].Bind(end);
  return end;
}

Splice::Reactor* Splice::AttachAgent(grpc::CallbackServerContext* context) {
  auto* end = new End(shared_from_this(), kAgent, context);
  {
    absl::MutexLock lock(&mu_);
    attached_[kAgent] = true;
  }
  const absl::Time dialed =
      info_.dialed == absl::InfinitePast() ? started_ : info_.dialed;
  RelayMetrics::Get().session_setup_seconds.Observe(
      absl::ToDoubleSeconds(absl::Now() - dialed));
  gates_[kAgent].Bind(end);
  StartReading(kUser);
  StartReading(kAgent);
  return end;
}

void Splice::StartReading(Side side) {
  gates_[side].Call([](End* end) { end->StartRead(&end->in); });
}

void Splice::Fail(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (end_reason_.empty()) end_reason_ = absl::StrCat("failed: ", status.error_message());
  }
  gates_[kUser].RequestFinish(status);
  gates_[kAgent].RequestFinish(status);
}

void Splice::Kill(const std::string& by, const std::string& reason) {
  std::string message = absl::StrCat("session killed by ", by, reason.empty() ? "" : ": ",
                                     reason);
  {
    absl::MutexLock lock(&mu_);
    if (end_reason_.empty()) end_reason_ = message;
  }
  grpc::Status killed(grpc::StatusCode::ABORTED, message);
  gates_[kUser].RequestFinish(killed);
  gates_[kAgent].RequestFinish(killed);
}

Splice::Snapshot Splice::snapshot() const {
  absl::MutexLock lock(&mu_);
  return Snapshot{info_, started_, bytes_from_[kUser], bytes_from_[kAgent],
                  attached_[kAgent]};
}

std::string Splice::end_reason() const {
  absl::MutexLock lock(&mu_);
  return end_reason_.empty() ? "ended" : end_reason_;
}

void Splice::OnRead(Side side, End* source, bool ok) {
  Side other = Other(side);
  if (!ok) {
    // No write is in flight in this direction (a read is only started after
    // the previous write completed), so a half-close drains it at once.
    if (source->cancelled()) {
      Abort(side);
    } else {
      OnDrained(side);
    }
    return;
  }
  const size_t length = source->in.Length();
  {
    absl::MutexLock lock(&mu_);
    bytes_from_[side] += length;
  }
  RelayMetrics& metrics = RelayMetrics::Get();
  (side == kUser ? metrics.bytes_up : metrics.bytes_down).Add(length);
  // The other stream's `out` is free: its previous write completed before
  // this read was started. Swapping hands the slices over without a copy.
  bool forwarded = gates_[other].Call([source](End* sink) {
    sink->out.Swap(&source->in);
    sink->StartWrite(&sink->out);
  });
  if (!forwarded) Abort(other);
}

void Splice::OnWritten(Side side, End* /*sink*/, bool ok) {
  if (!ok) {
    Abort(side);
    return;
  }
  StartReading(Other(side));
}

void Splice::OnDrained(Side side) {
  bool both;
  {
    absl::MutexLock lock(&mu_);
    drained_[side] = true;
    both = drained_[kUser] && drained_[kAgent];
    if (both && end_reason_.empty()) end_reason_ = "closed by both sides";
  }
  if (both) {
    gates_[kUser].RequestFinish(grpc::Status::OK);
    gates_[kAgent].RequestFinish(grpc::Status::OK);
  }
}

void Splice::OnCancelled(Side side) { Abort(side); }

void Splice::Abort(Side culprit) {
  {
    absl::MutexLock lock(&mu_);
    if (end_reason_.empty()) {
      end_reason_ = culprit == kUser ? "reset by the user's side"
                                     : "reset by the printer's side";
    }
  }
  grpc::Status reset(grpc::StatusCode::UNAVAILABLE,
                     culprit == kUser
                         ? "the user's side of the session reset the connection"
                         : "the printer's side of the session reset the connection");
  gates_[Other(culprit)].RequestFinish(reset);
  gates_[culprit].RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "session reset"));
}

void Splice::OnEndDone(Side side) {
  gates_[side].Unbind();
  bool now_closed;
  {
    absl::MutexLock lock(&mu_);
    done_[side] = true;
    bool all_done = (done_[kUser] || !attached_[kUser]) &&
                    (done_[kAgent] || !attached_[kAgent]);
    now_closed = all_done && !closed_;
    closed_ = closed_ || now_closed;
  }
  // A user stream that ended before the agent's arrived must not leave a
  // pending entry behind; the callback removes it.
  if (now_closed && on_closed_) on_closed_(*this);
}

std::string Splice::Describe() const {
  absl::MutexLock lock(&mu_);
  return absl::StrFormat(
      "session %s user=%s role=%s printer=%s target=%s up=%d down=%d duration=%s: %s",
      info_.id, info_.user, info_.role, info_.printer, info_.target, bytes_from_[kUser],
      bytes_from_[kAgent], absl::FormatDuration(absl::Now() - started_),
      end_reason_.empty() ? "ended" : end_reason_);
}

}  // namespace bowden::relay
