#ifndef BOWDEN_GUARD_FORWARDING_H_
#define BOWDEN_GUARD_FORWARDING_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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

// Who the agent, as OctoPrint's proxy, says a request comes from.
struct ProxyIdentity {
  std::string forwarded_for;  // ForwardedForAddress(user)
  // Single sign-on: OctoPrint's accessControl.remoteUserHeader (e.g.
  // "Remote-User") and the user to log in; both empty when it is off.
  std::string remote_user_header;
  std::string remote_user;
};

// The request head to send to the target: the canonical target, the client's
// fields minus proxy-owned ones (and the single sign-on header) and any with
// '_' in the name (which backends may merge with their '-' twins), plus the
// agent's own X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and, with
// single sign-on, the remote-user header. `drop_expect` removes
// Expect: 100-continue when the guard answers it itself. With `body_length`
// the head announces a body of that many bytes (Content-Length, no
// Transfer-Encoding) instead of the client's: for a body the guard replaced.
// `plain_response` asks for the whole response in plain bytes, for a
// response the guard rewrites: the client's Accept-Encoding, TE, Range and
// If-Range are dropped and "Accept-Encoding: identity" is sent.
std::string BuildForwardedHead(const RequestParser& request,
                               const CanonicalTarget& target,
                               const ProxyIdentity& proxy, bool drop_expect,
                               std::optional<size_t> body_length = std::nullopt,
                               bool plain_response = false);

// The header name to send for OctoPrint's `remoteUserHeader` setting:
// OctoPrint reads it through WSGI, where REMOTE_USER, Remote_User and
// Remote-User are one key, and the guard never sends '_'. InvalidArgument for
// anything that is not an HTTP token.
absl::StatusOr<std::string> RemoteUserHeaderName(absl::string_view setting);

// Escapes `text` for a JSON string literal.
std::string JsonEscape(absl::string_view text);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_FORWARDING_H_
