#ifndef BOWDEN_TUNNEL_NOTICE_MAILBOX_H_
#define BOWDEN_TUNNEL_NOTICE_MAILBOX_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/tunnel.pb.h"
#include "tunnel/event_loop.h"

namespace bowden::tunnel {

// Notices waiting to travel up one session's stream (Chunk.notices). Anyone
// may post; the session's SocketPump takes them into the next Chunk it sends
// and, when it has nothing to send, is woken on its loop to send them alone,
// so a notice never waits for bytes that may never come.
//
// Bounded: at most kMaxPending notices wait, each field cut to a few hundred
// bytes; past that, notices are counted (Notice.dropped_after of the last
// one waiting) instead of kept, so a flood of refusals costs no memory and
// no Chunk grows past the relay's message limit.
//
// Thread-safe.
class NoticeMailbox : public std::enable_shared_from_this<NoticeMailbox> {
 public:
  static constexpr size_t kMaxPending = 64;
  static constexpr size_t kMaxFieldBytes = 512;

  // Keeps `notice` (its fields cut to kMaxFieldBytes) for the next Chunk.
  void Post(bowden::v1::Notice notice) ABSL_LOCKS_EXCLUDED(mu_);

  // Whether notices wait: one atomic load, so a Chunk without notices costs
  // a pump nothing more.
  bool pending() const { return pending_.load(std::memory_order_acquire); }
  // Moves the waiting notices into `chunk`; returns whether there were any.
  bool TakeInto(bowden::v1::Chunk* chunk) ABSL_LOCKS_EXCLUDED(mu_);

  // For the pump. `wake` runs on `loop` after each Post (at most one wake-up
  // waits at a time) until ClearWake(). Both are called on `loop`, so a wake
  // that runs there sees the pump either alive and registered or cleared.
  void SetWake(EventLoop* loop, std::function<void()> wake)
      ABSL_LOCKS_EXCLUDED(mu_);
  void ClearWake() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void RunWake() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::vector<bowden::v1::Notice> notices_ ABSL_GUARDED_BY(mu_);
  EventLoop* loop_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
  bool wake_posted_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> pending_{false};
};

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_NOTICE_MAILBOX_H_
