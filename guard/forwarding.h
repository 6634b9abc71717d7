#ifndef BOWDEN_GUARD_FORWARDING_H_
#define BOWDEN_GUARD_FORWARDING_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "guard/canonical_path.h"
#include "guard/http_parsers.h"

namespace bowden::guard {

// Refuses requests whose framing or headers could be read two ways by two
// parsers (request smuggling, header smuggling): both Content-Length and
// Transfer-Encoding, several Content-Length fields, a Transfer-Encoding other
// than exactly "chunked", obs-fold continuation lines, NUL/CR/LF in names or
// values, not exactly one Host in HTTP/1.1, an HTTP version other than 1.0/1.1.
// `raw_header` is the header block exactly as received.
absl::Status CheckFraming(const RequestParser& request, absl::string_view raw_header);

// True for headers a client must never set because the backend trusts them
// from its proxy: forwarding and identity headers (X-Forwarded-*, Forwarded,
// X-Real-IP, X-Script-Name, X-Scheme, Remote-User, ...), compared after
// lower-casing and mapping '_' to '-'.
bool IsProxyOwnedHeader(absl::string_view name);

// The address a user's requests appear to come from: a fixed address per
// user in 100.64.0.0/10 (shared address space), outside OctoPrint's
// localNetworks, so no remote session ever looks local (autologinLocal) and
// each user gets their own login rate-limit bucket.
std::string ForwardedForAddress(absl::string_view user);

// The request head to send to the target: the canonical target, the client's
// fields minus proxy-owned ones and any with '_' in the name (which backends
// may merge with their '-' twins), plus the agent's own X-Forwarded-For,
// X-Forwarded-Proto and X-Forwarded-Host. `drop_expect` removes
// Expect: 100-continue when the guard answers it itself.
std::string BuildForwardedHead(const RequestParser& request,
                               const CanonicalTarget& target,
                               absl::string_view forwarded_for, bool drop_expect);

// Escapes `text` for a JSON string literal.
std::string JsonEscape(absl::string_view text);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_FORWARDING_H_
