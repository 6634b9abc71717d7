#ifndef BOWDEN_AGENT_DOCTOR_CHECKS_H_
#define BOWDEN_AGENT_DOCTOR_CHECKS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/octoprint_probe.h"
#include "agent/targets.h"
#include "doctor/finding.h"
#include "identity/credentials.h"

namespace bowden::agent {

// The printer-host half of `bowden-agent doctor` (the certificate checks are
// doctor/certificate_checks.h). Each function blocks the calling thread for
// at most `timeout`; all are thread-safe.

// Relay reachable, TLS accepted both ways and the agent's certificate not
// refused: a Carry call for no session, which the relay authenticates before
// it answers NOT_FOUND. Unlike Attach, it cannot displace the running agent.
// When the relay answered, a second finding on the certificate it presented
// (doctor::PresentedRelayCertificateFinding: its end, or a CA certificate).
std::vector<doctor::Finding> CheckRelay(const std::string& relay_address,
                                        const identity::TlsFiles& tls,
                                        absl::Duration timeout);

// Each target: a TCP connect; then by guard, OctoPrint's login probe
// (ProbeOctoPrintLogin, as the running agent asks it) and the webcam's
// /?action=snapshot answering with an image.
// `allow_autologin` is --allow-octoprint-autologin.
std::vector<doctor::Finding> CheckTargets(const TargetList& targets,
                                          const std::string& remote_user_header,
                                          bool allow_autologin,
                                          absl::Duration timeout);

// What a login probe of `target` means, with the agent's own sentences
// (octoprint_probe.h): FAIL when tunnel sessions are logged in, WARN when
// only local programs are, FAIL when OctoPrint does not answer like
// OctoPrint. Pure; exposed for tests.
doctor::Finding LoginFinding(const Target& target,
                             const absl::StatusOr<LoginProbe>& probe,
                             bool allow_autologin);

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_DOCTOR_CHECKS_H_
