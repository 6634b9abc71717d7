#include "agent/doctor_checks.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/http_exchange.h"
#include "doctor/certificate_checks.h"
#include "doctor/relay_findings.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"
#include "tunnel/unique_fd.h"

namespace bowden::agent {
namespace {

using doctor::Fail;
using doctor::Finding;
using doctor::Ok;
using doctor::Warn;

std::string Named(const Target& target) {
  return absl::StrCat("target ", target.name, " (", target.host_port.ToString(),
                      ")");
}

// A blocking connect bounded by `timeout` (Linux applies SO_SNDTIMEO to it).
absl::Status ConnectOnce(const tunnel::SocketAddress& address,
                         absl::Duration timeout) {
  tunnel::UniqueFd fd(
      socket(address.storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return absl::InternalError(strerror(errno));
  timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage),
              address.length) != 0) {
    return absl::UnavailableError(errno == EINPROGRESS ? "no answer in time"
                                                       : strerror(errno));
  }
  return absl::OkStatus();
}

Finding CheckSnapshot(const Target& target, absl::Duration timeout) {
  absl::StatusOr<HttpAnswer> answer =
      ExchangeOnce(target.address,
                   absl::StrCat("GET /?action=snapshot HTTP/1.1\r\nHost: ",
                                target.host_port.ToString(),
                                "\r\nConnection: close\r\n\r\n"),
                   absl::Now() + timeout, /*head_only=*/true);
  std::string fix =
      "check the streamer (mjpg-streamer or ustreamer) runs with its HTTP "
      "output "
      "on this address";
  if (!answer.ok()) {
    return Fail(absl::StrCat(Named(target),
                             " does not answer HTTP for /?action=snapshot (",
                             answer.status().message(), ")"),
                fix);
  }
  if (answer->status != 200 ||
      !absl::StartsWithIgnoreCase(answer->content_type, "image/")) {
    return Fail(absl::StrCat(Named(target), " answers /?action=snapshot with ",
                             answer->status, " and content type '",
                             answer->content_type, "', not an image"),
                fix + " and a camera attached");
  }
  return Ok(absl::StrCat(Named(target), " serves a snapshot (",
                         answer->content_type, ")"));
}

}  // namespace

std::vector<Finding> CheckRelay(const std::string& relay_address,
                                const identity::TlsFiles& tls,
                                absl::Duration timeout) {
  if (relay_address.empty()) {
    return {Fail("no relay is configured",
                 "pass --relay HOST:PORT or set relay in the config")};
  }
  if (!doctor::ReadableFiles(tls, nullptr))
    return {doctor::RelayNotChecked(relay_address)};
  auto stub = bowden::v1::AgentService::NewStub(
      transport::MakeRelayChannel(relay_address, tls));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       absl::ToChronoMilliseconds(timeout));
  // No bowden-session-id: the relay authenticates us, then finds no session.
  auto stream = stub->Carry(&context);
  stream->WritesDone();
  bowden::v1::Chunk ignored;
  while (stream->Read(&ignored)) {
  }
  grpc::Status status = stream->Finish();
  if (status.error_code() != grpc::StatusCode::NOT_FOUND) {
    return {doctor::RelayCallFailed(
        transport::DescribeCallError(status, relay_address), relay_address)};
  }
  // Nothing renews the relay's own certificate, and no agent reaches the
  // relay once it lapses: what counts is the one it presented.
  return {Ok(absl::StrCat("relay ", relay_address,
                          " answered over mutual TLS and accepted this agent's "
                          "certificate")),
          doctor::PresentedRelayCertificateFinding(*context.auth_context(),
                                                   absl::Now())};
}

Finding LoginFinding(const Target& target,
                     const absl::StatusOr<LoginProbe>& probe,
                     bool allow_autologin) {
  if (!probe.ok()) {
    return Fail(absl::StrCat(Named(target),
                             ": OctoPrint's passive login gave no answer (",
                             probe.status().message(), ")"),
                "check OctoPrint runs and listens on this address (e.g. "
                "`systemctl status "
                "octoprint`), and that the target names OctoPrint, not another "
                "service");
  }
  if (!probe->as_remote.empty()) {
    if (allow_autologin) {
      return Warn(TunnelAutologinAllowed(target.name, probe->as_remote),
                  "turn off accessControl.autologinLocal in OctoPrint and drop "
                  "--allow-octoprint-autologin");
    }
    return Fail(TunnelAutologinRefusal(target.name, probe->as_remote), "");
  }
  if (!probe->as_local.empty()) {
    return Warn(LocalAutologinWarning(target.name, probe->as_local), "");
  }
  return Ok(absl::StrCat(
      Named(target),
      ": OctoPrint answers and logs nobody in without credentials, "
      "locally or through the tunnel"));
}

std::vector<Finding> CheckTargets(const TargetList& targets,
                                  const std::string& remote_user_header,
                                  bool allow_autologin,
                                  absl::Duration timeout) {
  std::vector<Finding> findings;
  if (targets.empty()) {
    findings.push_back(
        Fail("no target is configured",
             "add --target octoprint=127.0.0.1:5000 (and webcam=...) or target "
             "entries in the config"));
  }
  for (const auto& [name, target] : targets) {
    absl::Status connected = ConnectOnce(target.address, timeout);
    if (!connected.ok()) {
      findings.push_back(
          Fail(absl::StrCat(Named(target), " cannot be reached (",
                            connected.message(), ")"),
               "start the service or fix the target's address"));
      continue;
    }
    findings.push_back(Ok(absl::StrCat(Named(target), " accepts connections")));
    if (target.guard == GuardKind::kOctoPrint) {
      findings.push_back(LoginFinding(
          target,
          ProbeOctoPrintLogin(
              {target.address, target.host_port.ToString(), remote_user_header},
              timeout),
          allow_autologin));
    } else if (target.guard == GuardKind::kWebcam) {
      findings.push_back(CheckSnapshot(target, timeout));
    }
  }
  return findings;
}

}  // namespace bowden::agent
