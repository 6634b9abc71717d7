// The agent's HTTP guard end to end: curl through `bowden open`, the relay
// and the agent to an nginx standing in for OctoPrint. Roles decide what
// passes, the G-code ceiling stops dangerous commands and uploaded files
// before OctoPrint sees or stores them, and OctoPrint only ever sees the
// agent's own forwarding headers.

#include <sys/socket.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/guard_e2e_fixture.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

// A response that never completes (every webcam stream, a download the
// client gives up on) is audited when the connection ends, as interrupted
// with the status the client got; before, it was never audited at all.
TEST_F(GuardE2eTest, AStreamTheClientCutsIsAuditedAsInterrupted) {
  const int port = farm_->Open("bob", "prusa-01", "webcam");
  ASSERT_NE(port, 0);
  {
    tunnel::UniqueFd viewer = ConnectTo(port);
    ASSERT_TRUE(viewer.valid());
    ASSERT_TRUE(
        WriteAll(viewer.get(),
                 "GET /?action=stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    std::string seen;
    char buffer[16384];
    while (seen.size() < 64 * 1024) {  // a few frames have come through
      ssize_t n = recv(viewer.get(), buffer, sizeof(buffer), 0);
      ASSERT_GT(n, 0) << seen.substr(0, 200);
      seen.append(buffer, n);
    }
    EXPECT_TRUE(absl::StartsWith(seen, "HTTP/1.1 200 OK"))
        << seen.substr(0, 200);
  }  // the viewer closes its tab
  EXPECT_TRUE(WaitFor([&] {
    return Audited("bob", {"\"outcome\":\"interrupted\"", "\"path\":\"/\"",
                           "\"status\":\"200\"", "\"verdict\":\"allow\"",
                           "\"rule\":\"webcam.action\""});
  }));
}

TEST_F(GuardE2eTest, RolesDecideWhatReachesOctoPrint) {
  EXPECT_TRUE(absl::StartsWith(Curl(bob_port_, "/api/version"), "200 {\"api\""));
  std::string denied = PostJson(bob_port_, "/api/printer/command", "{\"command\":\"G28\"}");
  EXPECT_TRUE(absl::StartsWith(denied, "403 ")) << denied;
  EXPECT_TRUE(absl::StrContains(denied, "\"rule\":\"octoprint.printer.command\"")) << denied;
  EXPECT_EQ(PostJson(alice_port_, "/api/printer/command", "{\"command\":\"G28\"}"), "204 ");
  // Only alice's command reached OctoPrint.
  std::string log = AccessLog();
  size_t first = log.find("POST /api/printer/command");
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find("POST /api/printer/command", first + 1), std::string::npos) << log;
  EXPECT_TRUE(farm_->agent().WaitForOutput("http bob POST /api/printer/command -> 403 deny"))
      << farm_->agent().Stderr();

  // The agent's guard events reach the relay's audit log.
  std::vector<std::string> audit = farm_->CliAs("alice");
  audit.insert(audit.end(), {"audit", "--user", "bob"});
  std::string out;
  ASSERT_TRUE(WaitFor([&] {
    RunToCompletion(audit, &out);
    return absl::StrContains(out, "rule=octoprint.printer.command");
  })) << out;
  EXPECT_TRUE(absl::StrContains(out, "http.request")) << out;
  EXPECT_TRUE(absl::StrContains(out, "path=/api/version")) << out;
  EXPECT_TRUE(absl::StrContains(out, "status=403")) << out;
  EXPECT_TRUE(absl::StrContains(out, "source=spiffe://farm.test/agent/prusa-01")) << out;
}

// The UI cannot load without its settings, so every role reads them; below
// admin the agent nulls the API key and plugin secrets, even though the
// browser asks for gzip (the agent asks OctoPrint for plain bytes).
TEST_F(GuardE2eTest, ViewersReadTheSettingsWithoutTheirSecrets) {
  for (int port : {bob_port_, carol_port_}) {
    std::string answer = Curl(port, "/api/settings", {"--compressed"});
    EXPECT_TRUE(absl::StartsWith(answer, "200 {")) << answer;
    EXPECT_TRUE(absl::StrContains(answer, "\"key\":null")) << answer;
    EXPECT_TRUE(absl::StrContains(answer, "\"token\":null")) << answer;
    EXPECT_FALSE(absl::StrContains(answer, kApiKey)) << answer;
    EXPECT_FALSE(absl::StrContains(answer, "bot-token")) << answer;
    EXPECT_TRUE(absl::StrContains(answer, "\"keyboardControl\":true")) << answer;
    EXPECT_TRUE(absl::StrContains(answer, "\"extruder\":180")) << answer;
  }
  std::string admin = Curl(alice_port_, "/api/settings", {"--compressed"});
  EXPECT_TRUE(absl::StartsWith(admin, "200 {")) << admin;
  EXPECT_TRUE(absl::StrContains(admin, kApiKey)) << admin;

  std::vector<std::string> audit = farm_->CliAs("alice");
  audit.insert(audit.end(), {"audit", "--user", "bob"});
  std::string out;
  EXPECT_TRUE(WaitFor([&] {
    RunToCompletion(audit, &out);
    return absl::StrContains(out, "api.key, plugins.telegram.token");
  })) << out;
}

TEST_F(GuardE2eTest, OnlyAdminsSaveConnectionSettings) {
  const std::string save = R"({"command":"connect","port":"/dev/ttyACM0","save":true})";
  std::string operator_save = PostJson(carol_port_, "/api/connection", save);
  EXPECT_EQ(operator_save.substr(0, 3), "403") << operator_save;
  EXPECT_TRUE(absl::StrContains(operator_save, "needs role admin")) << operator_save;
  EXPECT_EQ(PostJson(carol_port_, "/api/connection", R"({"command":"connect"})").substr(0, 3),
            "204");
  EXPECT_EQ(PostJson(alice_port_, "/api/connection", save).substr(0, 3), "204");
  EXPECT_TRUE(WaitFor([&] { return Count(AccessLog(), "POST /api/connection") == 2; }))
      << AccessLog();
}

TEST_F(GuardE2eTest, TheGcodeCeilingHoldsEvenForAdmins) {
  for (const char* body : {R"({"command":"M997"})", R"({"command":"m104 s300"})",
                           R"({"commands":["G28","M500"]})",
                           R"({"command":"M104 S%(t)s","parameters":{"t":400}})"}) {
    std::string answer = PostJson(alice_port_, "/api/printer/command", body);
    EXPECT_TRUE(absl::StartsWith(answer, "403 ")) << body << " -> " << answer;
    EXPECT_TRUE(absl::StrContains(answer, "ceiling")) << answer;
  }
  // A second command hidden in a value: a line break inside one command, in
  // a `%` parameter, in a jog speed.
  for (const auto& [path, body] : std::vector<std::pair<const char*, const char*>>{
           {"/api/printer/command", R"({"command":"G28
M302 P1"})"},
           {"/api/printer/command", R"({"command":"M117 %(a)s","parameters":{"a":"hi
M997"}})"},
           {"/api/printer/printhead", R"({"command":"jog","x":1,"speed":"1000
M997"})"}}) {
    std::string answer = PostJson(alice_port_, path, body);
    EXPECT_TRUE(absl::StartsWith(answer, "403 ")) << body << " -> " << answer;
  }
  // Nothing was posted but the agent's own login probe (POST /api/login).
  EXPECT_EQ(Count(AccessLog(), "POST"), Count(AccessLog(), "POST /api/login")) << AccessLog();
  // The emergency stop always passes, and leaves a refused batch on its own.
  EXPECT_EQ(PostJson(alice_port_, "/api/printer/command", R"({"command":"M112"})"), "204 ");
  std::string answer =
      PostJson(alice_port_, "/api/printer/command", R"({"commands":["M997","M112"]})");
  EXPECT_TRUE(absl::StartsWith(answer, "403 ")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, R"("sent":"M112")")) << answer;
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(AccessLog(), R"(body={\"commands\":[\"M112\"]})");
  })) << AccessLog();
  EXPECT_FALSE(absl::StrContains(AccessLog(), "M997")) << AccessLog();
}

