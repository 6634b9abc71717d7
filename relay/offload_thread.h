#ifndef BOWDEN_RELAY_OFFLOAD_THREAD_H_
#define BOWDEN_RELAY_OFFLOAD_THREAD_H_

#include <deque>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"
#include "grpcpp/support/status.h"

namespace bowden::relay {

// Runs the blocking part of RPC handlers on a thread of its own, one job
// after the other. The relay has two (RelayState in relay_state.h):
//  - `offload`, the quick store jobs: whatever reads or writes identities.db
//    or state.db (revocations, join tokens, certificates and printers seen,
//    `bowden ls`), reads the trust bundle, or signs a certificate;
//  - `audit_offload`, the audit's long jobs: queries (which first wait for
//    the audit writer, and so for a lock on audit.db) and verification
//    (which reads the whole log: seconds for millions of rows).
// relay/README.md ("What runs where") lists each handler's part.
//
// The relay runs every gRPC reaction on one thread (callback_threads.h);
// a handler that waited on the disk there would stall every session for as
// long. A handler authorises the caller there, hands the rest here and
// finishes its reactor from the job (FinishCall).
// One job at a time keeps the stores' writes in order; the price is that a
// long job (a write waiting for a locked database) delays the jobs queued
// behind it on the same thread, which is why the audit's jobs have their own.
//
// Thread-safe. The destructor runs the jobs already queued, then joins.
class OffloadThread {
 public:
  // `name` is the thread's (as in /proc/PID/task/TID/comm; at most 15
  // characters).
  explicit OffloadThread(const char* name = "relay-offload");
  ~OffloadThread() ABSL_LOCKS_EXCLUDED(mu_);
  OffloadThread(const OffloadThread&) = delete;
  OffloadThread& operator=(const OffloadThread&) = delete;

  // Queues `job`; it runs after every job queued before it.
  void Run(std::function<void()> job) ABSL_LOCKS_EXCLUDED(mu_);

  // Queues `work` and finishes `reactor` with the status it returns. Check
  // who calls first, on the callback thread; what `work` captures must stay
  // valid until it has run (a unary call's request and response do: gRPC
  // keeps them until Finish).
  void FinishCall(grpc::ServerUnaryReactor* reactor,
                  std::function<grpc::Status()> work) ABSL_LOCKS_EXCLUDED(mu_) {
    Run([reactor, work = std::move(work)] { reactor->Finish(work()); });
  }

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  const char* const name_;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_OFFLOAD_THREAD_H_
