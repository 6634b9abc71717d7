#include "guard/http_guard.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "guard/forwarding.h"

namespace bowden::guard {
namespace {

constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

GuardConfig Config(policy::Role role) {
  GuardConfig config;
  config.kind = TargetKind::kOctoPrint;
  config.role = role;
  config.user = "alice";
  config.inspect_body = [](const BodyRequest& request) {
    BodyVerdict verdict;
    if (absl::StrContains(request.body, "M997")) {
      verdict.denial = "M997 (firmware update) is never allowed";
    }
    return verdict;
  };
  return config;
}

std::string Get(absl::string_view path, absl::string_view extra = "") {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n", extra,
                      "\r\n");
}

std::string Post(absl::string_view path, absl::string_view body,
                 absl::string_view extra = "") {
  return absl::StrCat("POST ", path,
                      " HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Type: "
                      "application/json\r\nContent-Length: ",
                      body.size(), "\r\n", extra, "\r\n", body);
}

TEST(HttpGuardTest, AllowedRequestIsForwardedWithTheAgentsOwnForwardingHeaders) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(Get("/api/version",
                       "X-Forwarded-For: 127.0.0.1\r\nX_Script_Name: /evil\r\n"
                       "remote-user: admin\r\nX-Real-IP: 127.0.0.1\r\n"),
                   &out);
  EXPECT_TRUE(absl::StartsWith(out.to_target, "GET /api/version HTTP/1.1\r\n"))
      << out.to_target;
  EXPECT_TRUE(absl::StrContains(
      out.to_target, absl::StrCat("X-Forwarded-For: ", ForwardedForAddress("alice"))));
  EXPECT_FALSE(absl::StrContains(out.to_target, "127.0.0.1\r\nX_")) << out.to_target;
  EXPECT_FALSE(absl::StrContains(out.to_target, "X_Script_Name"));
  EXPECT_FALSE(absl::StrContains(out.to_target, "remote-user"));
  EXPECT_FALSE(absl::StrContains(out.to_target, "X-Real-IP"));
  EXPECT_FALSE(absl::StrContains(out.to_target, "X-Forwarded-For: 127.0.0.1"));
  EXPECT_TRUE(absl::StrContains(out.to_target, "X-Forwarded-Host: 127.0.0.1:5000"));
  EXPECT_TRUE(out.to_client.empty());

  guard.FromTarget(kOk, &out);
  EXPECT_EQ(out.to_client, kOk);
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].path, "/api/version");
  EXPECT_EQ(events[0].verdict, "allow");
  EXPECT_EQ(events[0].rule, "octoprint.status");
  EXPECT_EQ(events[0].status, 200);
}

TEST(HttpGuardTest, PerUserForwardedForIsOutsideLocalNetworks) {
  std::string a = ForwardedForAddress("alice");
  std::string b = ForwardedForAddress("bob");
  EXPECT_NE(a, b);
  EXPECT_TRUE(absl::StartsWith(a, "100.")) << a;
  int second = std::stoi(a.substr(4, a.find('.', 4) - 4));
  EXPECT_GE(second, 64);
  EXPECT_LE(second, 127);
}

TEST(HttpGuardTest, SingleSignOnSendsTheSessionsUserAndNeverTheClients) {
  GuardConfig config = Config(policy::Role::kViewer);
  config.remote_user_header = "Remote-User";
  HttpGuard guard(config);
  GuardOutput out;
  guard.FromClient(Get("/api/version", "Remote-User: admin\r\nREMOTE-USER: root\r\n"), &out);
  EXPECT_TRUE(absl::StrContains(out.to_target, "\r\nRemote-User: alice\r\n")) << out.to_target;
  EXPECT_FALSE(absl::StrContains(out.to_target, "admin")) << out.to_target;
  EXPECT_FALSE(absl::StrContains(out.to_target, "root")) << out.to_target;

  // A custom header name is stripped from clients too, in any spelling.
  config.remote_user_header = "X-Bowden-User";
  HttpGuard custom(config);
  GuardOutput custom_out;
  custom.FromClient(Get("/api/version", "x-bowden-user: admin\r\nX_Bowden_User: root\r\n"),
                    &custom_out);
  EXPECT_TRUE(absl::StrContains(custom_out.to_target, "\r\nX-Bowden-User: alice\r\n"))
      << custom_out.to_target;
  EXPECT_FALSE(absl::StrContains(custom_out.to_target, "admin"));
  EXPECT_FALSE(absl::StrContains(custom_out.to_target, "root"));

  // Off by default, and never on webcam targets.
  HttpGuard off(Config(policy::Role::kViewer));
  GuardOutput off_out;
  off.FromClient(Get("/api/version"), &off_out);
  EXPECT_FALSE(absl::StrContains(off_out.to_target, "alice")) << off_out.to_target;
  GuardConfig webcam = Config(policy::Role::kViewer);
  webcam.kind = TargetKind::kWebcam;
  webcam.remote_user_header = "Remote-User";
  HttpGuard cam(webcam);
  GuardOutput cam_out;
  cam.FromClient(Get("/?action=snapshot"), &cam_out);
  EXPECT_FALSE(absl::StrContains(cam_out.to_target, "Remote-User")) << cam_out.to_target;
}