// A page load's scripts and styles are counted in one row per session
// rather than one each (about half of a UI page load's requests).
TEST_F(GuardE2eTest, StaticAssetsOfASessionAreSummarisedInOneRow) {
  // One keep-alive connection, so one session, loading five assets.
  std::vector<std::string> argv = {"/usr/bin/curl", "-s", "-o", "/dev/null"};
  for (int i = 0; i < 5; ++i) {
    argv.push_back(absl::StrCat("http://127.0.0.1:", bob_port_, "/static/js/app", i, ".js"));
  }
  std::string out;
  ASSERT_EQ(RunToCompletion(argv, &out), 0) << out;
  std::string audit;
  EXPECT_TRUE(WaitFor([&] {
    std::vector<std::string> cli = farm_->CliAs("alice");
    cli.insert(cli.end(), {"audit", "--json", "--user", "bob"});
    if (RunToCompletion(cli, &audit) != 0) return false;
    std::istringstream lines(audit);
    for (std::string line; std::getline(lines, line);) {
      if (absl::StrContains(line, "\"http.static\"") &&
          absl::StrContains(line, "\"count\":\"5\"") &&
          absl::StrContains(line, "\"statuses\":\"200:5\"")) {
        return true;
      }
    }
    return false;
  })) << audit;
  EXPECT_FALSE(absl::StrContains(audit, "/static/js/app1.js")) << audit;
  EXPECT_EQ(Count(AccessLog(), "GET /static/js/app"), 5) << AccessLog();
}

