#include "agent/octoprint_probe.h"

#include <boost/asio/buffer.hpp>
#include <functional>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/http_exchange.h"
#include "agent/passive_login.h"
#include "guard/canonical_path.h"
#include "guard/forwarding.h"
#include "guard/http_parsers.h"

namespace bowden::agent {
namespace {

// The user whose X-Forwarded-For the forwarded probe carries: every user's
// address is in the same range, any one shows what OctoPrint does with it.
constexpr char kProbeUser[] = "bowden-login-probe";

// Turns a request into what goes on the wire: as it is, or forwarded.
using Wire = std::function<absl::StatusOr<std::string>(const std::string&)>;

// One passive login as the UI makes it: the CSRF cookie first, then the POST.
absl::StatusOr<std::string> PassiveLogin(const ProbeTarget& target,
                                         const Wire& wire,
                                         absl::Time deadline) {
  absl::StatusOr<std::string> page = wire(CsrfPageRequest(target.host));
  if (!page.ok()) return page.status();
  absl::StatusOr<HttpAnswer> cookies =
      ExchangeOnce(target.address, *page, deadline, /*head_only=*/true);
  if (!cookies.ok()) return cookies.status();
  // OctoPrint before 1.8.3 sets none and checks none.
  std::optional<Cookie> csrf;
  for (const std::string& set_cookie : cookies->set_cookies) {
    if (!csrf.has_value()) csrf = CsrfCookieFromSetCookie(set_cookie);
  }
  absl::StatusOr<std::string> login =
      wire(PassiveLoginRequest(target.host, csrf));
  if (!login.ok()) return login.status();
  absl::StatusOr<HttpAnswer> answer =
      ExchangeOnce(target.address, *login, deadline);
  if (!answer.ok()) return answer.status();
  return ReadPassiveLoginAnswer(answer->status, answer->body);
}

}  // namespace

absl::StatusOr<std::string> AsForwardedSession(
    const std::string& request, const std::string& remote_user_header) {
  guard::RequestParser parser;
  parser.keep_body = true;
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(request), ec);
  if (ec || !parser.is_done())
    return absl::InternalError("the probe's request does not parse");
  absl::StatusOr<guard::CanonicalTarget> target =
      guard::Canonicalize(parser.target);
  if (!target.ok()) return target.status();
  // The guard's own identity for a session of kProbeUser, with no single
  // sign-on user: the probe asks what a session gets without credentials.
  guard::ProxyIdentity proxy{guard::ForwardedForAddress(kProbeUser),
                             remote_user_header, ""};
  return absl::StrCat(
      guard::BuildForwardedHead(parser, *target, proxy, /*drop_expect=*/false),
      parser.body);
}

absl::StatusOr<LoginProbe> ProbeOctoPrintLogin(const ProbeTarget& target,
                                               absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<std::string> local = PassiveLogin(
      target, [](const std::string& request) { return request; }, deadline);
  if (!local.ok()) return local.status();
  absl::StatusOr<std::string> remote = PassiveLogin(
      target,
      [&](const std::string& request) {
        return AsForwardedSession(request, target.remote_user_header);
      },
      deadline);
  if (!remote.ok()) return remote.status();
  return LoginProbe{*local, *remote};
}

std::string TunnelAutologinRefusal(const std::string& target,
                                   const std::string& user) {
  return absl::StrCat(
      "the printer's OctoPrint ('", target,
      "') logs every tunnel session in as '", user,
      "' without a password, so the agent refuses to serve it: on the printer "
      "host turn off OctoPrint's accessControl.autologinLocal, or remove the "
      "accessControl.localNetworks entry that covers ",
      guard::kForwardedForRange,
      " (the agent's forwarded addresses), and restart OctoPrint; or start "
      "bowden-agent with --allow-octoprint-autologin to serve it anyway");
}

std::string TunnelAutologinAllowed(const std::string& target,
                                   const std::string& user) {
  return absl::StrCat(
      "OctoPrint ('", target, "') logs every tunnel session in as '", user,
      "' without a password, so every Bowden user, viewers too, acts as '",
      user,
      "' in OctoPrint; served anyway because of --allow-octoprint-autologin");
}

std::string LocalAutologinWarning(const std::string& target,
                                  const std::string& user) {
  return absl::StrCat(
      "OctoPrint ('", target,
      "') logs every program on the printer host in as '", user,
      "' without a password (accessControl.autologinLocal); tunnel sessions "
      "are not (their forwarded addresses in ",
      guard::kForwardedForRange,
      " are outside its localNetworks), but turn autologinLocal off unless "
      "you need it");
}

}  // namespace bowden::agent
