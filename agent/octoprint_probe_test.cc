// The login probe against real local HTTP stand-ins that answer OctoPrint
// 1.10's passive login the way OctoPrint does: per X-Forwarded-For, and
// behind its CSRF double-submit check.

#include "agent/octoprint_probe.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/buffer.hpp>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/synchronization/mutex.h"
#include "agent/passive_login.h"
#include "gtest/gtest.h"
#include "guard/forwarding.h"
#include "guard/http_guard.h"
#include "guard/http_parsers.h"
#include "tunnel/net.h"

namespace bowden::agent {
namespace {

// What a stand-in saw of one request.
struct Seen {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> fields;
  std::string body;
  std::string raw;
  std::string Field(absl::string_view name) const {
    for (const auto& [n, v] : fields) {
      if (absl::EqualsIgnoreCase(n, name)) return v;
    }
    return "";
  }
};

// A real HTTP server on 127.0.0.1 (one request per connection, Beast parses
// it) answering with `answer`. Thread-safe; joins on destruction.
class StandIn {
 public:
  using Answer = std::function<std::string(const Seen&, int port)>;
  explicit StandIn(Answer answer) : answer_(std::move(answer)) {
    listener_ =
        tunnel::UniqueFd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(
        bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length),
        0);
    EXPECT_EQ(listen(listener_.get(), 16), 0);
    getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address),
                &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~StandIn() {
    stopping_ = true;
    shutdown(listener_.get(), SHUT_RDWR);
    thread_.join();
  }
  int port() const { return port_; }
  tunnel::SocketAddress address() const {
    return *tunnel::Resolve(
        *tunnel::ParseHostPort(absl::StrCat("127.0.0.1:", port_)));
  }
  ProbeTarget target(std::string remote_user_header = "") const {
    return {address(), absl::StrCat("127.0.0.1:", port_),
            std::move(remote_user_header)};
  }
  std::vector<Seen> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  void Serve() {
    while (!stopping_) {
      tunnel::UniqueFd client(
          accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!client.valid()) return;
      // Reparses all that arrived until one whole request has.
      Seen seen;
      char buffer[4096];
      for (bool done = false; !done;) {
        ssize_t n = recv(client.get(), buffer, sizeof(buffer), 0);
        if (n <= 0) break;
        seen.raw.append(buffer, n);
        guard::RequestParser parser;
        parser.keep_body = true;
        parser.eager(true);
        boost::beast::error_code ec;
        parser.put(boost::asio::buffer(seen.raw), ec);
        done = parser.is_done();
        seen.method = parser.method;
        seen.target = parser.target;
        seen.fields = parser.fields;
        seen.body = parser.body;
      }
      std::string answer = answer_(seen, port_);
      {
        absl::MutexLock lock(&mu_);
        seen_.push_back(std::move(seen));
      }
      send(client.get(), answer.data(), answer.size(), MSG_NOSIGNAL);
    }
  }

