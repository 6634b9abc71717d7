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

// Turns a failed call's status into one sentence for a person: tells a
// relay that cannot be reached from a relay certificate for another host
// name and from a TLS handshake failure (certificate rejected), and passes
// the relay's own explanations through (e.g. the agent's report that the
// printer's local service refused the connection).
std::string DescribeCallError(const grpc::Status& status,
                              const std::string& relay_address);

}  // namespace bowden::transport

#endif  // BOWDEN_TRANSPORT_RELAY_CHANNEL_H_
