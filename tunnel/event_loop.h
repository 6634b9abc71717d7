#ifndef BOWDEN_TUNNEL_EVENT_LOOP_H_
#define BOWDEN_TUNNEL_EVENT_LOOP_H_

#include <sys/epoll.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tunnel/unique_fd.h"

namespace bowden::tunnel {

// One thread running epoll for the sockets of a process (the CLI's local
// connections, the agent's target connections). Socket state lives on this
// thread only, so it needs no locks; gRPC reactions hand work over with
// Post().
//
// Thread-safety: Post() is thread-safe. Watch/Update/Unwatch and the handlers
// run on the loop thread only.
class EventLoop {
 public:
  using Handler = std::function<void(uint32_t events)>;
  // Identifies one Watch() registration; never reused.
  using WatchId = uint64_t;

  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  // Stops the thread. Tasks still queued are dropped.
  ~EventLoop();

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs `task` on the loop thread, in posting order.
  void Post(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `task` on the loop thread after `delay`. Thread-safe.
  void RunAfter(absl::Duration delay, std::function<void()> task)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Loop thread only. Calls `handler` with the ready epoll events of `fd`
  // (level-triggered) while `events` is non-zero. The loop does not own `fd`.
  WatchId Watch(int fd, uint32_t events, Handler handler);
  // Changes the events of interest; 0 pauses the registration.
  void Update(WatchId id, uint32_t events);
  // Forgets the registration; its handler is never called again.
  void Unwatch(WatchId id);

  bool InLoopThread() const {
    return std::this_thread::get_id() == thread_.get_id();
  }

 private:
  struct Timer {
    absl::Time when;
    uint64_t order;  // ties run in posting order
    std::function<void()> task;
    bool operator>(const Timer& other) const {
      return when != other.when ? when > other.when : order > other.order;
    }
  };
  struct Watched {
    int fd;
    uint32_t events;
    std::shared_ptr<Handler> handler;
  };

  EventLoop(UniqueFd epoll, UniqueFd wake);
  void Run();
  void RunTasks() ABSL_LOCKS_EXCLUDED(mu_);
  // Milliseconds until the next timer is due, or -1 when there is none.
  int NextTimeoutMs() ABSL_LOCKS_EXCLUDED(mu_);
  void Wake();

  UniqueFd epoll_;
  UniqueFd wake_;  // eventfd: Post() wakes the loop through it
  absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_
      ABSL_GUARDED_BY(mu_);
  uint64_t timer_order_ ABSL_GUARDED_BY(mu_) = 0;
  // Loop thread only.
  absl::flat_hash_map<WatchId, Watched> watched_;
  WatchId next_id_ = 1;
  std::thread thread_;
};

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_EVENT_LOOP_H_
