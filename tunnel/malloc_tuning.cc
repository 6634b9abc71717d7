#include "tunnel/malloc_tuning.h"

#include <malloc.h>

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
  std::thread([] {
    while (true) {
      std::this_thread::sleep_for(kTrimInterval);
      malloc_trim(0);
    }
  }).detach();
}

}  // namespace bowden::tunnel
