// bowden doctor: what is wrong with this user's set-up, one line per finding.

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/relay_session.h"
#include "doctor/certificate_checks.h"
#include "doctor/finding.h"
#include "doctor/relay_findings.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"

namespace bowden::cli {
namespace {

// Relay, clock and policy, from one ListPrinters call with the user's own
// credentials. Does not renew the certificate (ConnectAsUser would): the
// doctor reports, it changes nothing.
void CheckRelay(const CliOptions& options,
                std::vector<doctor::Finding>* findings) {
  if (options.relay.empty()) {
    findings->push_back(doctor::Fail("no relay is configured",
                                     "pass --relay HOST:PORT (or set relay in "
                                     "~/.config/bowden/cli.textproto)"));
    return;
  }
  if (!doctor::ReadableFiles(options.tls, nullptr)) {
    findings->push_back(doctor::RelayNotChecked(options.relay));
    return;
  }
  auto stub = bowden::v1::UserService::NewStub(
      transport::MakeRelayChannel(options.relay, options.tls));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  bowden::v1::ListPrintersResponse response;
  absl::Time sent = absl::Now();
  grpc::Status status = stub->ListPrinters(
      &context, bowden::v1::ListPrintersRequest(), &response);
  absl::Time received = absl::Now();
  if (!status.ok()) {
    findings->push_back(doctor::RelayCallFailed(
        transport::DescribeCallError(status, options.relay), options.relay));
    return;
  }
  findings->push_back(doctor::Ok(
      absl::StrCat("relay ", options.relay,
                   " answered over mutual TLS and accepted your certificate (",
                   doctor::HumanDuration(received - sent), " round trip)")));
  // Nothing renews the relay's own certificate; what counts is the one it
  // presents, not a file here.
  findings->push_back(doctor::PresentedRelayCertificateFinding(
      *context.auth_context(), absl::Now()));
  if (response.relay_time_unix_ms() == 0) {
    findings->push_back(doctor::Warn(
        "the relay does not report its clock, so skew was not measured",
        "upgrade the relay"));
  } else {
    findings->push_back(doctor::ClockFinding(
        sent, received, absl::FromUnixMillis(response.relay_time_unix_ms())));
  }
  for (doctor::Finding& finding :
       doctor::PolicyFindings(response, absl::Now())) {
    findings->push_back(std::move(finding));
  }
}

}  // namespace

int RunDoctor(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return UsageError(
        absl::StrCat("doctor takes no arguments, got '", args[0], "'"));
  }
  std::vector<doctor::Finding> findings = doctor::CheckCertificate(
      options.tls, identity::PeerKind::kUser, absl::Now());
  CheckRelay(options, &findings);
  return doctor::Report(findings, std::cout);
}

}  // namespace bowden::cli