TEST_F(GuardE2eTest, OperatorsJogAndStopButNeverReachTheTerminal) {
  // carol is an operator: the UI's jog passes as it is, M112 passes, the
  // Control tab's Motors off and Fan on go as the UI sends them, G28 and a
  // fan speed beyond 255 through the terminal do not.
  EXPECT_EQ(PostJson(carol_port_, "/api/printer/printhead",
                     R"({"absolute":false,"x":10,"command":"jog"})"),
            "204 ");
  EXPECT_EQ(PostJson(carol_port_, "/api/printer/command", R"({"commands":["M112"]})"), "204 ");
  EXPECT_EQ(PostJson(carol_port_, "/api/printer/command",
                     R"({"commands":["M18"],"parameters":{}})"),
            "204 ");
  EXPECT_EQ(PostJson(carol_port_, "/api/printer/command",
                     R"({"commands":["M106 S255"],"parameters":{}})"),
            "204 ");
  for (const char* body : {R"({"commands":["G28"]})", R"({"commands":["M106 S4096"]})"}) {
    std::string answer = PostJson(carol_port_, "/api/printer/command", body);
    EXPECT_TRUE(absl::StartsWith(answer, "403 ")) << answer;
    EXPECT_TRUE(absl::StrContains(answer, "needs role admin")) << answer;
  }
  EXPECT_TRUE(WaitFor([&] {
    const std::string log = AccessLog();
    return absl::StrContains(log, R"(body={\"absolute\":false,\"x\":10,\"command\":\"jog\"})") &&
           absl::StrContains(log, R"(body={\"commands\":[\"M112\"]})") &&
           absl::StrContains(log, R"(body={\"commands\":[\"M18\"],\"parameters\":{}})") &&
           absl::StrContains(log, R"(body={\"commands\":[\"M106 S255\"],\"parameters\":{}})");
  })) << AccessLog();
  EXPECT_FALSE(absl::StrContains(AccessLog(), "G28")) << AccessLog();
  EXPECT_FALSE(absl::StrContains(AccessLog(), "M106 S4096")) << AccessLog();
}

