#ifndef BOWDEN_RELAY_OPEN_TIMEOUTS_H_
#define BOWDEN_RELAY_OPEN_TIMEOUTS_H_

#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "relay/registry.h"

namespace bowden::relay {

// Fails, with DEADLINE_EXCEEDED, every session whose agent has not opened it
// (its Carry stream) within `timeout` of the Dial.
//
// One thread for all sessions looks at the registry's pending sessions every
// `interval`, and only while there are any, instead of a timer per session.
// A timer per session (a grpc::Alarm holding the session weakly) lived until
// its deadline, 15 s after a session of a few milliseconds had closed, and
// kept the session's memory with it: std::make_shared puts the object and
// its reference counts in one block, which a weak reference keeps allocated.
// After bursts of short sessions the relay held ~1 KiB per session of the
// last 15 s, scattered among newer allocations, and every deadline woke one
// of gRPC's executor threads. Now a session's memory goes when it closes.
//
// A session fails between `timeout` and `timeout + interval` after its Dial.
//
// Thread-safe. The destructor stops the thread; sessions still pending are
// left to the registry's owner.
class OpenTimeouts {
 public:
  OpenTimeouts(Registry* registry, absl::Duration timeout,
               absl::Duration interval = absl::Seconds(1));
  ~OpenTimeouts() ABSL_LOCKS_EXCLUDED(mu_);
  OpenTimeouts(const OpenTimeouts&) = delete;
  OpenTimeouts& operator=(const OpenTimeouts&) = delete;

  // To be called after a session was added to the registry's pending ones:
  // the thread looks at them until none is left.
  void Watch() ABSL_LOCKS_EXCLUDED(mu_);

  // Fails the sessions pending since before `now` - timeout and returns how
  // many. The thread calls it; public for tests.
  int FailExpired(absl::Time now);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Registry* const registry_;
  const absl::Duration timeout_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool watching_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_OPEN_TIMEOUTS_H_
