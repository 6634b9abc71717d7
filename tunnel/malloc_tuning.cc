#include "tunnel/malloc_tuning.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <thread>

namespace bowden::tunnel {
namespace {

constexpr int kArenaMax = 2;
constexpr int kTrimThresholdBytes = 2 << 20;
constexpr int kMmapThresholdBytes = 256 << 10;
// Often enough that memory is back soon after a burst, rarely enough that
// re-faulting what a busy process freed costs nothing measurable.
constexpr std::chrono::seconds kTrimInterval(5);

}  // namespace

void ReturnFreedMemory() {
  // Failure leaves glibc's defaults, which only keep more memory.
  (void)mallopt(M_ARENA_MAX, kArenaMax);
  (void)mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
  (void)mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  // The trimmer takes no signals: a process-directed SIGINT must reach the
  // thread that waits for it (sigwait in `bowden open`, sigtimedwait in
  // `bowden audit --follow`), not kill the process through this one. The
  // thread inherits the mask, so it is set before it starts.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  std::thread([] {
    while (true) {
      std::this_thread::sleep_for(kTrimInterval);
      malloc_trim(0);
    }
  }).detach();
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace bowden::tunnel
