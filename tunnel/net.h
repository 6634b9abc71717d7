#ifndef BOWDEN_TUNNEL_NET_H_
#define BOWDEN_TUNNEL_NET_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tunnel/unique_fd.h"

namespace bowden::tunnel {

// "HOST:PORT" split and checked; HOST may be a name, an IPv4 address or a
// bracketed IPv6 address ("[::1]:5000"). Port 0 is allowed (pick one).
struct HostPort {
  std::string host;
  uint16_t port = 0;

  std::string ToString() const;
};

absl::StatusOr<HostPort> ParseHostPort(absl::string_view text);

// A resolved socket address.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// Resolves `hp` to its first address (numeric hosts need no DNS).
absl::StatusOr<SocketAddress> Resolve(const HostPort& hp);

// A non-blocking listening TCP socket on `hp` with SO_REUSEADDR.
absl::StatusOr<UniqueFd> ListenTcp(const HostPort& hp);

// The port a bound socket ended up on.
absl::StatusOr<uint16_t> LocalPort(int fd);

// Disables Nagle: Bowden carries interactive traffic (HTTP requests, G-code
// commands), and a delayed-ACK/Nagle stall costs 40 ms per request.
void SetNoDelay(int fd);

// Makes `fd` non-blocking.
absl::Status SetNonBlocking(int fd);

// Closes `fd` with an RST instead of a FIN, so the peer sees a reset.
void ResetAndClose(UniqueFd fd);

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_NET_H_
