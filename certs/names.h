// Validation of the names that end up inside certificates and file paths:
// trust domains, certificate names, DNS and IP SANs. Each error quotes the
// offending token (C-escaped, so control characters cannot reach a terminal)
// and says what would be accepted.
//
// All functions are pure and thread-safe.

#ifndef BOWDEN_CERTS_NAMES_H_
#define BOWDEN_CERTS_NAMES_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::certs {

// "Bowden CA " plus the trust domain must fit X.509's 64-character limit on a
// common name (ub-common-name, RFC 5280).
inline constexpr size_t kMaxTrustDomainLength = 64 - 10;
// A name is a file name, a CN and a SPIFFE path segment; 63 keeps it a valid
// DNS label too, should anyone use it as one.
inline constexpr size_t kMaxNameLength = 63;

// Lower-case letters, digits, '.' and '-'; starts and ends with a letter or
// digit; no empty labels; at most kMaxTrustDomainLength characters.
absl::Status ValidateTrustDomain(absl::string_view domain);

// [a-z0-9][a-z0-9._-]{0,62}, and not "ca", which names the CA's own files.
absl::Status ValidateName(absl::string_view name);

// A DNS name of dot-separated labels (letters, digits, '-'; no leading or
// trailing '-'; 1 to 63 characters each; 253 in all). Rejects IP literals,
// which belong in IP SANs, and wildcards, which a zero-trust peer never needs.
absl::Status ValidateDnsName(absl::string_view dns);

// Parses an IPv4 or IPv6 literal into the 4 or 16 network-order bytes an IP
// SAN holds.
absl::StatusOr<std::string> ParseIpAddress(absl::string_view ip);

// Returns `s` in double quotes with C escapes, for error messages.
std::string Quote(absl::string_view s);

}  // namespace bowden::certs

#endif  // BOWDEN_CERTS_NAMES_H_
