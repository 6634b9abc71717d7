#include "transport/relay_channel.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/channel_arguments.h"
#include "transport/stream_window.h"

namespace bowden::transport {

std::shared_ptr<grpc::Channel> MakeRelayChannel(const std::string& address,
                                                const identity::TlsFiles& tls) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 500);
  // gRPC takes this as the least time one connection attempt, TLS handshake
  // included, may take: at 500 ms a busy relay's or a slow link's handshake
  // failed as "Handshake read failed" and looked like a refused certificate.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 10000);
  // The agent resets it before each of its own attempts; for the CLI it
  // bounds how long a relay that came back stays unreachable.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 10000);
  args.SetMaxReceiveMessageSize(1 << 20);
  args.SetInt(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
  // Memory (issue 12): bounds what a stalled session buffers here.
  BoundStreamWindows([&args](const char* name, int value) { args.SetInt(name, value); });
  // Each process gets its own connection: the CLI and an agent on one host
  // must not share a subchannel (and its certificate).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, identity::MakeChannelCredentials(tls),
                                   args);
}

namespace {

// What OpenSSL said after "SSL routines::" or the alert it received
// ("sslv3 alert certificate expired" -> "certificate expired"), or "".
std::string TlsReason(const std::string& message) {
  for (absl::string_view marker : {"alert ", "SSL routines::"}) {
    size_t at = message.rfind(std::string(marker));
    if (at == std::string::npos) continue;
    std::string reason = message.substr(at + marker.size());
    size_t end = reason.find_first_of(".\n");
    return end == std::string::npos ? reason : reason.substr(0, end);
  }
  return "";
}

}  // namespace

std::string DescribeCallError(const grpc::Status& status,
                              const std::string& relay_address) {
  const std::string& message = status.error_message();
  // gRPC's words for a connection it could not make. A bare "Connection
  // refused" is not one: the relay passes on an agent's report that the
  // printer's local service refused (the agent names it).
  const bool connecting = absl::StrContains(message, "failed to connect") ||
                          absl::StrContains(message, "connections to all backends failing");
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // identity::RelayNameVerifier's sentence says all there is to say.
    size_t wrong_name = message.find("the relay's certificate is not for ");
    if (wrong_name != std::string::npos) return message.substr(wrong_name);
    if (absl::StrContains(message, "certificate verify failed")) {
      return absl::StrCat("relay ", relay_address,
                          "'s certificate is not signed by the CA in --ca (", TlsReason(message),
                          "): is --ca this farm's CA, and --relay this farm's relay?");
    }
    if (absl::StrContains(message, "wrong version number") ||
        absl::StrContains(message, "packet length too long") ||
        absl::StrContains(message, "http request") ||
        absl::StrContains(message, "unknown protocol")) {
      return absl::StrCat("what answers at ", relay_address,
                          " does not speak TLS, so it is not a Bowden relay: is --relay right?");
    }
    // The relay sent a TLS alert: it refused our certificate, and says why.
    if (absl::StrContains(message, " alert ")) {
      return absl::StrCat("relay ", relay_address, " refused your certificate (TLS alert: ",
                          TlsReason(message),
                          "): is it issued by this farm's CA and still valid?");
    }
    if (connecting && absl::StrContains(message, "Connection refused")) {
      return absl::StrCat("relay ", relay_address,
                          " refused the connection: nothing listens there; is the relay "
                          "running and is --relay right?");
    }
    if (connecting && (absl::StrContains(message, "Timeout occurred") ||
                       absl::StrContains(message, "timed out") ||
                       absl::StrContains(message, "Deadline Exceeded"))) {
      return absl::StrCat("relay ", relay_address,
                          " did not answer in time: is it running, frozen or overloaded, and "
                          "does a firewall drop the traffic?");
    }
    // With TLS 1.3 a client whose certificate the relay rejects only sees
    // the socket close; so does one the relay drops while overloaded.
    if (connecting && (absl::StrContains(message, "Socket closed") ||
                       absl::StrContains(message, "Handshake read failed") ||
                       absl::StrContains(message, "Handshake write failed"))) {
      return absl::StrCat(
          "relay ", relay_address,
          " closed the connection during the TLS handshake: it refused your certificate (is it "
          "issued by this farm's CA and still valid?) or it is refusing connections while "
          "overloaded (try again in a moment)");
    }
    if (connecting) {
      return absl::StrCat("relay ", relay_address,
                          " is unreachable: is it running and is --relay right? (", message, ")");
    }
    if (absl::StrContains(message, "Socket closed")) {
      return absl::StrCat("the connection to relay ", relay_address, " dropped");
    }
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::StrCat("relay ", relay_address,
                        " did not answer in time: it may be frozen or overloaded, or the "
                        "network to it is down (", message, ")");
  }
  return message;
}

}  // namespace bowden::transport
