#ifndef BOWDEN_CLI_FIRST_REQUEST_ROUTER_H_
#define BOWDEN_CLI_FIRST_REQUEST_ROUTER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tunnel/event_loop.h"
#include "tunnel/unique_fd.h"

namespace bowden::cli {

// Where a local connection goes, judged by the first bytes of its first
// request.
enum class FirstRoute {
  kUndecided,  // the bytes so far begin one of the webcam's request lines
  kOctoPrint,  // anything that is not a webcam request
  kWebcam,     // "GET /webcam/" or "HEAD /webcam/": OctoPrint's stream URL
};

// The most bytes ClassifyFirstBytes() needs ("HEAD /webcam/").
inline constexpr size_t kFirstRouteBytes = 13;

// Pure: kWebcam when `bytes` start with "GET /webcam/" or "HEAD /webcam/",
// kUndecided while they are a proper prefix of one of those, kOctoPrint
// otherwise. No other parsing: the agent's guard judges the request.
FirstRoute ClassifyFirstBytes(absl::string_view bytes);

// Holds accepted local connections until their first bytes say which target
// they belong to (one URL per printer, like OctoPi: OctoPrint's UI asks its
// own host for /webcam/?action=stream). It only peeks (MSG_PEEK): every byte
// stays in the socket for the pump that carries the connection. A connection
// still undecided after `timeout` goes to OctoPrint, whose guard then times
// the request head out; one closed before sending anything is dropped.
//
// Thread-compatible: Add() and the destructor run on the loop thread, which
// also runs `routed`. The loop must outlive the router.
class FirstRequestRouter {
 public:
  using Routed = std::function<void(tunnel::UniqueFd socket, FirstRoute route)>;

  FirstRequestRouter(tunnel::EventLoop* loop, absl::Duration timeout,
                     Routed routed);
  ~FirstRequestRouter();

  FirstRequestRouter(const FirstRequestRouter&) = delete;
  FirstRequestRouter& operator=(const FirstRequestRouter&) = delete;

  // Takes a connected, non-blocking socket.
  void Add(tunnel::UniqueFd socket);
  // Connections waiting for their first bytes (for tests).
  size_t waiting() const { return held_.size(); }

 private:
  struct Held {
    tunnel::UniqueFd socket;
    tunnel::EventLoop::WatchId watch = 0;
  };

  void OnEvent(uint64_t id, uint32_t events);
  // Stops watching connection `id` and hands it on (or closes it).
  void Finish(uint64_t id, FirstRoute route);

  tunnel::EventLoop* const loop_;
  const absl::Duration timeout_;
  const Routed routed_;
  absl::flat_hash_map<uint64_t, Held> held_;
  uint64_t next_id_ = 1;
  // Timers outlive the router; they check this first.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_FIRST_REQUEST_ROUTER_H_
