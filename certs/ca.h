// The farm's certificate authority: one EC P-256 CA per trust domain, kept in a
// directory on the admin's machine, minting short-lived leaf certificates whose
// single URI SAN is the holder's SPIFFE id. See certs/README.md.
//
// Every function here is safe to call from several threads and processes at
// once: each takes an exclusive lock on the CA directory for its duration, and
// every file is replaced atomically.

#ifndef BOWDEN_CERTS_CA_H_
#define BOWDEN_CERTS_CA_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bowden::certs {

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
absl::Status InitCa(const std::string& dir, const std::string& trust_domain);

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

}  // namespace bowden::certs

#endif  // BOWDEN_CERTS_CA_H_
