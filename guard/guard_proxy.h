#ifndef BOWDEN_GUARD_GUARD_PROXY_H_
#define BOWDEN_GUARD_GUARD_PROXY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "guard/http_guard.h"
#include "tunnel/event_loop.h"
#include "tunnel/unique_fd.h"

namespace bowden::guard {

// Runs an HttpGuard between two connected sockets: the session's side (the
// agent's end of a socketpair whose other end the tunnel pumps) and the
// target. Everything the client sends passes through the guard before it
// reaches the target; the target's answers pass through it on the way back.
//
// Each direction buffers at most ~1 MiB before it stops reading its source,
// so a slow side slows the other down instead of growing memory. Half-closes
// pass through; an error on either socket closes both. When the guard asks
// (HttpGuard::abort_target(), a refused upload part of which the target
// holds) the target socket is reset at once, with nothing more sent to it.
//
// Thread-safety: lives on the event loop thread; Start() is thread-safe. The
// object deletes itself when both sockets are closed, after `done` has run.
class GuardProxy {
 public:
  using EventsCallback = std::function<void(std::vector<GuardEvent>)>;
  using DoneCallback = std::function<void()>;

  static void Start(tunnel::EventLoop* loop, tunnel::UniqueFd client,
                    tunnel::UniqueFd target, std::unique_ptr<HttpGuard> guard,
                    EventsCallback on_events, DoneCallback done);

 private:
  struct Side {
    tunnel::UniqueFd fd;
    tunnel::EventLoop::WatchId watch = 0;
    std::string out;  // waiting to be written to this side
    bool read_eof = false;
    bool shut_write = false;  // shutdown(SHUT_WR) wanted once `out` drains
    bool write_shut = false;  // done
  };

  GuardProxy(tunnel::EventLoop* loop, std::unique_ptr<HttpGuard> guard,
             EventsCallback on_events, DoneCallback done);
  void Begin(tunnel::UniqueFd client, tunnel::UniqueFd target);
  void OnEvent(bool client_side, uint32_t events);
  void Read(bool client_side);
  void Apply(const GuardOutput& output);
  void Flush(Side& side);
  void AbortTarget();
  void Update();
  void Finish();

  tunnel::EventLoop* const loop_;
  std::unique_ptr<HttpGuard> guard_;
  EventsCallback on_events_;
  DoneCallback done_;
  Side client_;
  Side target_;
  bool failed_ = false;
  bool target_aborted_ = false;
  bool finished_ = false;
};

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_GUARD_PROXY_H_
