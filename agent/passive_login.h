#ifndef BOWDEN_AGENT_PASSIVE_LOGIN_H_
#define BOWDEN_AGENT_PASSIVE_LOGIN_H_

// The two requests of OctoPrint's passive login, as its web UI makes them on
// every page load, and how to read OctoPrint's answers. Pure functions; the
// probe (octoprint_probe.h) does the I/O. Checked against OctoPrint 1.10:
//
// - `POST /api/login` with `{"passive": true}` is where autologinLocal
//   happens (server/util/flask.py passive_login): a client whose address is in
//   accessControl.localNetworks is logged in as accessControl.autologinAs.
//   The answer is 200 with the user record: `"name"` is the user, and the
//   anonymous user's record has no `"name"` at all (access/users.py
//   AnonymousUser.as_dict). OctoPrint before 1.4 answered 204 for nobody.
// - Since 1.8.3 that POST is CSRF-protected (server/util/csrf.py): the
//   `csrf_token` cookie (named with OctoPrint's suffix, e.g.
//   `csrf_token_P5000`) and the `X-CSRF-Token` header must carry tokens that
//   OctoPrint signed with its own secret key, so a client cannot make one up:
//   it takes the cookie from a page that sets it (`GET /login/`, as the UI's
//   login page does) and sends it back in both places. Without them OctoPrint
//   answers 400 "CSRF validation failed".

#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::agent {

// A cookie: name and value.
using Cookie = std::pair<std::string, std::string>;

// The request that fetches OctoPrint's CSRF cookie, with `host` as its Host.
std::string CsrfPageRequest(absl::string_view host);

// The CSRF cookie in one Set-Cookie field value (`csrf_token` or
// `csrf_token_<suffix>`), or nullopt if the field sets another cookie or is
// malformed.
std::optional<Cookie> CsrfCookieFromSetCookie(absl::string_view set_cookie);

// The passive login request, with `csrf` (if any) as cookie and header.
std::string PassiveLoginRequest(absl::string_view host,
                                const std::optional<Cookie>& csrf);

// The user a passive login answer says the client is logged in as, "" for
// nobody. FailedPrecondition if OctoPrint refused the request (e.g. 400
// for a failed CSRF check), Unavailable if the answer is not OctoPrint's.
absl::StatusOr<std::string> ReadPassiveLoginAnswer(int status,
                                                   absl::string_view body);

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_PASSIVE_LOGIN_H_
