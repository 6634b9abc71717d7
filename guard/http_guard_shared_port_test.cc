// `bowden open` serves OctoPrint and the webcam on one local port: the webcam
// guard takes OctoPi's /webcam/ paths, and a request on a kept-alive
// connection that belongs to the other target is left unanswered and the
// connection closed, so the browser sends it again on a fresh connection.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "guard/http_guard.h"

namespace bowden::guard {
namespace {

constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

GuardConfig Config(TargetKind kind, bool shared_port) {
  GuardConfig config;
  config.kind = kind;
  config.role = policy::Role::kViewer;
  config.user = "bob";
  config.shared_port = shared_port;
  return config;
}

std::string Get(absl::string_view path) {
  return absl::StrCat("GET ", path,
                      " HTTP/1.1\r\nHost: 127.0.0.1:15001\r\n\r\n");
}

TEST(HttpGuardSharedPortTest, WebcamPrefixIsRemovedBeforeForwarding) {
  for (bool shared : {false, true}) {
    HttpGuard guard(Config(TargetKind::kWebcam, shared));
    GuardOutput out;
    guard.FromClient(Get("/webcam/?action=snapshot&123"), &out);
    EXPECT_TRUE(absl::StartsWith(out.to_target,
                                 "GET /?action=snapshot&123 HTTP/1.1\r\n"))
        << out.to_target;
    guard.FromTarget(kOk, &out);
    guard.FromClient(
        "HEAD /webcam/stream HTTP/1.1\r\nHost: 127.0.0.1:15001\r\n\r\n", &out);
    EXPECT_TRUE(absl::StrContains(out.to_target, "HEAD /stream HTTP/1.1\r\n"))
        << out.to_target;
    guard.FromTarget("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", &out);
    std::vector<GuardEvent> events = guard.TakeEvents();
    ASSERT_EQ(events.size(), 2u);
    // The audit log keeps the path the browser asked for.
    EXPECT_EQ(events[0].path, "/webcam/");
    EXPECT_EQ(events[0].rule, "webcam.action");
    EXPECT_EQ(events[1].path, "/webcam/stream");
    EXPECT_EQ(events[1].rule, "webcam.stream");
    EXPECT_EQ(
        out.to_client,
        absl::StrCat(kOk, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"));
  }
}

TEST(HttpGuardSharedPortTest, WebcamPrefixGetsTheSameChecks) {
  HttpGuard guard(Config(TargetKind::kWebcam, true));
  GuardOutput out;
  guard.FromClient(Get("/webcam/?action=command&id=1"), &out);
  EXPECT_TRUE(out.to_target.empty());
  EXPECT_TRUE(absl::StrContains(out.to_client, "403 Forbidden"))
      << out.to_client;
  guard.FromClient(Get("/webcam/input.json"), &out);
  EXPECT_TRUE(out.to_target.empty());
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].verdict, "deny");
  EXPECT_EQ(events[1].rule, "default-deny");
}

TEST(HttpGuardSharedPortTest,
     OctoPrintLeavesAWebcamRequestOnAReusedConnectionUnanswered) {
  HttpGuard guard(Config(TargetKind::kOctoPrint, true));
  GuardOutput out;
  // Pipelined: the answer owed before it still goes out, then the close.
  guard.FromClient(
      absl::StrCat(Get("/api/version"), Get("/webcam/?action=snapshot"),
                   Get("/api/job")),
      &out);
  EXPECT_EQ(out.to_target.find("/webcam/"), std::string::npos) << out.to_target;
  EXPECT_EQ(out.to_target.find("/api/job"), std::string::npos) << out.to_target;
  EXPECT_TRUE(absl::StartsWith(out.to_target, "GET /api/version HTTP/1.1\r\n"));
  EXPECT_FALSE(guard.close_client());
  EXPECT_TRUE(out.to_client.empty());
  guard.FromTarget(kOk, &out);
  EXPECT_EQ(out.to_client, kOk);  // and not a byte for the moved request
  EXPECT_TRUE(guard.close_client());
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].verdict, "allow");
  EXPECT_EQ(events[1].verdict, "moved");
  EXPECT_EQ(events[1].rule, "moved-to-webcam");
  EXPECT_EQ(events[1].path, "/webcam/");
  EXPECT_EQ(events[1].status, 0);
  EXPECT_FALSE(events[1].interrupted);
  // Nothing is owed any more, so nothing more is audited at the end.
  guard.EndConnection();
  EXPECT_TRUE(guard.TakeEvents().empty());
}

TEST(HttpGuardSharedPortTest, AConnectionsFirstRequestIsAlwaysJudgedHere) {
  // The CLI sent it here (no webcam grant, or an idle connection routed
  // after the timeout): it gets an answer, not a close a client would not
  // retry on a fresh connection.
  HttpGuard guard(Config(TargetKind::kOctoPrint, true));
  GuardOutput out;
  guard.FromClient(Get("/webcam/?action=snapshot"), &out);
  EXPECT_TRUE(absl::StartsWith(out.to_target,
                               "GET /webcam/?action=snapshot HTTP/1.1\r\n"))
      << out.to_target;
  guard.FromTarget(kOk, &out);
  EXPECT_FALSE(guard.close_client());
  ASSERT_EQ(guard.TakeEvents().size(), 1u);
}

TEST(HttpGuardSharedPortTest,
     WithoutASharedPortOctoPrintForwardsWebcamRequests) {
  // An agent with no webcam target: OctoPi's haproxy may serve /webcam/.
  HttpGuard guard(Config(TargetKind::kOctoPrint, false));
  GuardOutput out;
  guard.FromClient(
      absl::StrCat(Get("/api/version"), Get("/webcam/?action=snapshot")), &out);
  EXPECT_TRUE(absl::StrContains(out.to_target,
                                "GET /webcam/?action=snapshot HTTP/1.1\r\n"))
      << out.to_target;
  EXPECT_FALSE(guard.close_client());
}

TEST(HttpGuardSharedPortTest,
     WebcamReachedThroughTheUrlLeavesOctoPrintRequestsUnanswered) {
  HttpGuard guard(Config(TargetKind::kWebcam, true));
  GuardOutput out;
  guard.FromClient(Get("/webcam/?action=snapshot"), &out);
  guard.FromTarget(kOk, &out);
  guard.FromClient(Get("/api/version"), &out);
  EXPECT_EQ(out.to_target.find("/api/version"), std::string::npos)
      << out.to_target;
  EXPECT_EQ(out.to_client, kOk);
  EXPECT_TRUE(guard.close_client());
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].verdict, "moved");
  EXPECT_EQ(events[1].rule, "moved-to-octoprint");
}

TEST(HttpGuardSharedPortTest, WebcamOpenedDirectlyKeepsItsRootPaths) {
  // `bowden open --target webcam`: the first request is at the root, so
  // nothing on the connection belongs to OctoPrint; other paths are refused.
  HttpGuard guard(Config(TargetKind::kWebcam, true));
  GuardOutput out;
  guard.FromClient(Get("/?action=snapshot"), &out);
  guard.FromTarget(kOk, &out);
  guard.FromClient(Get("/webcam/?action=snapshot"), &out);
  EXPECT_TRUE(
      absl::StrContains(out.to_target, "GET /?action=snapshot HTTP/1.1\r\n"));
  guard.FromTarget(kOk, &out);
  guard.FromClient(Get("/favicon.ico"), &out);
  EXPECT_TRUE(absl::StrContains(out.to_client, "403 Forbidden"))
      << out.to_client;
  EXPECT_FALSE(guard.close_client());
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].rule, "default-deny");
}

}  // namespace
}  // namespace bowden::guard
