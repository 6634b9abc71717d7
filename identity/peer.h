#ifndef BOWDEN_IDENTITY_PEER_H_
#define BOWDEN_IDENTITY_PEER_H_

#include <openssl/x509.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/security/auth_context.h"
#include "identity/spiffe_id.h"

namespace bowden::identity {

// The verified identity of the peer of a call, taken from its client
// certificate, required to belong to `trust_domain` and be of kind `want`.
// Errors are UNAUTHENTICATED (no usable identity) or PERMISSION_DENIED (a
// valid identity of the wrong kind), each with a sentence saying what to do.
absl::StatusOr<SpiffeId> AuthenticatePeer(const grpc::AuthContext& auth,
                                          absl::string_view trust_domain,
                                          PeerKind want);

// What the relay needs of a peer's verified leaf certificate besides its
// identity: the serial (for revocation by serial) and its validity window
// (a revoked identity may come back only with a certificate issued after the
// revocation).
struct PeerCertificate {
  std::string serial_hex;  // upper-case hex, no leading zeros
  absl::Time not_before;
  absl::Time not_after;
  // Why the certificate is a CA's rather than a leaf ("basicConstraints
  // CA:TRUE", "keyUsage keyCertSign", both joined by " and "), or "" for a
  // leaf. A CA certificate the farm CA signed (an intermediate, a mistake)
  // chains like a leaf, so TLS verification alone accepts it as a peer.
  std::string ca_marks;
};

// The serial, validity and CA marks of the first certificate in `pem`;
// InvalidArgument if there is none or it cannot be read.
absl::StatusOr<PeerCertificate> ParseCertificatePem(absl::string_view pem);

// The same for a parsed certificate; InvalidArgument if its serial or
// validity cannot be read.
absl::StatusOr<PeerCertificate> DescribeCertificate(X509* cert);

// `time` as an absl::Time (UTC); InvalidArgument if it cannot be read.
absl::StatusOr<absl::Time> CertificateTime(const ASN1_TIME* time);

// Reads the peer's leaf certificate from the call's auth context;
// UNAUTHENTICATED if it is a CA certificate (PeerCertificate::ca_marks):
// peers must be leaves. Each
// distinct certificate is parsed once per process and remembered (at most a
// few thousand). Thread-safe.
absl::StatusOr<PeerCertificate> PeerCertificateOf(const grpc::AuthContext& auth);

}  // namespace bowden::identity

#endif  // BOWDEN_IDENTITY_PEER_H_
