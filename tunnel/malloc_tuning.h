#ifndef BOWDEN_TUNNEL_MALLOC_TUNING_H_
#define BOWDEN_TUNNEL_MALLOC_TUNING_H_

namespace bowden::tunnel {

// Keeps glibc malloc from handing the data path's buffers back to the kernel
// after each message. By default a freed block of 128 KiB or more is
// unmapped, and free space at the top of a thread's arena is trimmed; the
// next 512 KiB chunk then page-faults in fresh zeroed pages. With gRPC
// allocating a buffer per message on several threads, that cost ~12% of the
// CPU of each process in a 100 MiB download (perf: exc_page_fault,
// clear_page_erms, unmap_page_range).
//
// Call once at the start of main, before other threads exist. Not
// thread-safe.
void KeepFreedMemoryForReuse();

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_MALLOC_TUNING_H_
