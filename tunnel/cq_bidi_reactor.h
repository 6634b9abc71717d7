#ifndef BOWDEN_TUNNEL_CQ_BIDI_REACTOR_H_
#define BOWDEN_TUNNEL_CQ_BIDI_REACTOR_H_

#include <functional>
#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/status.h"
#include "tunnel/completion_thread.h"

namespace bowden::tunnel {

// A client bidi stream with the shape of grpc::ClientBidiReactor (Start*
// calls, On*Done reactions, holds, OnDone last) whose reactions run on a
// CompletionThread instead of gRPC's callback threads (see there for why).
//
// As with ClientBidiReactor: at most one read and one write (or writes-done)
// outstanding; operations may be started before StartCall and are sent once
// the call has started; OnDone runs once, after the call's status has
// arrived, every other reaction has returned and every hold is released.
// The final status is asked for right after the call starts, so a call the
// server ends is noticed without a read outstanding. An operation started
// once OnDone is due is dropped without a reaction, so a thread outside the
// reactions cannot race the end of the call.
//
// Thread-safety: Start*, AddHold and RemoveHold may be called from any
// thread. Reactions run on the completion thread, one at a time.
template <class Request, class Response>
class CqBidiReactor {
 public:
  using Stream = grpc::ClientAsyncReaderWriter<Request, Response>;
  // Creates the call without starting it, e.g.
  // `stub->PrepareAsyncDial(context, cq)`.
  using Prepare =
      std::function<std::unique_ptr<Stream>(grpc::ClientContext*, grpc::CompletionQueue*)>;

  virtual ~CqBidiReactor() = default;

  virtual void OnReadDone(bool /*ok*/) {}
  virtual void OnWriteDone(bool /*ok*/) {}
  virtual void OnWritesDoneDone(bool /*ok*/) {}
  virtual void OnDone(const grpc::Status& status) = 0;

 protected:
  // Binds the reactor to a new call on `thread`. Once, before the Start*
  // calls.
  void BindCall(CompletionThread* thread, grpc::ClientContext* context,
                const Prepare& prepare) {
    stream_ = prepare(context, thread->cq());
  }

  void StartCall() ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      ++in_flight_;  // the start itself
    }
    stream_->StartCall(&start_tag_);
  }
  // The operations are started outside the lock: gRPC may write to the
  // network inline, and the other direction must not wait for that.
  void StartRead(Response* message) ABSL_LOCKS_EXCLUDED(mu_) {
    if (!Admit(&queued_read_, message)) return;
    stream_->Read(message, &read_tag_);
  }
  void StartWrite(const Request* message) ABSL_LOCKS_EXCLUDED(mu_) {
    if (!Admit(&queued_write_, message)) return;
    stream_->Write(*message, &write_tag_);
  }
  void StartWritesDone() ABSL_LOCKS_EXCLUDED(mu_) {
    if (!Admit(&queued_writes_done_, true)) return;
    stream_->WritesDone(&writes_done_tag_);
  }
  void AddHold() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    ++holds_;
  }
  void RemoveHold() ABSL_LOCKS_EXCLUDED(mu_) {
    bool done;
    {
      absl::MutexLock lock(&mu_);
      --holds_;
      done = TakeDoneLocked();
    }
    if (done) Done();
  }

 private:
  enum class Op { kStart, kRead, kWrite, kWritesDone, kFinish };
  class Tag final : public CompletionTag {
   public:
    Tag(CqBidiReactor* reactor, Op op) : reactor_(reactor), op_(op) {}
    void Run(bool ok) override { reactor_->Complete(op_, ok); }

   private:
    CqBidiReactor* const reactor_;
    const Op op_;
  };

  void Complete(Op op, bool ok) ABSL_LOCKS_EXCLUDED(mu_) {
    switch (op) {
      case Op::kStart:
        Started();
        break;
      case Op::kRead:
        OnReadDone(ok);
        break;
      case Op::kWrite:
        OnWriteDone(ok);
        break;
      case Op::kWritesDone:
        OnWritesDoneDone(ok);
        break;
      case Op::kFinish:
        break;
    }
    bool done;
    {
      absl::MutexLock lock(&mu_);
      if (op == Op::kFinish) finished_ = true;
      --in_flight_;
      done = TakeDoneLocked();
    }
    if (done) Done();
  }

  // The stream lives in the call's arena, which the ClientContext frees: it
  // must go before the subclass (which owns the context) may delete itself
  // in OnDone. Nothing of this object is touched after OnDone.
  void Done() {
    stream_.reset();
    OnDone(status_);
  }

  // Whether the start succeeded or not, the queued operations go out (they
  // fail at once on a call that did not start) and the status is asked for.
  // The write side waits for the start because the start uses its batch.
  void Started() ABSL_LOCKS_EXCLUDED(mu_) {
    Response* read;
    const Request* write;
    bool writes_done;
    {
      absl::MutexLock lock(&mu_);
      started_ = true;
      ++in_flight_;  // the finish
      read = std::exchange(queued_read_, nullptr);
      write = std::exchange(queued_write_, nullptr);
      writes_done = std::exchange(queued_writes_done_, false);
    }
    // A queued read goes first: it carries the receipt of the initial
    // metadata, which the finish would otherwise take.
    if (read != nullptr) stream_->Read(read, &read_tag_);
    stream_->Finish(&status_, &finish_tag_);
    if (write != nullptr) stream_->Write(*write, &write_tag_);
    if (writes_done) stream_->WritesDone(&writes_done_tag_);
  }

  // Counts an operation about to start. Returns whether to start it now;
  // before the call has started it is queued in `*queued` instead, and once
  // OnDone is due it is dropped.
  template <class T>
  bool Admit(T* queued, T value) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (done_) return false;  // too late: OnDone has run or is running
    ++in_flight_;
    if (started_) return true;
    *queued = value;
    return false;
  }

  bool TakeDoneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!finished_ || in_flight_ > 0 || holds_ > 0 || done_) return false;
    done_ = true;
    return true;
  }

  std::unique_ptr<Stream> stream_;
  Tag start_tag_{this, Op::kStart};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag writes_done_tag_{this, Op::kWritesDone};
  Tag finish_tag_{this, Op::kFinish};
  grpc::Status status_;  // written by gRPC before the finish tag runs

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // started operations not yet reacted to
  int holds_ ABSL_GUARDED_BY(mu_) = 0;
  Response* queued_read_ ABSL_GUARDED_BY(mu_) = nullptr;
  const Request* queued_write_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool queued_writes_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_CQ_BIDI_REACTOR_H_
