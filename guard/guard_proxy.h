#ifndef BOWDEN_GUARD_GUARD_PROXY_H_
#define BOWDEN_GUARD_GUARD_PROXY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "guard/http_guard.h"
#include "tunnel/event_loop.h"
#include "tunnel/unique_fd.h"

namespace bowden::guard {

// How long a guarded connection may wait, and how much it may hold.
struct ProxyLimits {
  // A request head, once begun, must be complete within this.
  absl::Duration header_timeout = absl::Seconds(30);
  // A connection with no request in progress and no answer owed closes
  // after this.
  absl::Duration idle_timeout = absl::Minutes(10);
  // After the guard's last answer on a connection it closes (a refusal),
  // the client's further bytes are read and dropped for at most this long
  // and linger_bytes, so that closing does not reset the connection before
  // the client has read the answer.
  absl::Duration linger = absl::Seconds(5);
  size_t linger_bytes = 64 << 20;
  // Answers waiting for a client that does not read them: past this, the
  // client's requests are not read either.
  size_t max_client_backlog = 256 * 1024;
};

// Runs an HttpGuard between two connected sockets: the session's side (the
// agent's end of a socketpair whose other end the tunnel pumps) and the
// target. Everything the client sends passes through the guard before it
// reaches the target; the target's answers pass through it on the way back.
//
// Each direction buffers at most ~1 MiB before it stops reading its source,
// so a slow side slows the other down instead of growing memory. The client
// is not read either while the guard is backlogged (too many answers owed,
// HttpGuard::backlogged()) or ProxyLimits::max_client_backlog of answers
// wait for it: a pipelined flood stays in the client's socket and the tunnel's
// flow control, and memory per connection stays bounded.
//
// Half-closes pass through in raw mode. Otherwise, once the client has
// closed its side and every answer owed to it is out, both sockets close: a
// request cut off mid-way holds nothing open. Header and idle timeouts
// (ProxyLimits) close connections that stall. An error on either socket
// closes both. When the guard asks (HttpGuard::abort_target(), a refused
// upload part of which the target holds) the target socket is reset at
// once, with nothing more sent to it. When the guard closes the client
// after a refusal, the proxy shuts down the client's write side and
// lingers, dropping what the client still sends, so its last answer
// arrives instead of a reset.
//
// `on_events` runs before the answers (or the close) those events report
// are written to the client socket: the agent posts refusals to the
// session's CLI from it, and they must not lag behind the 403 they explain.
//
// Thread-safety: lives on the event loop thread; Start() is thread-safe. The
// object deletes itself when both sockets are closed, after `done` has run.
class GuardProxy {
 public:
  using EventsCallback = std::function<void(std::vector<GuardEvent>)>;
  using DoneCallback = std::function<void()>;

  static void Start(tunnel::EventLoop* loop, tunnel::UniqueFd client,
                    tunnel::UniqueFd target, std::unique_ptr<HttpGuard> guard,
                    EventsCallback on_events, DoneCallback done,
                    ProxyLimits limits = ProxyLimits());

 private:
  struct Side {
    tunnel::UniqueFd fd;
    tunnel::EventLoop::WatchId watch = 0;
    std::string out;  // waiting to be written to this side
    bool read_eof = false;
    bool shut_write = false;  // shutdown(SHUT_WR) wanted once `out` drains
    bool write_shut = false;  // done
  };

  // What the connection waits for, each with its own deadline.
  enum class Phase {
    kBusy,     // an answer from the target, or bytes in raw mode: no limit
    kHead,     // the rest of a request head: header_timeout
    kIdle,     // the next request: idle_timeout
    kClosing,  // the client to read its last answer: idle_timeout
    kLinger,   // the client to stop sending after its last answer: linger
  };

  GuardProxy(tunnel::EventLoop* loop, std::unique_ptr<HttpGuard> guard,
             EventsCallback on_events, DoneCallback done, ProxyLimits limits);
  void Begin(tunnel::UniqueFd client, tunnel::UniqueFd target);
  void OnEvent(bool client_side, uint32_t events);
  bool WantsRead(bool client_side) const;
  void Read(bool client_side);
  void Apply(const GuardOutput& output);
  void Flush(Side& side);
  void AbortTarget();
  void Update();
  // Moves the deadline when the phase changes; returns whether it passed.
  // `ending`: the client is to be closed once its answers are out.
  bool CheckDeadline(bool ending);
  void OnTimer();
  void Finish();

  tunnel::EventLoop* const loop_;
  std::unique_ptr<HttpGuard> guard_;
  EventsCallback on_events_;
  DoneCallback done_;
  const ProxyLimits limits_;
  Side client_;
  Side target_;
  bool failed_ = false;
  bool target_aborted_ = false;
  bool finished_ = false;
  size_t lingered_bytes_ = 0;
  Phase phase_ = Phase::kBusy;
  absl::Time deadline_ = absl::InfiniteFuture();
  absl::Time next_check_ = absl::InfiniteFuture();  // earliest armed timer
  // Timers may outlive the proxy; they hold this weakly.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_GUARD_PROXY_H_
