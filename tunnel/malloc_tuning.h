#ifndef BOWDEN_TUNNEL_MALLOC_TUNING_H_
#define BOWDEN_TUNNEL_MALLOC_TUNING_H_

namespace bowden::tunnel {

// Makes glibc malloc give memory back once sessions are gone, so a process's
// memory follows the number of open sessions rather than its peak (issue
// 12): ten bursts of 2,000 sessions left the relay at 2.4x and the CLI at
// 1.6x their idle RSS (the agent at up to 494 MB) with next to nothing in
// use, held as free space in glibc's per-thread arenas.
//
// - At most two arenas: gRPC runs a dozen threads, and each arena keeps its
//   own free space; two leave the two threads that carry the data (event
//   loop, completion queue) uncontended.
// - Free space at an arena's top beyond 2 MiB goes back to the kernel. That
//   still holds a download's working set (a few 128 KiB Chunks per process),
//   which is why the old 64 MiB did not gain speed once Chunks shrank.
// - Blocks above 256 KiB (none on the data path: Chunks are at most
//   128 KiB) are mapped on their own and unmapped when freed.
// - A background thread calls malloc_trim(0) every few seconds, which also
//   returns free pages in the middle of an arena: top-trimming alone cannot,
//   since a burst's buffers lie between long-lived allocations.
//
// Call once at the start of main, before other threads exist. Not
// thread-safe.
void ReturnFreedMemory();

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_MALLOC_TUNING_H_
