#ifndef BOWDEN_TUNNEL_CONNECTOR_H_
#define BOWDEN_TUNNEL_CONNECTOR_H_

#include <functional>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tunnel/event_loop.h"
#include "tunnel/net.h"
#include "tunnel/unique_fd.h"

namespace bowden::tunnel {

using ConnectCallback = std::function<void(absl::StatusOr<UniqueFd>)>;

// Opens a TCP connection to `address` without blocking the loop and calls
// `done` on the loop thread with the connected socket (non-blocking,
// TCP_NODELAY) or an error: UNAVAILABLE when refused or unreachable,
// DEADLINE_EXCEEDED after `timeout`. `describe` names the destination in
// error messages. Thread-safe.
void ConnectAsync(EventLoop* loop, const SocketAddress& address,
                  std::string describe, absl::Duration timeout,
                  ConnectCallback done);

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_CONNECTOR_H_