TEST_F(GuardE2eTest, EvasionsAreCanonicalisedOrRefused) {
  for (const char* path : {"//api/printer/command", "/api/./printer/command",
                           "/api/version/../printer/command", "/api%2Fprinter%2Fcommand",
                           "/api/%70rinter/command", "/static/../api/system/commands"}) {
    std::string answer = PostJson(bob_port_, path, "{\"command\":\"G28\"}");
    EXPECT_TRUE(absl::StartsWith(answer, "403 ")) << path << " -> " << answer;
  }
  std::string double_encoded = Curl(bob_port_, "/api/%252e%252e/version");
  EXPECT_TRUE(absl::StartsWith(double_encoded, "400 ")) << double_encoded;
  // Nothing was posted but the agent's own login probe (POST /api/login).
  EXPECT_EQ(Count(AccessLog(), "POST"), Count(AccessLog(), "POST /api/login")) << AccessLog();
}

TEST_F(GuardE2eTest, OctoPrintSeesOnlyTheAgentsForwardingHeaders) {
  EXPECT_TRUE(absl::StartsWith(
      Curl(bob_port_, "/api/version",
           {"-H", "X-Forwarded-For: 127.0.0.1", "-H", "X_Script_Name: /evil", "-H",
            "X-Script-Name: /evil2", "-H", "Remote-User: admin"}),
      "200 "));
  std::string log = AccessLog();
  EXPECT_TRUE(absl::StrContains(log, "GET /api/version xff=198.1")) << log;
  EXPECT_FALSE(absl::StrContains(log, "127.0.0.1")) << log;
  EXPECT_FALSE(absl::StrContains(log, "evil")) << log;
}


