#ifndef BOWDEN_RELAY_CALLBACK_THREADS_H_
#define BOWDEN_RELAY_CALLBACK_THREADS_H_

// Keeps the threads that run the relay's callback-API reactions to one, and
// keeps that one awake after a quiet second.
//
// With the epoll1 poller gRPC 1.51 has no background polling for callback
// completion queues, so a server with callback methods gets
// CompletionQueue::CallbackAlternativeCQ(): "nexting_thread"s (half the
// cores, at least 2) that loop on grpc_completion_queue_next with a 1 s
// deadline and, each time that deadline passes with nothing to do, sleep
// 100 ms in gpr_sleep_until before they poll again (completion_queue_cc.cc).
// Two things follow, both measured in issue 12 (docs/benchmarks.md):
//  - After a quiet second every thread naps at once, and whatever arrives in
//    the nap (a request through an idle session, a new Dial) waits up to
//    100 ms (bench/idle_stall.sh).
//  - Every thread waiting on the queue takes part in epoll1's polling, and a
//    poller that returns with work hands the poller role to another waiting
//    thread: with two threads the relay made about 13 context switches per
//    request at `wrk -c1`, and spent about twice the CPU per request it
//    spends with one (3.7 switches).
//
// So the relay defines gpr_sleep_until() itself (callback_threads.cc; the
// executable's definition comes before libgpr's for libgrpc++'s call, as
// accept4 does in accept_gate.h; with --config=lean, where libgpr is linked
// into the executable, the linker's --wrap=gpr_sleep_until does it, see
// relay/BUILD.bazel). Called on a thread named
// kNextingThreadName:
//  - while no relay server holds the threads (HoldCallbackThreadsToOne), it
//    returns at once: the thread goes straight back to waiting on the queue;
//  - while one does, the first nexting thread to reach it stays the awake
//    one and returns at once; every other nexting thread parks there until
//    ReleaseCallbackThreads(). From then on one thread polls and runs every
//    reaction. Until the first quiet second (a relay under load from its
//    first second) all of them run, as without this.
// On any other thread it is libgpr's sleep, unchanged.
//
// One thread means no reaction may block: the part of a handler that waits
// on the disk (SQLite, the CA files) or signs a certificate runs on one of
// two OffloadThreads (relay/offload_thread.h): the audit's queries and
// verification on their own, everything else on the store thread
// (relay/README.md, "What runs where", lists them); reactions do in-memory
// work only.
//
// Thread-safe.

namespace bowden::relay {

// The name gRPC 1.51 gives the callback queue's threads (as in
// /proc/PID/task/TID/comm).
inline constexpr char kNextingThreadName[] = "nexting_thread";

// Called by each relay server once it has started: from now on nexting
// threads beyond the first park at their first nap.
void HoldCallbackThreadsToOne();
// Called by each relay server before its Shutdown (gRPC joins the nexting
// threads in the last server's Shutdown, so none may stay parked): when no
// server holds them any more, the parked threads go back to gRPC.
void ReleaseCallbackThreads();
// Each park is logged as "one of gRPC's callback threads parks".
// How many nexting threads are parked now (for tests and logs).
int ParkedCallbackThreads();

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_CALLBACK_THREADS_H_
