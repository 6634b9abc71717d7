#ifndef BOWDEN_RELAY_SIGNING_H_
#define BOWDEN_RELAY_SIGNING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "identity/spiffe_id.h"

namespace bowden::relay {

// The relay's certificate authority, for enrollment and renewal. An empty
// `ca_dir` means the relay signs nothing (no --ca-dir).
struct SigningConfig {
  std::string ca_dir;        // ca.crt and ca.key: the CA that signs now
  std::string trust_bundle;  // the relay's --ca file: what peers should trust
  absl::Duration agent_ttl = absl::Hours(24);
  absl::Duration user_ttl = absl::Hours(12);
};

// A certificate signed for a peer, with the trust bundle it should now use.
struct SignedCertificate {
  std::string certificate_pem;
  std::string trust_bundle_pem;
  absl::Time not_after;
};

// Reads the relay's trust bundle now, so a CA rotation (a rewritten --ca
// file) reaches peers at their next enrollment or renewal.
absl::StatusOr<std::string> ReadTrustBundle(const SigningConfig& config);

// Signs a certificate for `id` (an agent or user) to the key of `csr_pem`
// with the lifetime its kind gets. The identity comes from `id`, never from
// the CSR. FailedPrecondition when the relay does not sign; InvalidArgument
// for a bad CSR (see certs::SignCsr).
absl::StatusOr<SignedCertificate> SignForPeer(const SigningConfig& config,
                                              absl::string_view csr_pem,
                                              const identity::SpiffeId& id);

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_SIGNING_H_