TEST(HttpGuardTest, RemoteUserHeaderNamesFollowOctoPrintsSetting) {
  EXPECT_EQ(*RemoteUserHeaderName("REMOTE_USER"), "Remote-User");
  EXPECT_EQ(*RemoteUserHeaderName("x-remote-user"), "X-Remote-User");
  EXPECT_EQ(*RemoteUserHeaderName("X_Bowden_User"), "X-Bowden-User");
  for (const char* bad : {"", "Remote User", "Remote-User:", "_x", "x-", "Ré"}) {
    EXPECT_FALSE(RemoteUserHeaderName(bad).ok()) << bad;
  }
}

// The JSON body of the guard's own answer `response`, as a browser's
// responseJSON sees it.
google::protobuf::Struct AnswerJson(const std::string& response) {
  google::protobuf::Struct json;
  size_t body = response.find("\r\n\r\n");
  EXPECT_NE(body, std::string::npos) << response;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(
                  response.substr(body + 4), &json)
                  .ok())
      << response;
  return json;
}

std::string Field(const google::protobuf::Struct& json,
                  const std::string& name) {
  auto it = json.fields().find(name);
  return it == json.fields().end() ? "<missing>" : it->second.string_value();
}

// OctoPrint's UI shows responseJSON.error of a failed upload or delete
// (files.js): the guard's 403 says there who refused what, for which role,
// why and by which rule, and keeps its fields for scripts.
TEST(HttpGuardTest, ARefusalSaysWhoRefusedWhatAndWhyInOctoPrintsErrorField) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(Post("/api/printer/command", "{\"command\":\"G28\"}"), &out);
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  ASSERT_FALSE(events[0].reason.empty());
  google::protobuf::Struct json = AnswerJson(out.to_client);
  EXPECT_EQ(Field(json, "error"),
            absl::StrCat("Bowden refused POST /api/printer/command (viewer): ",
                         events[0].reason, " [octoprint.printer.command]"));
  EXPECT_EQ(Field(json, "rule"), "octoprint.printer.command");
  EXPECT_EQ(Field(json, "reason"), events[0].reason);
  EXPECT_EQ(Field(json, "by"), "bowden-agent");

  // A body the ceiling refuses: the inspector's reason.
  HttpGuard operator_guard(Config(policy::Role::kOperator));
  out = GuardOutput();
  operator_guard.FromClient(
      Post("/api/printer/command", "{\"command\":\"M997\"}"), &out);
  EXPECT_EQ(Field(AnswerJson(out.to_client), "error"),
            "Bowden refused POST /api/printer/command (operator): M997 "
            "(firmware update) is "
            "never allowed [octoprint.printer.command]");

  // A request it cannot read.
  HttpGuard reader(Config(policy::Role::kAdmin));
  out = GuardOutput();
  reader.FromClient(
      "POST /api/job HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Length: 1\r\n"
      "Content-Length: 2\r\n\r\nxx",
      &out);
  ASSERT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 400 "))
      << out.to_client;
  EXPECT_TRUE(absl::StartsWith(Field(AnswerJson(out.to_client), "error"),
                               "Bowden could not read "))
      << out.to_client;
}