// Needs the agent to give its guards an upload scanner
// (GuardConfig::new_upload_scanner); without one every upload gets 403.
TEST_F(GuardE2eTest, UploadsAreScannedBeforeOctoPrintStoresThem) {
  TempDir files;
  const std::string clean = Gcode(100000);  // ~2 MB
  std::ofstream(files.File("cube.gcode")) << clean;
  std::ofstream(files.File("flash.gcode")) << Gcode(40, 3);
  std::ofstream(files.File("late.gco")) << Gcode(200000, 199990, "M104 S300");

  // An operator's clean file reaches OctoPrint whole.
  std::string answer = Curl(carol_port_, "/api/files/local",
                            {"-F", "file=@" + files.File("cube.gcode"), "-F", "select=true"});
  EXPECT_EQ(answer, "201 {\"done\":true}");
  std::string log = AccessLog();
  EXPECT_EQ(Count(log, "POST /stored"), 1) << log;
  EXPECT_TRUE(absl::StrContains(log, "POST /api/files/local xff=198.1")) << log;
  // The agent logs only refusals; every request is in the relay's audit log.
  // The upload's row says which file it was: name, size, SHA-256 and verdict.
  EXPECT_TRUE(WaitFor([&] {
    return Audited("carol",
                   {"\"path\":\"/api/files/local\"", "\"status\":\"201\"",
                    "\"verdict\":\"allow\"", "\"file\":\"cube.gcode\"",
                    absl::StrCat("\"size\":\"", clean.size(), "\""),
                    absl::StrCat("\"sha256\":\"", Sha256Hex(clean), "\""),
                    "\"scan\":\"passed\""});
  }));
  EXPECT_FALSE(absl::StrContains(farm_->agent().Stderr(), "-> 201 allow"))
      << farm_->agent().Stderr();

  // M997 on line 3: refused with the line, and OctoPrint sees nothing of it.
  answer = Curl(carol_port_, "/api/files/local", {"-F", "file=@" + files.File("flash.gcode")});
  EXPECT_TRUE(absl::StartsWith(answer, "403 ")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "\"line\":3")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "\"command\":\"M997\"")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "\"file\":\"flash.gcode\"")) << answer;
  EXPECT_TRUE(farm_->agent().WaitForOutput("http carol POST /api/files/local -> 403 deny"))
      << farm_->agent().Stderr();
  EXPECT_EQ(Count(AccessLog(), "POST /api/files/local"), 1) << AccessLog();
  EXPECT_TRUE(WaitFor([&] {
    return Audited("carol", {"\"file\":\"flash.gcode\"", "\"scan\":\"refused\"",
                             "\"line\":\"3\"", "\"command\":\"M997\"",
                             "\"verdict\":\"deny\""});
  }));

  // A heater cap broken near the end of a 4 MB file: most of it streamed
  // to OctoPrint, which never got the end and stored nothing.
  answer = Curl(carol_port_, "/api/files/local", {"-F", "file=@" + files.File("late.gco")});
  EXPECT_TRUE(absl::StartsWith(answer, "403 ")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "\"line\":199990")) << answer;
  log = AccessLog();
  EXPECT_EQ(Count(log, "POST /stored"), 1) << log;
  EXPECT_EQ(Count(log, "status=201"), 2) << log;  // the first upload and its /stored

  // A viewer may not upload at all.
  answer = Curl(bob_port_, "/api/files/local", {"-F", "file=@" + files.File("cube.gcode")});
  EXPECT_TRUE(absl::StartsWith(answer, "403 ")) << answer;
  EXPECT_TRUE(absl::StrContains(answer, "octoprint.files.upload")) << answer;
  EXPECT_EQ(Count(AccessLog(), "POST /stored"), 1) << AccessLog();
}
TEST_F(GuardE2eTest, AnUploadRefusedMidStreamGetsThe403NotAReset) {
  // A forbidden line ~500 KB into a 20 MB file: part of the upload has
  // streamed on when the guard refuses it, and curl is still sending. The
  // agent answers, shuts its side and drops what curl still sends until
  // curl stops, so curl reads the 403 instead of a connection reset.
  TempDir files;
  std::ofstream(files.File("early.gcode")) << Gcode(900000, 20000);
  for (int i = 0; i < 3; ++i) {
    std::string answer =
        Curl(carol_port_, "/api/files/local", {"-F", "file=@" + files.File("early.gcode")});
    EXPECT_TRUE(absl::StartsWith(answer, "403 {")) << answer;
    EXPECT_TRUE(absl::StrContains(answer, "\"line\":20000")) << answer;
    EXPECT_TRUE(absl::StrContains(answer, "\"command\":\"M997\"")) << answer;
    EXPECT_TRUE(absl::StrContains(answer, "\"file\":\"early.gcode\"")) << answer;
  }
  EXPECT_EQ(Count(AccessLog(), "POST /stored"), 0) << AccessLog();
}

TEST_F(GuardE2eTest, TheAgentChecksWhomOctoPrintLogsInWithoutCredentials) {
  // The probe's passive login saw autologinLocal for local programs (a
  // warning), and that a request forwarded like a session stays anonymous.
  EXPECT_TRUE(farm_->agent().WaitForOutput(
      "logs every program on the printer host in as 'pi' without a password"))
      << farm_->agent().Stderr();
  EXPECT_FALSE(absl::StrContains(farm_->agent().Stderr(), "refuses to serve"));
  EXPECT_EQ(Count(AccessLog(), "POST /api/login"), 2) << AccessLog();
  EXPECT_EQ(Count(AccessLog(), "POST /api/login xff=198.1"), 1) << AccessLog();
}

// With single sign-on the agent names the session's user to OctoPrint, and
// no client can name anyone else.
class GuardSsoE2eTest : public GuardE2eTest {
 protected:
  std::vector<std::string> AgentFlags() const override {
    return {"--octoprint-remote-user-header", "REMOTE_USER"};
  }
};

