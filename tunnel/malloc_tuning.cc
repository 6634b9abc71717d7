#include "tunnel/malloc_tuning.h"

#include <malloc.h>

namespace bowden::tunnel {
namespace {

// Above the largest message (1 MiB) and its HTTP/2 frame buffers.
constexpr int kMmapThresholdBytes = 8 << 20;
// Free memory each arena may keep: a few sessions' worth of chunks.
constexpr int kTrimThresholdBytes = 64 << 20;

}  // namespace

void KeepFreedMemoryForReuse() {
  // Failure leaves glibc's defaults, which are correct, only slower.
  (void)mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  (void)mallopt(M_TRIM_THRESHOLD, kTrimThresholdBytes);
}

}  // namespace bowden::tunnel
