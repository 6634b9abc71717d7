// The HTTP guard with the agent's real body inspection and G-code ceiling:
// what reaches OctoPrint (to_target) for requests that carry G-code, byte for
// byte, as the adversarial review checked it with a recording target.

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gcode/checker.h"
#include "gtest/gtest.h"
#include "guard/body_inspector.h"
#include "guard/http_guard.h"

namespace bowden::guard {
namespace {

constexpr char kNoContent[] = "HTTP/1.1 204 No Content\r\n\r\n";

GuardConfig Config(policy::Role role) {
  static const gcode::Checker* checker =
      new gcode::Checker(*gcode::Checker::Create(gcode::Ceiling()));
  GuardConfig config;
  config.kind = TargetKind::kOctoPrint;
  config.role = role;
  config.user = "alice";
  config.inspect_body = [ceiling = config.ceiling](const BodyRequest& request) {
    return InspectBody(*checker, ceiling, request);
  };
  return config;
}

std::string Post(absl::string_view path, absl::string_view body) {
  return absl::StrCat("POST ", path,
                      " HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Type: "
                      "application/json\r\nContent-Length: ",
                      body.size(), "\r\n\r\n", body);
}

std::string ChunkedPost(absl::string_view path, absl::string_view body) {
  return absl::StrCat("POST ", path,
                      " HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Type: "
                      "application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                      absl::Hex(body.size()), "\r\n", body, "\r\n0\r\n\r\n");
}

TEST(HttpGuardGcodeTest, AJogSpeedCarryingASecondCommandNeverReachesOctoPrint) {
  HttpGuard guard(Config(policy::Role::kOperator));
  GuardOutput out;
  guard.FromClient(Post("/api/printer/printhead",
                        R"({"command":"jog","x":1,"speed":"1000\nM997"})"),
                   &out);
  EXPECT_EQ(out.to_target, "");
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 403")) << out.to_client;
  EXPECT_TRUE(absl::StrContains(out.to_client, "speed")) << out.to_client;
  // The UI's own jog goes through untouched.
  GuardOutput ok;
  const std::string jog = Post("/api/printer/printhead", R"({"absolute":false,"x":10,"command":"jog"})");
  guard.FromClient(jog, &ok);
  EXPECT_TRUE(absl::StrContains(ok.to_target, R"({"absolute":false,"x":10,"command":"jog"})"));
}

TEST(HttpGuardGcodeTest, PercentParametersAreJudgedAsOctoPrintRendersThem) {
  HttpGuard guard(Config(policy::Role::kAdmin));
  GuardOutput out;
  guard.FromClient(Post("/api/printer/command",
                        R"({"command":"M117 %(a)s","parameters":{"a":"hi\nM997"}})"),
                   &out);
  EXPECT_EQ(out.to_target, "");
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 403")) << out.to_client;
}

TEST(HttpGuardGcodeTest, EmergencyStopLeavesARefusedBatchAloneAndTheClientStillGets403) {
  HttpGuard guard(Config(policy::Role::kAdmin));
  GuardOutput out;
  guard.FromClient(ChunkedPost("/api/printer/command", R"({"commands":["M997","M112"]})"), &out);
  // OctoPrint receives M112 and nothing else, framed by a Content-Length.
  EXPECT_TRUE(absl::StrContains(out.to_target, "Content-Length: 21\r\n")) << out.to_target;
  EXPECT_FALSE(absl::StrContains(out.to_target, "Transfer-Encoding")) << out.to_target;
  EXPECT_TRUE(absl::EndsWith(out.to_target, "\r\n\r\n{\"commands\":[\"M112\"]}")) << out.to_target;
  EXPECT_FALSE(absl::StrContains(out.to_target, "M997"));
  EXPECT_EQ(out.to_client, "");  // the refusal waits for OctoPrint's answer
  guard.FromTarget(kNoContent, &out);
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 403")) << out.to_client;
  EXPECT_FALSE(absl::StrContains(out.to_client, "204"));
  EXPECT_TRUE(absl::StrContains(out.to_client, R"("sent":"M112")")) << out.to_client;
  EXPECT_TRUE(absl::StrContains(out.to_client, "M997")) << out.to_client;
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict, "deny");
  EXPECT_EQ(events[0].status, 403);
  EXPECT_EQ(events[0].fields["emergency"], "M112");

  // The connection goes on: the next request is answered in order.
  guard.FromClient(Post("/api/printer/command", R"({"commands":["G28"]})"), &out);
  EXPECT_TRUE(absl::StrContains(out.to_target, R"({"commands":["G28"]})"));
}

TEST(HttpGuardGcodeTest, OperatorsCanStopThePrinterButNotUseTheTerminal) {
  HttpGuard guard(Config(policy::Role::kOperator));
  GuardOutput out;
  guard.FromClient(Post("/api/printer/command", R"({"commands":["M112"],"parameters":{}})"), &out);
  EXPECT_TRUE(absl::EndsWith(out.to_target, "\r\n\r\n{\"commands\":[\"M112\"]}")) << out.to_target;
  guard.FromTarget(kNoContent, &out);
  EXPECT_EQ(out.to_client, kNoContent);

  GuardOutput refused;
  guard.FromClient(Post("/api/printer/command", R"({"commands":["G28"]})"), &refused);
  EXPECT_EQ(refused.to_target, "");
  EXPECT_TRUE(absl::StrContains(refused.to_client, "needs role admin")) << refused.to_client;

  // Viewers cannot reach the printer's controls at all.
  HttpGuard viewer(Config(policy::Role::kViewer));
  GuardOutput none;
  viewer.FromClient(Post("/api/printer/command", R"({"commands":["M112"]})"), &none);
  EXPECT_EQ(none.to_target, "");
}

TEST(HttpGuardGcodeTest, RenamingAModelToGcodeIsRefused) {
  HttpGuard guard(Config(policy::Role::kOperator));
  GuardOutput out;
  guard.FromClient(Post("/api/files/local/evil.stl",
                        R"({"command":"move","destination":"evil.gcode"})"),
                   &out);
  EXPECT_EQ(out.to_target, "");
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 403")) << out.to_client;
}

TEST(HttpGuardGcodeTest, TimelapseSaveIsRefusedBelowAdmin) {
  const std::string body = R"({"type":"zchange","save":true})";
  HttpGuard op(Config(policy::Role::kOperator));
  GuardOutput out;
  op.FromClient(Post("/api/timelapse", body), &out);
  EXPECT_EQ(out.to_target, "");
  HttpGuard admin(Config(policy::Role::kAdmin));
  GuardOutput ok;
  admin.FromClient(Post("/api/timelapse", body), &ok);
  EXPECT_TRUE(absl::EndsWith(ok.to_target, body));
}

}  // namespace
}  // namespace bowden::guard
