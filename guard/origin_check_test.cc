#include "guard/origin_check.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "guard/http_guard.h"

namespace bowden::guard {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

TEST(IsLoopbackHostTest, AcceptsLoopbackAddressesAndLocalhostWithAnyPort) {
  for (const char* host : {"127.0.0.1", "127.0.0.1:8000", "127.1.2.3:65535",
                           "127.255.255.254", "localhost", "LocalHost:5000",
                           "[::1]", "[::1]:8080", "[0:0:0:0:0:0:0:1]:1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
}

TEST(IsLoopbackHostTest, RefusesEveryOtherName) {
  for (const char* host : {"",
                           "evil.example",
                           "evil.example:8000",
                           "127.0.0.1.evil.example",
                           "printer.localhost",
                           "localhost.",
                           "localhost.:80",
                           "128.0.0.1",
                           "10.0.0.1:80",
                           "0.0.0.0",
                           "[::]",
                           "[::ffff:127.0.0.1]",
                           "[::1",
                           "::1",
                           "[::1]x",
                           "127.0.0.1:",
                           "127.0.0.1:123456",
                           "127.0.0.1:80:80",
                           "127.0.0.1:8o",
                           "0x7f.0.0.1",
                           "2130706433",
                           "127.1",
                           "0177.0.0.1",
                           "127.000.000.001",
                           "user@127.0.0.1",
                           "127.0.0.1 ",
                           "[::1%lo]",
                           ":80"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << "'" << host << "'";
  }
}

TEST(CheckHostAndOriginTest, AForeignHostIsRefusedWithTheAddressToUse) {
  std::optional<OriginRefusal> refusal =
      CheckHostAndOrigin({{"Host", "evil.example:8000"}});
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->rule, "foreign-host");
  EXPECT_TRUE(absl::StrContains(refusal->reason, "'evil.example:8000'"))
      << refusal->reason;
  EXPECT_TRUE(absl::StrContains(refusal->reason, "DNS rebinding"))
      << refusal->reason;
  EXPECT_TRUE(absl::StrContains(refusal->reason, "`bowden open` printed"))
      << refusal->reason;
  // Even with a matching Origin: the rebound page's own origin.
  refusal = CheckHostAndOrigin(
      {{"host", "evil.example:8000"}, {"Origin", "http://evil.example:8000"}});
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->rule, "foreign-host");
}

TEST(CheckHostAndOriginTest, ALongOrControlLadenHostIsShownCutAndEscaped) {
  std::optional<OriginRefusal> refusal =
      CheckHostAndOrigin({{"Host", std::string(200, 'a') + "\x1b[31m"}});
  ASSERT_TRUE(refusal.has_value());
  EXPECT_TRUE(
      absl::StrContains(refusal->reason, std::string(64, 'a') + "...'"));
  EXPECT_FALSE(absl::StrContains(refusal->reason, std::string(65, 'a')));
  refusal = CheckHostAndOrigin({{"Host", "a\x1b[31m"}});
  ASSERT_TRUE(refusal.has_value());
  EXPECT_FALSE(absl::StrContains(refusal->reason, "\x1b")) << refusal->reason;
}

TEST(CheckHostAndOriginTest, LoopbackHostWithoutOriginPasses) {
  EXPECT_FALSE(CheckHostAndOrigin({{"Host", "127.0.0.1:8000"}}).has_value());
  EXPECT_FALSE(
      CheckHostAndOrigin({{"HOST", "localhost:8000"}, {"Accept", "*/*"}}));
  // HTTP/1.0 without Host (CheckFraming requires one Host in HTTP/1.1).
  EXPECT_FALSE(CheckHostAndOrigin({}).has_value());
}

TEST(CheckHostAndOriginTest, TheSameOriginPasses) {
  for (const auto& [host, origin] :
       std::vector<std::pair<std::string, std::string>>{
           {"127.0.0.1:8000", "http://127.0.0.1:8000"},
           {"LOCALHOST:8000", "http://localhost:8000"},
           {"localhost:8000", "HTTP://LocalHost:8000"},
           {"127.0.0.1", "http://127.0.0.1:80"},
           {"127.0.0.1:80", "http://127.0.0.1"},
           {"[::1]:9000", "http://[::1]:9000"},
       }) {
    EXPECT_FALSE(
        CheckHostAndOrigin({{"Host", host}, {"Origin", origin}}).has_value())
        << host << " " << origin;
  }
  // Without Host (HTTP/1.0) any loopback origin.
  EXPECT_FALSE(
      CheckHostAndOrigin({{"Origin", "http://127.0.0.1:1234"}}).has_value());
}

TEST(CheckHostAndOriginTest, AnyOtherOriginIsRefused) {
  for (const char* origin :
       {"http://evil.example", "http://evil.example:8000", "null", "",
        "https://127.0.0.1:8000", "http://127.0.0.1:8001",
        "http://localhost:8000", "http://127.0.0.2:8000",
        "http://127.0.0.1:8000/", "http://127.0.0.1:8000.evil.example",
        "file://", "http://[::1]:8000", "ws://127.0.0.1:8000",
        "http://127.0.0.1:08000x"}) {
    std::optional<OriginRefusal> refusal =
        CheckHostAndOrigin({{"Host", "127.0.0.1:8000"}, {"Origin", origin}});
    ASSERT_TRUE(refusal.has_value()) << origin;
    EXPECT_EQ(refusal->rule, "foreign-origin") << origin;
    EXPECT_TRUE(absl::StrContains(refusal->reason, "`bowden open` printed"))
        << origin;
  }
  EXPECT_TRUE(
      CheckHostAndOrigin({{"Origin", "http://evil.example"}}).has_value());
  EXPECT_TRUE(CheckHostAndOrigin({{"Host", "127.0.0.1:8000"},
                                  {"Origin", "http://127.0.0.1:8000"},
                                  {"Origin", "http://evil.example"}})
                  .has_value());
}

// The guard refuses before its rules: any role, any target kind.
GuardConfig Config(TargetKind kind) {
  GuardConfig config;
  config.kind = kind;
  config.role = policy::Role::kAdmin;
  config.user = "alice";
  config.remote_user_header = "X-Remote-User";
  config.inspect_body = [](const BodyRequest&) { return BodyVerdict{}; };
  return config;
}

TEST(HttpGuardOriginTest,
     AForeignHostNeverReachesTheTargetAndTheNextRequestStillDoes) {
  for (TargetKind kind : {TargetKind::kOctoPrint, TargetKind::kWebcam}) {
    HttpGuard guard(Config(kind));
    GuardOutput out;
    const char* path =
        kind == TargetKind::kOctoPrint ? "/api/version" : "/?action=snapshot";
    guard.FromClient(
        absl::StrCat("GET ", path,
                     " HTTP/1.1\r\nHost: evil.example:8000\r\n\r\n", "GET ",
                     path, " HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"),
        &out);
    EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 403 Forbidden\r\n"))
        << out.to_client;
    EXPECT_TRUE(absl::StrContains(out.to_client, "\"rule\":\"foreign-host\""))
        << out.to_client;
    EXPECT_FALSE(absl::StrContains(out.to_target, "evil.example"))
        << out.to_target;
    EXPECT_TRUE(absl::StrContains(out.to_target, "Host: 127.0.0.1:8000"))
        << out.to_target;
    std::vector<GuardEvent> events = guard.TakeEvents();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].verdict, "deny");
    EXPECT_EQ(events[0].rule, "foreign-host");
    EXPECT_EQ(events[0].status, 403);
    EXPECT_EQ(events[0].path,
              kind == TargetKind::kOctoPrint ? "/api/version" : "/");
  }
}

