#ifndef BOWDEN_TRANSPORT_RELAY_CHANNEL_H_
#define BOWDEN_TRANSPORT_RELAY_CHANNEL_H_

#include <memory>
#include <string>

#include "grpcpp/channel.h"
#include "identity/credentials.h"

namespace bowden::transport {

// A gRPC channel to a relay at `address` (HOST:PORT) over mTLS, as agents and
// the CLI use it: keepalive pings every 10 s with a 10 s timeout so a dead
// relay is noticed within 30 s, reconnect backoff from 0.5 s to 30 s, and a
// message size limit matching the relay's.
//
// The channel itself is thread-safe.
std::shared_ptr<grpc::Channel> MakeRelayChannel(const std::string& address,
                                                const identity::TlsFiles& tls);

// Turns a failed call's status into one sentence for a person that names
// the actual cause: nothing listening (refused), no answer in time (frozen,
// overloaded, dropped by a firewall), something that does not speak TLS, a
// relay certificate this CA did not sign or that is for another host name,
// a TLS alert from the relay with its reason, a connection closed during the
// handshake. The relay's own explanations pass through (e.g. the agent's
// report that the printer's local service refused the connection).
std::string DescribeCallError(const grpc::Status& status,
                              const std::string& relay_address);

}  // namespace bowden::transport

#endif  // BOWDEN_TRANSPORT_RELAY_CHANNEL_H_
