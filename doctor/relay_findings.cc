#include "doctor/relay_findings.h"

#include <string>

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

Finding RelayCertificateFinding(absl::Time not_after, absl::Time now) {
  std::string what =
      absl::StrCat("the relay's certificate is valid until ", When(not_after),
                   " (", HumanDuration(not_after - now), " left)");
  if (not_after - now > kRelayCertificateWarning) return Ok(std::move(what));
  return Warn(std::move(what),
              "nothing renews it: on the CA host run `bowden ca issue --dir "
              "DIR relay NAME --dns HOST` again (a year by default); the "
              "relay uses the new files within seconds, no restart");
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