TEST(HttpGuardTest, DeniedPipelinedRequestIsAnsweredInOrderAndTheConnectionStaysUsable) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(absl::StrCat(Get("/api/version"),
                                Post("/api/printer/command", "{\"command\":\"G28\"}"),
                                Get("/api/job")),
                   &out);
  // Only the allowed requests reach OctoPrint.
  EXPECT_TRUE(absl::StrContains(out.to_target, "GET /api/version"));
  EXPECT_TRUE(absl::StrContains(out.to_target, "GET /api/job"));
  EXPECT_FALSE(absl::StrContains(out.to_target, "printer/command"));
  EXPECT_FALSE(absl::StrContains(out.to_target, "G28"));
  // The 403 waits behind the first response.
  EXPECT_TRUE(out.to_client.empty());
  guard.FromTarget(kOk, &out);
  ASSERT_TRUE(absl::StartsWith(out.to_client, kOk)) << out.to_client;
  std::string denial = out.to_client.substr(strlen(kOk));
  EXPECT_TRUE(absl::StartsWith(denial, "HTTP/1.1 403 Forbidden\r\n")) << denial;
  EXPECT_TRUE(absl::StrContains(denial, "\"rule\":\"octoprint.printer.command\"")) << denial;
  EXPECT_FALSE(guard.close_client());
  out.to_client.clear();
  guard.FromTarget(kOk, &out);
  EXPECT_EQ(out.to_client, kOk);
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].verdict, "deny");
  EXPECT_EQ(events[1].status, 403);
  EXPECT_EQ(events[2].path, "/api/job");
}

