#ifndef BOWDEN_DOCTOR_RELAY_FINDINGS_H_
#define BOWDEN_DOCTOR_RELAY_FINDINGS_H_

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "doctor/finding.h"
#include "grpcpp/security/auth_context.h"
#include "identity/peer.h"
#include "proto/tunnel.pb.h"

namespace bowden::doctor {

// Clock skew beyond this makes a certificate the relay just issued "not yet
// valid" here, or ours not yet valid at the relay: it is certs::kIssueBackdate,
// the slack issuance leaves for clocks.
absl::Duration MaxClockSkew();

// The clock finding from a call sent at `sent` and answered at `received`
// (this host's clock) carrying the relay's clock `relay_time`. The relay's
// time is compared with the middle of the round trip; the round trip's half
// is the error bar and is not counted as skew.
Finding ClockFinding(absl::Time sent, absl::Time received,
                     absl::Time relay_time);

// How long before the relay's own certificate expires both doctors warn.
// Nothing renews it (`bowden ca issue ... relay` gives it a year), so the
// operator gets a month to re-issue it.
inline constexpr absl::Duration kRelayCertificateWarning = absl::Hours(24 * 30);

// The relay's certificate as the TLS handshake presented it: a FAIL when it
// is a CA certificate rather than a leaf (`cert.ca_marks`) or has expired, a
// WARN within kRelayCertificateWarning of its end, else ok with its end date
// and the time left. Every FAIL and WARN says how to re-issue it. Pure.
Finding RelayCertificateFinding(const identity::PeerCertificate& cert,
                                absl::Time now);

// RelayCertificateFinding for the certificate the relay presented on a
// finished call (`auth`: the call's ClientContext::auth_context()); a WARN
// when the handshake carries none that can be read. Thread-safe.
Finding PresentedRelayCertificateFinding(const grpc::AuthContext& auth,
                                         absl::Time now);

// A failed relay call as a finding: `description` (transport's
// DescribeCallError, which says what to do), prefixed with the relay's
// address when it does not name it (the relay's own explanations do not).
Finding RelayCallFailed(const std::string& description,
                        const std::string& relay_address);

// The relay check when it cannot run because the local files cannot be read
// (ReadableFiles): a WARN that points at the FAIL lines above it.
Finding RelayNotChecked(const std::string& relay_address);

// What ListPrinters says this user may reach: one finding per printer (ok
// when online with a target, WARN when offline or without a target), or one
// WARN when there is none. `now` dates "last seen".
std::vector<Finding> PolicyFindings(
    const bowden::v1::ListPrintersResponse& response, absl::Time now);

}  // namespace bowden::doctor

#endif  // BOWDEN_DOCTOR_RELAY_FINDINGS_H_