TEST(HttpGuardOriginTest, AForeignOriginCannotPostOrOpenAWebsocket) {
  HttpGuard guard(Config(TargetKind::kOctoPrint));
  GuardOutput out;
  guard.FromClient(
      "POST /api/job HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nOrigin: "
      "http://evil.example\r\n"
      "Content-Type: application/json\r\nContent-Length: 19\r\n\r\n"
      "{\"command\":\"start\"}"
      "GET /sockjs/123/abcdefgh/websocket HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
      "Origin: http://evil.example\r\nConnection: Upgrade\r\nUpgrade: "
      "websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
      "dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
      "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
      &out);
  EXPECT_EQ(out.to_target.find("/api/job"), std::string::npos) << out.to_target;
  EXPECT_EQ(out.to_target.find("websocket"), std::string::npos)
      << out.to_target;
  EXPECT_TRUE(absl::StartsWith(out.to_target, "GET /api/version HTTP/1.1\r\n"))
      << out.to_target;
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  for (const GuardEvent& event : events) {
    EXPECT_EQ(event.rule, "foreign-origin");
    EXPECT_EQ(event.status, 403);
  }
}

TEST(HttpGuardOriginTest, TheTunnelsOwnPageMayPostAndOpenItsWebsocket) {
  HttpGuard guard(Config(TargetKind::kOctoPrint));
  GuardOutput out;
  guard.FromClient(
      "GET /sockjs/123/abcdefgh/websocket HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
      "Origin: http://127.0.0.1:8000\r\nConnection: Upgrade\r\nUpgrade: "
      "websocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "
      "dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      &out);
  EXPECT_TRUE(absl::StartsWith(out.to_target,
                               "GET /sockjs/123/abcdefgh/websocket HTTP/1.1"))
      << out.to_target << out.to_client;
  EXPECT_TRUE(out.to_client.empty()) << out.to_client;
}

}  // namespace
}  // namespace bowden::guard
