#ifndef BOWDEN_TUNNEL_COMPLETION_THREAD_H_
#define BOWDEN_TUNNEL_COMPLETION_THREAD_H_

#include <thread>

#include "grpcpp/completion_queue.h"

namespace bowden::tunnel {

// What a completion-queue tag points to: Run is called on the completion
// thread when the operation it was given to completes.
class CompletionTag {
 public:
  virtual void Run(bool ok) = 0;

 protected:
  ~CompletionTag() = default;
};

// The one thread that drives a process's streaming gRPC calls through a
// completion queue.
//
// Why not gRPC's callback API: in the gRPC that Debian ships (1.51, epoll1
// poller), callback reactions run on two "nexting" threads that take turns
// polling, and every network event hands the poller role from one to the
// other before the reaction runs. With one thread calling Next, there is
// no one to hand over to: the thread that reads the event runs the reaction.
// Measured at one connection (wrk -c1), that cost the CLI and the agent
// about 11 context switches per request each. Keep it the only poller: a
// second thread calling Next on any queue brings the hand-overs back.
//
// Thread-safety: cq() may be used from any thread; tags run on the
// completion thread only.
class CompletionThread {
 public:
  CompletionThread();
  // Shuts the queue down and waits for the thread; every call started on it
  // must be over.
  ~CompletionThread();

  CompletionThread(const CompletionThread&) = delete;
  CompletionThread& operator=(const CompletionThread&) = delete;

  grpc::CompletionQueue* cq() { return &cq_; }

 private:
  void Run();

  grpc::CompletionQueue cq_;
  std::thread thread_;
};

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_COMPLETION_THREAD_H_