  Answer answer_;
  tunnel::UniqueFd listener_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
};

std::string Json(int status, absl::string_view body) {
  return absl::StrCat(
      "HTTP/1.1 ", status, " X\r\nContent-Type: application/json\r\n",
      "Content-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
}

// OctoPrint 1.10's answers. The anonymous user's record has no "name".
constexpr char kAnonymous[] =
    "{\"needs\":{\"role\":[]},\"_is_external_client\":false}";
constexpr char kAdmin[] =
    "{\"name\":\"admin\",\"active\":true,\"admin\":true,\"_login_mechanism\":"
    "\"autologin\"}";
constexpr char kPi[] = "{\"name\":\"pi\",\"_login_mechanism\":\"autologin\"}";
constexpr char kToken[] = "ImE1YjQ2N2RiIg.ZmY2Nw.c2lnbmVk";

bool FromTunnel(const Seen& seen) {
  std::string xff = seen.Field("X-Forwarded-For");
  return absl::StartsWith(xff, "198.18.") || absl::StartsWith(xff, "198.19.");
}

// Like OctoPrint with 198.18.0.0/15 in localNetworks and autologinLocal on.
// Before 1.4 OctoPrint answered 204 for nobody, as this one does for others.
std::string TunnelAutologin(const Seen& seen, int) {
  if (seen.method == "POST" && seen.target == "/api/login") {
    return FromTunnel(seen) ? Json(200, kAdmin) : Json(204, "");
  }
  return Json(404, "{}");
}

// Like OctoPrint 1.10 with default localNetworks and autologinLocal on: the
// login page sets the CSRF cookie, and the POST needs it and the header.
std::string CsrfCheckedLocalAutologin(const Seen& seen, int port) {
  const std::string cookie = absl::StrCat("csrf_token_P", port);
  if (seen.method == "GET" && seen.target == "/login/") {
    return absl::StrCat(
        "HTTP/1.1 200 OK\r\nSet-Cookie: session_P", port,
        "=abc; HttpOnly; Path=/\r\nSet-Cookie: ", cookie, "=", kToken,
        "; Path=/; SameSite=Lax\r\nContent-Type: text/html\r\n"
        "Content-Length: 13\r\nConnection: close\r\n\r\n<html></html>");
  }
  if (seen.method == "POST" && seen.target == "/api/login") {
    if (seen.Field("X-CSRF-Token") != kToken ||
        !absl::StrContains(seen.Field("Cookie"),
                           absl::StrCat(cookie, "=", kToken))) {
      return absl::StrCat(
          "HTTP/1.1 400 BAD REQUEST\r\nContent-Type: text/html\r\n",
          "Content-Length: 22\r\nConnection: close\r\n\r\n",
          "CSRF validation failed");
    }
    return FromTunnel(seen) ? Json(200, kAnonymous) : Json(200, kPi);
  }
  return Json(404, "{}");
}

TEST(OctoPrintProbeTest, SeesATunnelSessionLoggedInByPassiveLogin) {
  StandIn octoprint(TunnelAutologin);
  absl::StatusOr<LoginProbe> probe =
      ProbeOctoPrintLogin(octoprint.target(), absl::Seconds(5));
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->as_remote, "admin");
  EXPECT_EQ(probe->as_local, "");
  // It asked the way the UI does, and as a tunnel session: the guard's
  // forwarded address for a user, in 198.18.0.0/15.
  int forwarded_logins = 0;
  for (const Seen& seen : octoprint.seen()) {
    if (seen.target != "/api/login") continue;
    EXPECT_EQ(seen.method, "POST");
    EXPECT_EQ(seen.body, "{\"passive\":true}");
    EXPECT_EQ(seen.Field("Content-Type"), "application/json");
    if (FromTunnel(seen)) ++forwarded_logins;
  }
  EXPECT_EQ(forwarded_logins, 1);
}

TEST(OctoPrintProbeTest, PassesOctoPrintsCsrfCheckLikeTheUi) {
  StandIn octoprint(CsrfCheckedLocalAutologin);
  absl::StatusOr<LoginProbe> probe =
      ProbeOctoPrintLogin(octoprint.target(), absl::Seconds(5));
  ASSERT_TRUE(probe.ok()) << probe.status();
  EXPECT_EQ(probe->as_local, "pi");
  EXPECT_EQ(probe->as_remote, "");
  int posts = 0;
  for (const Seen& seen : octoprint.seen()) {
    if (seen.method != "POST") continue;
    ++posts;
    EXPECT_EQ(seen.Field("X-CSRF-Token"), kToken) << seen.raw;
  }
  EXPECT_EQ(posts, 2);
}

TEST(OctoPrintProbeTest, ARefusedPassiveLoginIsNotTakenForNobody) {
  // An OctoPrint whose login page sets no cookie the probe can use.
  StandIn octoprint([](const Seen& seen, int port) {
    if (seen.method == "GET") return Json(200, "{}");
    return CsrfCheckedLocalAutologin(seen, port);
  });
  absl::StatusOr<LoginProbe> probe =
      ProbeOctoPrintLogin(octoprint.target(), absl::Seconds(5));
  EXPECT_TRUE(absl::IsFailedPrecondition(probe.status())) << probe.status();
  EXPECT_TRUE(absl::StrContains(probe.status().message(), "HTTP 400"))
      << probe.status();
}

TEST(OctoPrintProbeTest, NoOctoPrintIsUnavailable) {
  int port;
  {
    StandIn gone([](const Seen&, int) { return Json(200, "{}"); });
    port = gone.port();
  }
  ProbeTarget target{*tunnel::Resolve(*tunnel::ParseHostPort(
                         absl::StrCat("127.0.0.1:", port))),
                     absl::StrCat("127.0.0.1:", port), ""};
  EXPECT_TRUE(absl::IsUnavailable(
      ProbeOctoPrintLogin(target, absl::Seconds(5)).status()));
  // Something that is not OctoPrint either.
  StandIn other([](const Seen&, int) { return Json(404, "{}"); });
  EXPECT_TRUE(absl::IsUnavailable(
      ProbeOctoPrintLogin(other.target(), absl::Seconds(5)).status()));
}

// The forwarded probe is byte for byte what the guard sends OctoPrint for a
// session's request, but for the user's address.
TEST(OctoPrintProbeTest, TheForwardedRequestIsWhatTheGuardSendsForASession) {
  std::string request =
      PassiveLoginRequest("127.0.0.1:5000", Cookie{"csrf_token_P5000", "t"});
  guard::GuardConfig config;
  config.kind = guard::TargetKind::kOctoPrint;
  config.role = policy::Role::kAdmin;  // the role does not change the head
  config.user = "alice";
  config.remote_user_header = "Remote-User";
  config.inspect_body = [](const guard::BodyRequest&) {
    return guard::BodyVerdict{};
  };
  guard::HttpGuard guard(config);
  guard::GuardOutput out;
  guard.FromClient(request, &out);
  ASSERT_TRUE(absl::StartsWith(out.to_target, "POST /api/login "))
      << out.to_client;

  absl::StatusOr<std::string> probe =
      AsForwardedSession(request, "Remote-User");
  ASSERT_TRUE(probe.ok()) << probe.status();
  // Single sign-on names the session's user; the probe has none to name.
  std::string session = absl::StrReplaceAll(
      out.to_target, {{guard::ForwardedForAddress("alice"),
                       guard::ForwardedForAddress("bowden-login-probe")},
                      {"Remote-User: alice\r\n", ""}});
  EXPECT_EQ(*probe, session);
}

TEST(PassiveLoginTest, ReadsOctoPrintsAnswers) {
  EXPECT_EQ(*ReadPassiveLoginAnswer(200, kAdmin), "admin");
  EXPECT_EQ(*ReadPassiveLoginAnswer(200, kAnonymous), "");
  EXPECT_EQ(*ReadPassiveLoginAnswer(200, "{\"name\":null}"), "");
  EXPECT_EQ(*ReadPassiveLoginAnswer(204, ""), "");
  EXPECT_TRUE(
      absl::IsFailedPrecondition(ReadPassiveLoginAnswer(400, "CSRF").status()));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(ReadPassiveLoginAnswer(403, "").status()));
  EXPECT_TRUE(absl::IsUnavailable(ReadPassiveLoginAnswer(404, "{}").status()));
  EXPECT_TRUE(
      absl::IsUnavailable(ReadPassiveLoginAnswer(200, "<html>").status()));
}

