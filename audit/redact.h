#ifndef BOWDEN_AUDIT_REDACT_H_
#define BOWDEN_AUDIT_REDACT_H_

// Text hygiene for audit records: secrets out, arbitrary bytes made safe.
// The audit log is read by operators and kept for a long time; an API key or
// session cookie in it would be a credential leak with a long tail. The HTTP
// guard redacts before it builds an AuditEvent.
//
// All functions are pure and thread-safe.

#include <string>

#include "absl/strings/string_view.h"

namespace bowden::audit {

inline constexpr absl::string_view kRedacted = "[redacted]";

// Whether a header carries a credential: X-Api-Key, Authorization,
// Proxy-Authorization, Cookie, Set-Cookie, X-CSRF-Token. Case-insensitive,
// and '_' counts as '-' (OctoPrint's WSGI layer treats them alike).
bool IsSecretHeader(absl::string_view name);

// The value to log for header `name`. Cookie keeps the cookie names
// ("session_P5000=[redacted]; csrf_token_P5000=[redacted]"), Set-Cookie its
// name and attributes, Authorization its scheme ("Bearer [redacted]");
// other secret headers become "[redacted]"; the rest pass unchanged.
std::string RedactHeaderValue(absl::string_view name, absl::string_view value);

// Redacts the values of credential parameters in a URL, query string or
// form body: apikey, api_key, pass, password (names case-insensitive), e.g.
// "/api/job?apikey=[redacted]&x=1".
std::string RedactQuery(absl::string_view text);

// Redacts string values of JSON members named password, pass, current,
// apikey, api_key, key, session or token (case-insensitive), as in
// OctoPrint's login ({"user","pass"}), password change ({"password",
// "current"}), settings ({"api":{"key"}}) and login replies ("session").
// Works on fragments and invalid JSON; never unescapes.
std::string RedactJson(absl::string_view text);

// All of the above over free text such as a raw HTTP request: each line that
// looks like "Name: value" gets RedactHeaderValue, then RedactQuery and
// RedactJson run over the result.
std::string RedactSecrets(absl::string_view text);

// `text` if it is valid UTF-8; otherwise a copy with each byte that is not
// part of a valid sequence written as \xNN.
std::string EscapeInvalidUtf8(absl::string_view text);

}  // namespace bowden::audit

#endif  // BOWDEN_AUDIT_REDACT_H_
