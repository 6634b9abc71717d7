// The farm's certificate authority: one EC P-256 CA per trust domain, kept in a
// directory on the admin's machine, minting short-lived leaf certificates whose
// single URI SAN is the holder's SPIFFE id; and the requester's side of
// enrollment, where a peer makes its own key and sends only a CSR. See
// certs/README.md.
//
// Every function here is safe to call from several threads and processes at
// once: each that reads or writes the CA directory takes an exclusive lock on
// it for its duration, and every file is replaced atomically.

#ifndef BOWDEN_CERTS_CA_H_
#define BOWDEN_CERTS_CA_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bowden::certs {

// Every certificate's notBefore lies this far before its issuance, so peers
// whose clocks run a little behind accept it.
inline constexpr absl::Duration kIssueBackdate = absl::Minutes(5);

// What a certificate's holder is. The role fixes the SPIFFE id path and the
// extended key usage; the relay reads it back from the id, which is how an
// agent certificate can never Dial and a user certificate can never Attach.
enum class Role { kRelay, kAgent, kUser };

// Parses "relay", "agent" or "user" (exactly, lower case). InvalidArgument
// quoting the token otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view s);

// The inverse of ParseRole: "relay", "agent" or "user".
absl::string_view RoleName(Role role);

// What to put in a leaf certificate. A plain value; thread-compatible.
struct IssueOptions {
  Role role = Role::kAgent;
  // Printer id, user name or relay name: [a-z0-9][a-z0-9._-]{0,62}, not "ca".
  // It is the subject CN, the file name (DIR/<name>.crt, DIR/<name>.key) and,
  // for agents and users, the last segment of the SPIFFE id.
  std::string name;
  // Positive, and not past the CA's own expiry.
  absl::Duration ttl = absl::Hours(24);
  // Extra DNS SANs: a relay needs the names clients dial it by.
  std::vector<std::string> dns;
  // Extra IP SANs, IPv4 or IPv6 literals (e.g. 127.0.0.1, ::1).
  std::vector<std::string> ips;
};

// Creates the CA in `dir`: DIR/ca.key (PKCS#8 PEM, mode 0600) and DIR/ca.crt
// (mode 0644). The certificate is self-signed, EC P-256/ECDSA-SHA256, subject
// CN "Bowden CA <trust_domain>", URI SAN spiffe://<trust_domain>,
// basicConstraints critical CA:TRUE pathlen:0 (it signs leaves only), keyUsage
// critical keyCertSign+cRLSign, valid from five minutes ago for ten years.
// Creates `dir` (mode 0700) if missing.
//
// Errors: InvalidArgument for a bad trust domain (lower-case letters, digits,
// '.' and '-', at most 54 characters so the CN fits X.509's 64); AlreadyExists
// if DIR/ca.key exists, because replacing a CA silently invalidates every
// certificate it issued.
//
// Also writes DIR/bundle.crt, the trust bundle to hand the relay and peers as
// `--ca`: the CA now, both CAs during a rotation (RotateCa).
absl::Status InitCa(const std::string& dir, const std::string& trust_domain);

// Starts a CA rotation: DIR/ca.crt moves to DIR/previous-ca.crt, a new CA of
// the same trust domain (a distinct subject CN, with the date) replaces
// DIR/ca.key and DIR/ca.crt, and DIR/bundle.crt holds the new CA then the
// previous one. Leaves issued by either CA verify against the bundle; from now
// on only the new CA signs (the old key is gone). FailedPrecondition if there
// is no CA or a rotation is already under way. See docs/identity.md.
absl::Status RotateCa(const std::string& dir);

// Ends the overlap: removes DIR/previous-ca.crt and rewrites DIR/bundle.crt
// with the current CA only, so leaves of the previous CA stop verifying.
// FailedPrecondition if no rotation is under way.
absl::Status RetirePreviousCa(const std::string& dir);

// Issues a leaf certificate from the CA in `dir` and writes DIR/<name>.key
// (PKCS#8 PEM, mode 0600) then DIR/<name>.crt (that one certificate, PEM, mode
// 0644), replacing an earlier certificate for the same identity (renewal).
//
// The leaf has a fresh EC P-256 key, a random positive 16-byte serial, validity
// from now-5min (tolerating peers whose clocks run behind) to now+ttl, subject
// CN <name>, exactly one URI SAN:
//   relay: spiffe://<trust-domain>/relay
//   agent: spiffe://<trust-domain>/agent/<name>
//   user:  spiffe://<trust-domain>/user/<name>
// plus the DNS and IP SANs from `options`, basicConstraints CA:FALSE, keyUsage
// critical digitalSignature, extendedKeyUsage serverAuth+clientAuth (relay) or
// clientAuth (agent, user), subject and authority key identifiers.
//
// Errors: InvalidArgument for a bad name, ttl, DNS name or IP (quoting it);
// FailedPrecondition if there is no usable CA in `dir`; AlreadyExists if
// DIR/<name>.crt holds a different identity (say, an agent and a user both
// called "octo"), so that one never silently replaces the other.
absl::Status IssueCertificate(const std::string& dir,
                              const IssueOptions& options);

