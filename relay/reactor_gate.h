#ifndef BOWDEN_RELAY_REACTOR_GATE_H_
#define BOWDEN_RELAY_REACTOR_GATE_H_

#include "absl/synchronization/mutex.h"
#include "grpcpp/support/status.h"

namespace bowden::relay {

// Lets several threads call into one gRPC server reactor safely.
//
// A server reactor may be deleted as soon as it is finished and its last
// reaction has run, so a thread that calls StartWrite on it must be sure no
// other thread finishes it meanwhile. The gate counts calls in progress and
// defers Finish until none is; after Finish was requested no new call gets
// through. gRPC is never called with the gate's lock held, because gRPC may
// run a reaction inline on the calling thread.
//
// Thread-safe.
template <typename Reactor>
class ReactorGate {
 public:
  // Binds the reactor (once). A Finish requested before binding happens on
  // binding.
  void Bind(Reactor* reactor) ABSL_LOCKS_EXCLUDED(mu_) {
    bool finish_now;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      reactor_ = reactor;
      finish_now = finish_requested_ && !finish_called_;
      finish_called_ = finish_called_ || finish_now;
      status = status_;
    }
    if (finish_now) reactor->Finish(status);
  }

  // To be called from the reactor's OnDone: no call may get through after it.
  void Unbind() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    reactor_ = nullptr;
  }

  // Runs fn(reactor) unless the reactor is unbound or finishing. Returns
  // whether fn ran.
  template <typename Fn>
  bool Call(Fn fn) ABSL_LOCKS_EXCLUDED(mu_) {
    Reactor* reactor;
    {
      absl::MutexLock lock(&mu_);
      if (reactor_ == nullptr || finish_requested_) return false;
      reactor = reactor_;
      ++busy_;
    }
    fn(reactor);
    Exit();
    return true;
  }

  // Finishes the reactor with `status` once no call is in progress. Only the
  // first request counts.
  void RequestFinish(const grpc::Status& status) ABSL_LOCKS_EXCLUDED(mu_) {
    Reactor* finish = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (finish_requested_) return;
      finish_requested_ = true;
      status_ = status;
      if (reactor_ != nullptr && busy_ == 0) {
        finish_called_ = true;
        finish = reactor_;
      }
    }
    if (finish != nullptr) finish->Finish(status);
  }

  bool finish_requested() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return finish_requested_;
  }

 private:
  void Exit() ABSL_LOCKS_EXCLUDED(mu_) {
    Reactor* finish = nullptr;
    grpc::Status status;
    {
      absl::MutexLock lock(&mu_);
      --busy_;
      if (busy_ == 0 && finish_requested_ && !finish_called_ && reactor_) {
        finish_called_ = true;
        finish = reactor_;
        status = status_;
      }
    }
    if (finish != nullptr) finish->Finish(status);
  }

  mutable absl::Mutex mu_;
  Reactor* reactor_ ABSL_GUARDED_BY(mu_) = nullptr;
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_REACTOR_GATE_H_