TEST_F(GuardSsoE2eTest, OctoPrintSeesEachSessionsOwnUser) {
  EXPECT_EQ(Curl(bob_port_, "/api/version", {"-H", "Remote-User: alice"}).substr(0, 3), "200");
  EXPECT_EQ(Curl(alice_port_, "/api/version", {"-H", "Remote_User: root"}).substr(0, 3), "200");
  EXPECT_TRUE(WaitFor([&] { return Count(AccessLog(), "GET /api/version") >= 2; }));
  std::string log = AccessLog();
  EXPECT_TRUE(absl::StrContains(log, "ru=bob ")) << log;
  EXPECT_TRUE(absl::StrContains(log, "ru=alice ")) << log;
  EXPECT_FALSE(absl::StrContains(log, "ru=root")) << log;
  EXPECT_EQ(Count(log, "ru=alice "), 1) << log;
  EXPECT_TRUE(farm_->agent().WaitForOutput("single sign-on is on"));
}

// A web page must not use the tunnel, and with single sign-on act as its
// user: not through DNS rebinding (its own name in Host), nor by posting or
// opening a websocket from its own origin.
TEST_F(GuardSsoE2eTest, OnlyTheTunnelsOwnPageMayUseIt) {
  std::string rebound = Curl(alice_port_, "/api/version?rebound", {"-H", "Host: evil.example"});
  EXPECT_TRUE(absl::StartsWith(rebound, "403 ")) << rebound;
  EXPECT_TRUE(absl::StrContains(rebound, "\"rule\":\"foreign-host\"")) << rebound;
  EXPECT_TRUE(absl::StrContains(rebound, "`bowden open` printed")) << rebound;
  const std::string evil = "Origin: http://evil.example";
  std::string posted =
      Curl(alice_port_, "/api/printer/command",
           {"-X", "POST", "-H", "Content-Type: application/json", "-H", evil, "--data-binary",
            "{\"command\":\"G28 X\"}"});
  EXPECT_TRUE(absl::StartsWith(posted, "403 ")) << posted;
  EXPECT_TRUE(absl::StrContains(posted, "\"rule\":\"foreign-origin\"")) << posted;
  std::string websocket =
      Curl(alice_port_, "/sockjs/websocket?foreign",
           {"-H", evil, "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
            "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="});
  EXPECT_TRUE(absl::StartsWith(websocket, "403 ")) << websocket;
  EXPECT_TRUE(absl::StrContains(websocket, "\"rule\":\"foreign-origin\"")) << websocket;

  // The address `bowden open` printed, and the page it serves, still work.
  EXPECT_TRUE(absl::StartsWith(Curl(alice_port_, "/api/version?own"), "200 "));
  EXPECT_EQ(Curl(alice_port_, "/api/printer/command",
                 {"-X", "POST", "-H", "Content-Type: application/json", "-H",
                  absl::StrCat("Origin: http://127.0.0.1:", alice_port_), "--data-binary",
                  "{\"command\":\"G28 Y\"}"}),
            "204 ");
  EXPECT_TRUE(absl::StartsWith(
      Curl(alice_port_, "/api/version?localhost",
           {"-H", absl::StrCat("Host: localhost:", alice_port_)}),
      "200 "));
  ASSERT_TRUE(WaitFor([&] { return absl::StrContains(AccessLog(), "?localhost"); }));
  std::string log = AccessLog();
  EXPECT_EQ(Count(log, "POST /api/printer/command"), 1) << log;
  EXPECT_FALSE(absl::StrContains(log, "rebound")) << log;
  EXPECT_FALSE(absl::StrContains(log, "foreign")) << log;
  EXPECT_TRUE(WaitFor([&] { return Audited("alice", {"\"rule\":\"foreign-host\""}); }));
}

}  // namespace
}  // namespace bowden::testing
