#include "doctor/relay_findings.h"

#include <grpc/grpc_security_constants.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "certs/ca.h"

namespace bowden::doctor {

absl::Duration MaxClockSkew() { return certs::kIssueBackdate; }

Finding ClockFinding(absl::Time sent, absl::Time received,
                     absl::Time relay_time) {
  absl::Duration half_trip = (received - sent) / 2;
  absl::Duration skew = relay_time - (sent + half_trip);
  absl::Duration beyond_error = absl::AbsDuration(skew) - half_trip;
  if (beyond_error <= MaxClockSkew()) {
    return Ok(absl::StrCat("clock agrees with the relay's (within ",
                           HumanDuration(absl::AbsDuration(skew) + half_trip),
                           ")"));
  }
  return Fail(
      absl::StrCat(
          "this host's clock is ", HumanDuration(skew),
          skew > absl::ZeroDuration() ? " behind" : " ahead of",
          " the relay's, more than the ", HumanDuration(MaxClockSkew()),
          " certificates allow, so fresh certificates look not yet valid "
          "or expired ones still valid"),
      "set the clocks right on this host and the relay (e.g. `timedatectl "
      "set-ntp true`)");
}

namespace {

// Nothing renews the relay's certificate; the relay watches its files, so a
// new pair in their place is all it takes.
constexpr char kReissueRelay[] =
    "on the CA host run `bowden ca issue --dir DIR relay NAME --dns HOST` "
    "again (a year by default) and put the new files in place of the "
    "relay's; the relay uses the new files within seconds, no restart";

}  // namespace

Finding RelayCertificateFinding(const identity::PeerCertificate& cert,
                                absl::Time now) {
  if (!cert.ca_marks.empty()) {
    return Fail(
        absl::StrCat("the relay's certificate (serial ", cert.serial_hex,
                     ") is a CA certificate (", cert.ca_marks,
                     "), not a leaf: its key can sign certificates "
                     "the farm would trust"),
        absl::StrCat("issue the relay a leaf: ", kReissueRelay));
  }
  if (now >= cert.not_after) {
    return Fail(absl::StrCat("the relay's certificate expired at ",
                             When(cert.not_after), " (",
                             HumanDuration(now - cert.not_after), " ago)"),
                kReissueRelay);
  }
  std::string what = absl::StrCat(
      "the relay's certificate is valid until ", When(cert.not_after), " (",
      HumanDuration(cert.not_after - now), " left)");
  if (cert.not_after - now > kRelayCertificateWarning)
    return Ok(std::move(what));
  return Warn(std::move(what),
              absl::StrCat("nothing renews it: ", kReissueRelay));
}

Finding PresentedRelayCertificateFinding(const grpc::AuthContext& auth,
                                         absl::Time now) {
  // Not identity::PeerCertificateOf: it refuses CA certificates, which this
  // finding names.
  std::vector<grpc::string_ref> pems =
      auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  absl::StatusOr<identity::PeerCertificate> cert =
      pems.size() == 1
          ? identity::ParseCertificatePem(
                absl::string_view(pems[0].data(), pems[0].size()))
          : absl::InvalidArgumentError("the handshake carries none");
  if (!cert.ok()) {
    return Warn(
        absl::StrCat(
            "the relay's certificate could not be read from the handshake: ",
            cert.status().message()),
        absl::StrCat("re-issue it: ", kReissueRelay));
  }
  return RelayCertificateFinding(*cert, now);
}

Finding RelayCallFailed(const std::string& description,
                        const std::string& relay_address) {
  if (absl::StrContains(description, relay_address))
    return Fail(description, "");
  return Fail(absl::StrCat("relay ", relay_address, ": ", description), "");
}

Finding RelayNotChecked(const std::string& relay_address) {
  return Warn(absl::StrCat("relay ", relay_address,
                           " not checked: it needs the certificate, "
                           "key and CA files"),
              "fix the files named above, then run the doctor again");
}

std::vector<Finding> PolicyFindings(
    const bowden::v1::ListPrintersResponse& response, absl::Time now) {
  std::vector<Finding> findings;
  if (response.printers().empty()) {
    findings.push_back(Warn("the relay's policy lets you reach no printer",
                            "ask the farm operator for a grant (relay --allow "
                            "USER=PRINTER or the policy file)"));
    return findings;
  }
  for (const bowden::v1::Printer& printer : response.printers()) {
    std::string targets = absl::StrJoin(printer.targets(), ", ");
    if (printer.targets().empty()) {
      findings.push_back(
          Warn(absl::StrCat("you may reach printer ", printer.id(),
                            " but none of its targets"),
               "ask the farm operator to grant a target (e.g. octoprint)"));
    } else if (!printer.online()) {
      std::string seen =
          printer.last_seen_unix() == 0
              ? "never seen"
              : absl::StrCat("last seen ",
                             HumanDuration(now - absl::FromUnixSeconds(
                                                     printer.last_seen_unix())),
                             " ago");
      findings.push_back(Warn(
          absl::StrCat("you may reach printer ", printer.id(), " (", targets,
                       ") but it is "
                       "offline, ",
                       seen),
          "on its host check the agent runs and can reach the relay "
          "(`bowden-agent doctor`)"));
    } else {
      findings.push_back(Ok(absl::StrCat("you may reach printer ", printer.id(),
                                         " (online): ", targets)));
    }
  }
  return findings;
}

}  // namespace bowden::doctor
