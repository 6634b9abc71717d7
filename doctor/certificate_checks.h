#ifndef BOWDEN_DOCTOR_CERTIFICATE_CHECKS_H_
#define BOWDEN_DOCTOR_CERTIFICATE_CHECKS_H_

#include <vector>

#include "absl/time/time.h"
#include "doctor/finding.h"
#include "identity/credentials.h"
#include "identity/spiffe_id.h"

namespace bowden::doctor {

// Checks a peer's three PEM files as the relay will see them at `now`:
// certificate and key readable, key mode 0600, key matches the certificate,
// validity (expired, not yet valid, past its renewal time, time left),
// identity (a Bowden SPIFFE id of kind `want`) and the chain against the CA
// file. Reuses identity/ (CheckTlsFiles, ClientChainChecker) and enroll/
// (RenewalTime) rather than parsing X.509 again. Reads the files and nothing
// else; thread-safe.
// True when the certificate, key and CA files can all be read; otherwise
// adds a FAIL per unreadable file to `findings` (if not null). Without them
// no relay check can say anything true, so the doctors skip it.
bool ReadableFiles(const identity::TlsFiles& files,
                   std::vector<Finding>* findings);

std::vector<Finding> CheckCertificate(const identity::TlsFiles& files,
                                      identity::PeerKind want, absl::Time now);

}  // namespace bowden::doctor

#endif  // BOWDEN_DOCTOR_CERTIFICATE_CHECKS_H_