// Issues a leaf for (`role`, `name`) from the CA in `ca_dir` to the public key
// of `csr_pem`, the CA side of join-token enrollment. The leaf has exactly the
// profile IssueCertificate gives (serial, validity from now-5min to now+ttl,
// subject CN `name`, the one URI SAN of `role`, key usages, EKU, key
// identifiers) and no DNS or IP SANs. The identity comes from the arguments,
// which the caller takes from the join token: the CSR's subject, SANs and
// requested extensions are ignored, so a CSR asking to be someone else gains
// nothing. The CSR's self-signature is checked as proof that the requester
// holds the private key. Returns the leaf's PEM; writes no files.
//
// Errors: InvalidArgument "not a PEM certificate request", "the CSR's
// signature does not verify", "wrong key type: Bowden certificates use EC
// P-256 keys, got ...", or a bad name or ttl (as for IssueCertificate);
// FailedPrecondition if there is no usable CA in `ca_dir`.
absl::StatusOr<std::string> SignCsr(const std::string& ca_dir,
                                    absl::string_view csr_pem, Role role,
                                    const std::string& name,
                                    absl::Duration ttl);

// Refuses a CSR that asks for an identity other than (`name`, `spiffe_id`):
// a subject CN other than `name` or kEnrollmentCsrName, or any subjectAltName
// but `spiffe_id`. SignCsr ignores all of these anyway; the relay calls this
// first so that a request to be someone else is refused and audited instead
// of quietly signed for the token's identity. PermissionDenied, naming what
// was asked; InvalidArgument if `csr_pem` is not a CSR.
absl::Status CheckCsrAsksOnlyFor(absl::string_view csr_pem, absl::string_view name,
                                 absl::string_view spiffe_id);

// Refuses a CSR for another key than the certificate `cert_pem`'s: renewal
// keeps the key (a new key comes only with a new enrollment, which an admin's
// token allows and the audit log records). PermissionDenied when the keys
// differ; InvalidArgument if `csr_pem` is not a CSR whose self-signature
// verifies, FailedPrecondition if `cert_pem` is not a certificate.
absl::Status CheckCsrKeepsKeyOf(absl::string_view csr_pem, absl::string_view cert_pem);

// Returns the PEM of `ca_dir`/ca.crt (re-encoded: that one certificate only),
// the trust root handed to enrolling peers. FailedPrecondition if there is no
// CA or the file is not a certificate.
absl::StatusOr<std::string> ReadCaCertificate(const std::string& ca_dir);

// Lower-case hex SHA-256 of the DER encoding of the first certificate in
// `cert_pem`: what `openssl x509 -noout -fingerprint -sha256` prints, without
// the colons. Join tokens carry the CA's, so a new host can pin the CA without
// a copied file. InvalidArgument if `cert_pem` holds no PEM certificate.
absl::StatusOr<std::string> CertificateFingerprint(absl::string_view cert_pem);

// Lower-case hex SHA-256 over the DER encodings of every certificate in
// `bundle_pem`, concatenated in order: the pin a join token carries, so that
// every CA the enrolling host will trust is pinned, not just the first. For
// a one-CA bundle it equals CertificateFingerprint. InvalidArgument if the
// bundle holds no certificate.
absl::StatusOr<std::string> BundleFingerprint(absl::string_view bundle_pem);

// The subject CN of every CSR made below: a placeholder SignCsr never reads.
inline constexpr absl::string_view kEnrollmentCsrName = "bowden-enrollment";

// A fresh EC P-256 key and a CSR signed with it (subject CN
// kEnrollmentCsrName, no extensions), as {PKCS#8 key PEM, CSR PEM}, without
// touching disk: the caller writes the key only once the certificate has
// arrived, so a failed enrollment leaves nothing half-written. The caller owns
// the key PEM and should wipe it (OPENSSL_cleanse) once written.
absl::StatusOr<std::pair<std::string, std::string>> NewKeyAndCsr();

// A CSR for the existing private key `key_pem` (unencrypted PEM), for renewal
// with the same key. InvalidArgument if it is not such a key, or "wrong key
// type: ..." if it is not EC P-256 (SignCsr would refuse the CSR anyway).
absl::StatusOr<std::string> CsrForKey(absl::string_view key_pem);

// Like NewKeyAndCsr, but writes the key to `key_path` (PKCS#8 PEM, mode 0600
// from creation, fsync'ed, then renamed over any earlier key: enrollment and
// renewal replace it) and returns only the CSR. The directory must exist.
absl::StatusOr<std::string> GenerateKeyAndCsr(const std::string& key_path);

}  // namespace bowden::certs

#endif  // BOWDEN_CERTS_CA_H_