TEST(HttpGuardTest, SmugglingShapesGet400AndClose) {
  for (const std::string& request : {
           std::string("POST /api/job HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
           std::string("POST /api/job HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                       "Content-Length: 4\r\n\r\nabcd"),
           std::string("POST /api/job HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
                       "chunked\r\n\r\n0\r\n\r\n"),
           std::string("GET /api/job HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"),
           std::string("GET /api/job HTTP/1.1\r\n\r\n"),  // no Host
           std::string("GET /api/job HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
           std::string("POST /api/job HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: "
                       "chunked\r\n\r\nzz\r\n"),  // bad chunk size
           std::string("GET /api/%252e%252e/system HTTP/1.1\r\nHost: x\r\n\r\n"),
           std::string("GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n", sizeof("GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n") - 1),
       }) {
    HttpGuard guard(Config(policy::Role::kAdmin));
    GuardOutput out;
    guard.FromClient(request, &out);
    EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 400 Bad Request\r\n"))
        << absl::CHexEscape(request) << " -> " << out.to_client;
    EXPECT_TRUE(guard.close_client()) << absl::CHexEscape(request);
    // Nothing of a refused request reaches the target, except the head of a
    // streamed request whose body breaks later (the target connection is
    // closed with the client's).
    EXPECT_FALSE(absl::StrContains(out.to_target, "zz")) << absl::CHexEscape(request);
    if (!absl::StrContains(request, "zz")) {
      EXPECT_TRUE(out.to_target.empty()) << absl::CHexEscape(request);
    }
  }
}

TEST(HttpGuardTest, A400WaitsForTheAnswerToAnEarlierPipelinedRequest) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(absl::StrCat(Get("/api/version"), "GET /api/job HTTP/1.1\r\n\r\n"), &out);
  EXPECT_TRUE(absl::StartsWith(out.to_target, "GET /api/version")) << out.to_target;
  EXPECT_EQ(out.to_client, "");  // the 400 (no Host) goes after the 200
  guard.FromTarget(kOk, &out);
  EXPECT_TRUE(absl::StartsWith(out.to_client, kOk)) << out.to_client;
  EXPECT_TRUE(absl::StrContains(out.to_client, "400 Bad Request")) << out.to_client;
  EXPECT_TRUE(guard.close_client());
}

TEST(HttpGuardTest, PipelinedRequestsBehindASlowOneQueueOnlyUpToTheBound) {
  GuardConfig config = Config(policy::Role::kViewer);
  HttpGuard guard(config);
  constexpr int kDenied = 10000;
  std::string flood = Get("/api/version");
  for (int i = 0; i < kDenied; ++i) flood += Get("/downloads/files/local/a.gcode");
  GuardOutput out;
  guard.FromClient(flood, &out);
  // The first request waits for the target; of the rest, only enough to
  // fill the queue of answers owed were read.
  EXPECT_EQ(out.to_target.find("GET /api/version"), 0u);
  EXPECT_TRUE(out.to_client.empty());
  EXPECT_TRUE(guard.TakeEvents().empty());
  EXPECT_TRUE(guard.backlogged());
  EXPECT_FALSE(guard.wants_resume());
  // Feeding more while backlogged only buffers it.
  GuardOutput more;
  guard.FromClient(Get("/downloads/files/local/a.gcode"), &more);
  EXPECT_TRUE(more.to_client.empty());

  GuardOutput answered;
  guard.FromTarget(kOk, &answered);
  std::vector<GuardEvent> events = guard.TakeEvents();
  EXPECT_EQ(events.size(), config.max_pending_answers);
  EXPECT_TRUE(absl::StartsWith(answered.to_client, kOk));
  // The rest comes in bounded bursts, each when the driver resumes it.
  size_t total = events.size();
  while (guard.wants_resume()) {
    GuardOutput burst;
    guard.Resume(&burst);
    EXPECT_LE(burst.to_client.size(), config.max_answer_bytes + 1024);
    EXPECT_EQ(burst.to_target, "");
    total += guard.TakeEvents().size();
  }
  EXPECT_EQ(total, kDenied + 2u);
  EXPECT_FALSE(guard.backlogged());
}

TEST(HttpGuardTest, NoDataIsNoParse) {
  // Beast asserts when handed a final chunk again without more bytes.
  HttpGuard guard(Config(policy::Role::kOperator));
  GuardOutput out;
  guard.FromClient("POST /api/job HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "0\r\n\n",
                   &out);
  guard.FromClient("", &out);
  guard.FromClient("", &out);
  guard.FromTarget("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\n", &out);
  guard.FromTarget("", &out);
  guard.FromTarget("", &out);
  EXPECT_TRUE(absl::StartsWith(out.to_target, "POST /api/job HTTP/1.1\r\n")) << out.to_target;
}

TEST(HttpGuardTest, ChunkedBodyOfAnAllowedRequestPassesVerbatim) {
  HttpGuard guard(Config(policy::Role::kOperator));
  GuardOutput out;
  std::string body = "7\r\n{\"a\":1}\r\n0\r\n\r\n";
  guard.FromClient(absl::StrCat("POST /api/job HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: "
                                "chunked\r\n\r\n",
                                body.substr(0, 5)),
                   &out);
  guard.FromClient(body.substr(5), &out);
  EXPECT_TRUE(absl::EndsWith(out.to_target, "\r\n\r\n" + body)) << out.to_target;
}

TEST(HttpGuardTest, InspectedCommandsAreDeniedBeforeReachingOctoPrint) {
  HttpGuard guard(Config(policy::Role::kAdmin));
  GuardOutput out;
  guard.FromClient(Post("/api/printer/command", "{\"command\":\"M997\"}",
                        "Expect: 100-continue\r\n"),
                   &out);
  EXPECT_TRUE(out.to_target.empty()) << out.to_target;
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 100 Continue\r\n\r\n"));
  EXPECT_TRUE(absl::StrContains(out.to_client, "403 Forbidden"));
  EXPECT_TRUE(absl::StrContains(out.to_client, "M997 (firmware update) is never allowed"));

  out = GuardOutput();
  guard.FromClient(Post("/api/printer/command", "{\"command\":\"G28\"}"), &out);
  EXPECT_TRUE(absl::StrContains(out.to_target, "{\"command\":\"G28\"}"));
  EXPECT_TRUE(absl::StrContains(out.to_target, "POST /api/printer/command HTTP/1.1"));
}

TEST(HttpGuardTest, WebsocketUpgradeSwitchesToBytes) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(absl::StrCat(Get("/sockjs/websocket",
                                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"),
                                "\x81\x05hello-not-http"),
                   &out);
  EXPECT_TRUE(absl::StrContains(out.to_target, "GET /sockjs/websocket"));
  EXPECT_FALSE(absl::StrContains(out.to_target, "hello-not-http"));  // held
  guard.FromTarget("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\n\r\n\x81\x02hi",
                   &out);
  EXPECT_TRUE(absl::StrContains(out.to_target, "hello-not-http"));
  EXPECT_TRUE(absl::EndsWith(out.to_client, "\x81\x02hi"));
  out = GuardOutput();
  guard.FromClient("GET /api/system/commands HTTP/1.1\r\n\r\n", &out);
  EXPECT_EQ(out.to_target, "GET /api/system/commands HTTP/1.1\r\n\r\n");  // just bytes now
}

TEST(HttpGuardTest, AnUnframedAnswerNeverOpensTheClientSide) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(absl::StrCat(Get("/sockjs/websocket",
                                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"),
                                Post("/api/system/commands/core/reboot", "{}")),
                   &out);
  guard.FromTarget("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
                   &out);
  EXPECT_TRUE(absl::StrContains(out.to_client, "Content-Length: 2")) << out.to_client;
  EXPECT_TRUE(guard.close_client());
  guard.FromClient(Post("/api/system/commands/core/shutdown", "{}"), &out);
  EXPECT_FALSE(absl::StrContains(out.to_target, "/api/system")) << out.to_target;
}

TEST(HttpGuardTest, HeadResponsesAndInterimResponsesKeepTheOrder) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(absl::StrCat("HEAD /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                                Post("/api/printer/command", "{}")),
                   &out);
  guard.FromTarget("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", &out);
  EXPECT_TRUE(absl::StrContains(out.to_client, "403 Forbidden")) << out.to_client;
}

TEST(HttpGuardTest, WebcamOnlyStreamsAndSnapshots) {
  GuardConfig config = Config(policy::Role::kAdmin);
  config.kind = TargetKind::kWebcam;
  HttpGuard guard(config);
  GuardOutput out;
  guard.FromClient(Get("/?action=command&command=reset"), &out);
  EXPECT_TRUE(out.to_target.empty());
  EXPECT_TRUE(absl::StrContains(out.to_client, "403")) << out.to_client;
  guard.FromClient(Get("/?action=snapshot"), &out);
  EXPECT_TRUE(absl::StrContains(out.to_target, "GET /?action=snapshot HTTP/1.1"));
}

// A request the target saw is audited even if its answer never completes,
// and a completed one only once.
TEST(HttpGuardTest,
     ForwardedRequestCutBeforeItsAnswerIsAuditedOnceAsInterrupted) {
  HttpGuard guard(Config(policy::Role::kOperator));
  GuardOutput out;
  guard.FromClient(Get("/downloads/files/local/benchy.gcode"), &out);
  ASSERT_TRUE(absl::StrContains(out.to_target,
                                "GET /downloads/files/local/benchy.gcode"));
  EXPECT_TRUE(guard.TakeEvents().empty());  // no row yet: the answer is owed
  guard.EndConnection();
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].path, "/downloads/files/local/benchy.gcode");
  EXPECT_EQ(events[0].verdict, "allow");
  EXPECT_EQ(events[0].status, 0);
  EXPECT_TRUE(events[0].interrupted);
  guard.EndConnection();
  EXPECT_TRUE(guard.TakeEvents().empty());
}

