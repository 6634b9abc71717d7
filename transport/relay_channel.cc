#include "transport/relay_channel.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace bowden::transport {

std::shared_ptr<grpc::Channel> MakeRelayChannel(const std::string& address,
                                                const identity::TlsFiles& tls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 500);
  // The agent resets it before each of its own attempts; for the CLI it
  // bounds how long a relay that came back stays unreachable.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 10000);
  args.SetMaxReceiveMessageSize(1 << 20);
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
  // Each process gets its own connection: the CLI and an agent on one host
  // must not share a subchannel (and its certificate).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, identity::MakeChannelCredentials(tls),
                                   args);
}

std::string DescribeCallError(const grpc::Status& status,
                              const std::string& relay_address) {
  const std::string& message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // identity::RelayNameVerifier's sentence says all there is to say.
    size_t wrong_name = message.find("the relay's certificate is not for ");
    if (wrong_name != std::string::npos) return message.substr(wrong_name);
    // gRPC's own words for a connection it could not make. A bare
    // "Connection refused" is not one: the relay passes on an agent's report
    // that the printer's local service refused (the agent names it).
    bool connecting = absl::StrContains(message, "failed to connect");
    if (absl::StrContains(message, "andshake") ||
        absl::StrContains(message, "CERTIFICATE") ||
        absl::StrContains(message, "certificate") ||
        absl::StrContains(message, "SSL")) {
      return absl::StrCat(
          "the TLS handshake with relay ", relay_address,
          " failed (a certificate was rejected: check that --ca is the farm's "
          "CA and your certificate is current): ", message);
    }
    // With TLS 1.3 a client whose certificate the relay rejects only sees
    // the socket close while connecting.
    if (connecting && absl::StrContains(message, "Socket closed")) {
      return absl::StrCat(
          "relay ", relay_address,
          " closed the connection during the TLS handshake: it rejected your "
          "certificate (is it issued by this farm's CA and still valid?)");
    }
    if (connecting || absl::StrContains(message, "connections to all backends failing")) {
      return absl::StrCat("relay ", relay_address,
                          " is unreachable: is it running and is --relay right? (",
                          message, ")");
    }
    if (absl::StrContains(message, "Socket closed")) {
      return absl::StrCat("the connection to relay ", relay_address, " dropped");
    }
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED &&
      message == "Deadline Exceeded") {
    return absl::StrCat("relay ", relay_address, " did not answer in time");
  }
  return message;
}

}  // namespace bowden::transport
