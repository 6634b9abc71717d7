#ifndef BOWDEN_RELAY_CALLBACK_WAKE_H_
#define BOWDEN_RELAY_CALLBACK_WAKE_H_

// Keeps the threads that run the relay's callback-API reactions awake after
// a quiet second.
//
// With the epoll1 poller gRPC 1.51 has no background polling for callback
// completion queues, so a server with callback methods gets
// CompletionQueue::CallbackAlternativeCQ(): two "nexting_thread"s (half the
// cores, at least 2) that loop on grpc_completion_queue_next with a 1 s
// deadline and, each time that deadline passes with nothing to do, sleep
// 100 ms in gpr_sleep_until before they poll again (completion_queue_cc.cc).
// After a quiet second both threads nap at once, and whatever arrives in the
// nap (a request through a session that was idle, a new Dial) waits up to
// 100 ms in the relay: issue 12's "~40 ms after a quiet second", measured by
// bench/idle_stall.sh (docs/benchmarks.md).
//
// So the relay defines gpr_sleep_until() itself (callback_wake.cc; the
// executable's definition comes before libgpr's for libgrpc++'s call, as
// accept4 does in accept_gate.h): called on a thread named
// kNextingThreadName it returns at once, so the thread goes straight back to
// waiting on the queue (one wake-up a second per idle thread); on any other
// thread it is libgpr's sleep, unchanged.
//
// Thread-safe.

namespace bowden::relay {

// The name gRPC 1.51 gives the callback queue's threads (as in
// /proc/PID/task/TID/comm).
inline constexpr char kNextingThreadName[] = "nexting_thread";

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_CALLBACK_WAKE_H_