TEST(PassiveLoginTest, TakesOnlyTheCsrfCookie) {
  std::optional<Cookie> csrf = CsrfCookieFromSetCookie(
      "csrf_token_P5000=abc.def-1; Path=/; SameSite=Lax");
  ASSERT_TRUE(csrf.has_value());
  EXPECT_EQ(csrf->first, "csrf_token_P5000");
  EXPECT_EQ(csrf->second, "abc.def-1");
  EXPECT_EQ(CsrfCookieFromSetCookie("csrf_token=x")->first, "csrf_token");
  EXPECT_FALSE(
      CsrfCookieFromSetCookie("session_P5000=abc; HttpOnly").has_value());
  EXPECT_FALSE(CsrfCookieFromSetCookie("csrf_tokenX=abc").has_value());
  EXPECT_FALSE(CsrfCookieFromSetCookie("csrf_token_P5000=").has_value());
  // Nothing that could break the request head it goes into.
  EXPECT_FALSE(
      CsrfCookieFromSetCookie("csrf_token_P5000=a\r\nX: y").has_value());
  EXPECT_FALSE(CsrfCookieFromSetCookie("csrf_token_P5000=a b").has_value());
}

TEST(LoginMessagesTest, TheRefusalSaysWhatToChangeAndHowToOverride) {
  std::string refusal = TunnelAutologinRefusal("octoprint", "admin");
  for (const char* part : {"'admin'", "accessControl.autologinLocal",
                           "accessControl.localNetworks", "198.18.0.0/15",
                           "--allow-octoprint-autologin", "refuses"}) {
    EXPECT_TRUE(absl::StrContains(refusal, part))
        << part << " missing: " << refusal;
  }
  EXPECT_TRUE(absl::StrContains(LocalAutologinWarning("octoprint", "pi"),
                                "autologinLocal"));
  EXPECT_TRUE(absl::StrContains(TunnelAutologinAllowed("octoprint", "admin"),
                                "--allow-octoprint-autologin"));
}

}  // namespace
}  // namespace bowden::agent