TEST(HttpGuardTest, EndlessStreamCutByTheClientIsAuditedWithItsStatus) {
  GuardConfig config = Config(policy::Role::kViewer);
  config.kind = TargetKind::kWebcam;
  HttpGuard guard(config);
  GuardOutput out;
  guard.FromClient(Get("/?action=stream"), &out);
  guard.FromTarget(
      "HTTP/1.1 200 OK\r\nContent-Type: "
      "multipart/x-mixed-replace;boundary=f\r\n\r\n"
      "--f\r\nContent-Type: image/jpeg\r\n\r\nframe",
      &out);
  EXPECT_TRUE(absl::StrContains(out.to_client, "frame"));
  EXPECT_TRUE(guard.TakeEvents().empty());
  guard.EndConnection();
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].path, "/");
  EXPECT_EQ(events[0].status, 200);
  EXPECT_TRUE(events[0].interrupted);
}

TEST(HttpGuardTest, EndConnectionAuditsWhatIsOwedAndNothingTwice) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(
      absl::StrCat(Get("/api/version"), Get("/api/job"),
                   Post("/api/printer/command", "{\"command\":\"G28\"}")),
      &out);
  guard.FromTarget(kOk, &out);  // /api/version is answered
  std::vector<GuardEvent> answered = guard.TakeEvents();
  ASSERT_EQ(answered.size(), 1u);
  EXPECT_FALSE(answered[0].interrupted);
  // /api/job is owed; the refusal waits behind it.
  guard.EndConnection();
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].path, "/api/job");
  EXPECT_TRUE(events[0].interrupted);
  EXPECT_EQ(events[0].status, 0);
  EXPECT_EQ(events[1].verdict, "deny");
  EXPECT_EQ(events[1].status, 403);
  EXPECT_FALSE(events[1].interrupted);
}

}  // namespace
}  // namespace bowden::guard
