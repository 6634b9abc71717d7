#ifndef BOWDEN_RELAY_OFFLOAD_THREAD_H_
#define BOWDEN_RELAY_OFFLOAD_THREAD_H_

#include <deque>
#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"

namespace bowden::relay {

// Runs the blocking part of RPC handlers on a thread of its own, one job
// after the other: whatever reads or writes SQLite (audit queries and
// verification, revocations, join tokens, certificates and printers seen),
// reads the trust bundle, or signs a certificate. relay/README.md ("What runs
// where") lists each handler's part.
//
// The relay runs every gRPC reaction on one thread (callback_threads.h);
// a handler that waited on the disk there would stall every session for as
// long. A handler authorises the caller there, hands the rest here and
// finishes its reactor from the job (FinishOffloaded in relay_state.h).
// One job at a time keeps the stores' writes in order; the price is that a
// long job (a verification of a large audit log, a write waiting for a
// locked database) delays the jobs queued behind it.
//
// Thread-safe. The destructor runs the jobs already queued, then joins.
class OffloadThread {
 public:
  OffloadThread();
  ~OffloadThread() ABSL_LOCKS_EXCLUDED(mu_);
  OffloadThread(const OffloadThread&) = delete;
  OffloadThread& operator=(const OffloadThread&) = delete;

  // Queues `job`; it runs after every job queued before it.
  void Run(std::function<void()> job) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_OFFLOAD_THREAD_H_
