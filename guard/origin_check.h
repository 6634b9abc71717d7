#ifndef BOWDEN_GUARD_ORIGIN_CHECK_H_
#define BOWDEN_GUARD_ORIGIN_CHECK_H_

// Who may talk to the CLI's loopback port: only the browser tab that opened
// the address `bowden open` printed, never another web page.
//
// The CLI listens on 127.0.0.1, but a web page anywhere can still reach it:
//   - DNS rebinding: evil.example first resolves to the attacker, then to
//     127.0.0.1; the page's requests reach the port as same-origin requests
//     with `Host: evil.example:PORT`, read the answers, and with single
//     sign-on (--octoprint-remote-user-header) run as the user.
//   - Cross-site requests: a page posts a form or opens a websocket to
//     http://127.0.0.1:PORT; the browser says where from in `Origin`.
// So the guard accepts a request only if its Host names the loopback
// interface, and refuses any request whose Origin is another origin than
// the one in its Host.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace bowden::guard {

// A Host header value (RFC 9110 section 7.2: uri-host [":" port]) that names
// this computer's loopback interface: an IPv4 address in 127.0.0.0/8 in
// dotted-decimal, an IPv6 loopback literal in brackets ("[::1]"), or
// "localhost" (any case), each with an optional port of 1 to 5 digits.
// Refused: every other name, including "*.localhost" and "localhost." (some
// resolvers send those to DNS, and `bowden open` never prints them), IPv4 in
// other notations (0x7f.1, 2130706433, 127.1), an empty port, userinfo.
bool IsLoopbackHost(absl::string_view host);

// Why a request was refused: `rule` is a stable id for the 403 body and the
// audit log ("foreign-host", "foreign-origin"), `reason` one sentence.
struct OriginRefusal {
  std::string rule;
  std::string reason;
};

// Checks the Host and Origin fields of one request (`fields` as received,
// names in any case):
//   - Host must be IsLoopbackHost. A request without Host passes (only
//     HTTP/1.0 may omit it, and browsers always send it).
//   - Origin, when present, must be the origin of the Host itself:
//     "http://" + the Host's name and port (80 when absent), compared
//     without regard to case. "null" (sandboxed frames, file: pages) and
//     every other origin are foreign. Browsers send Origin on every
//     cross-origin request, on same-origin unsafe methods and on websocket
//     handshakes (SockJS's /sockjs/.../websocket is a GET upgrade), so a
//     foreign Origin is refused on every method: unsafe methods would act as
//     the user (CSRF), upgrades would open a websocket, and a cross-origin
//     GET is a read the tunnel has no reason to allow either.
//   - More than one Origin field is refused (which one would count?).
// Returns nothing when the request may pass. Thread-safe (pure).
std::optional<OriginRefusal> CheckHostAndOrigin(
    const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_ORIGIN_CHECK_H_
