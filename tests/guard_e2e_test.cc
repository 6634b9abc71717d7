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
#include "tests/harness.h"

namespace bowden::testing {
namespace {

// Like mjpg-streamer's /?action=stream: after the request head, a 200 and
// JPEG frames for as long as anyone reads them.
void EndlessMjpegStream(tunnel::UniqueFd socket) {
  std::string head;
  char buffer[4096];
  while (head.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = recv(socket.get(), buffer, sizeof(buffer), 0);
    if (n <= 0) return;
    head.append(buffer, n);
  }
  const std::string frame = absl::StrCat(
      "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: 4096\r\n\r\n",
      std::string(4096, 'j'), "\r\n");
  if (!WriteAll(socket.get(),
                "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace;"
                "boundary=frame\r\n\r\n")) {
    return;
  }
  while (WriteAll(socket.get(), frame)) {
  }
}

class GuardE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(web_.File("version")) << "{\"api\":\"0.1\",\"server\":\"1.10.3\"}";
    nginx_port_ = ClosedPort();
    std::ofstream(web_.File("nginx.conf"))
        << "daemon off; master_process off; worker_processes 1;\n"
        << "pid " << web_.File("nginx.pid") << ";\nerror_log stderr;\n"
        << "events {}\nhttp {\n"
        << " log_format seen escape=json '$request_method $request_uri "
           "xff=$http_x_forwarded_for script=$http_x_script_name ru=$http_remote_user "
           "status=$status length=$request_length body=$request_body';\n"
        << " client_max_body_size 100m;\n"
        << " access_log " << web_.File("access.log") << " seen;\n"
        << " client_body_temp_path " << web_.path() << ";\n"
        << " proxy_temp_path " << web_.path() << ";\n"
        << " fastcgi_temp_path " << web_.path() << ";\n"
        << " uwsgi_temp_path " << web_.path() << ";\n"
        << " scgi_temp_path " << web_.path() << ";\n"
        << " server { listen 127.0.0.1:" << nginx_port_ << ";\n"
        << "  location = /api/version { default_type application/json; alias "
        << web_.File("version") << "; }\n"
        // Proxied, so nginx reads the body and logs it: a recording target
        // for what the guard let through.
        << "  location = /api/printer/command { proxy_pass http://127.0.0.1:" << nginx_port_
        << "/recorded; }\n"
        << "  location = /api/printer/printhead { proxy_pass http://127.0.0.1:" << nginx_port_
        << "/recorded; }\n"
        << "  location = /recorded { return 204; }\n"
        << "  location = /api/connection { return 204; }\n"
        // Like OctoPrint with autologinLocal on: a local request without a
        // forwarded address is logged in as "pi".
        << "  location = /api/currentuser { default_type application/json;\n"
        << "   if ($http_x_forwarded_for = \"\") { return 200 '{\"name\":\"pi\"}'; }\n"
        << "   return 200 '{\"name\":null,\"groups\":[\"guests\"]}'; }\n"
        // Like OctoPrint, answer an upload only once all of it has arrived:
        // proxying reads the whole body before /stored sees the request.
        << "  location = /api/files/local { proxy_pass http://127.0.0.1:" << nginx_port_
        << "/stored; }\n"
        << "  location = /stored { default_type application/json; return 201 "
           "'{\"done\":true}'; }\n"
        << "  location /static/ { default_type text/javascript; return 200 'asset'; }\n"
        << "  location / { return 404; }\n }\n}\n";
    nginx_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/sbin/nginx", "-p", web_.path(), "-c",
                                 web_.File("nginx.conf")},
        web_.File("nginx"));
    ASSERT_TRUE(WaitFor([&] {
      std::string out;
      return RunToCompletion({"/usr/bin/curl", "-sf", "-o", "/dev/null",
                              absl::StrCat("http://127.0.0.1:", nginx_port_, "/api/version")},
                             &out) == 0;
    })) << nginx_->Stderr();

    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"bob\" printers: \"*\" role: \"viewer\" }\n"
        << "grant { user: \"carol\" printers: \"*\" role: \"operator\" }\n";
    webcam_ = std::make_unique<TcpTarget>(EndlessMjpegStream);
    Farm::Options options;
    options.relay_extra_flags = {"--policy", policy_dir_.File("policy.textproto")};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", nginx_port_),
                       absl::StrCat("webcam=127.0.0.1:", webcam_->port(), ",guard=webcam")};
    options.agent_extra_flags = AgentFlags();
    farm_ = std::make_unique<Farm>(options);
    farm_->pki().Issue("user", "bob");
    farm_->pki().Issue("user", "carol");
    ASSERT_TRUE(farm_->WaitAttached());
    alice_port_ = farm_->Open("alice", "prusa-01", "octoprint");
    bob_port_ = farm_->Open("bob", "prusa-01", "octoprint");
    carol_port_ = farm_->Open("carol", "prusa-01", "octoprint");
    ASSERT_NE(alice_port_, 0);
    ASSERT_NE(bob_port_, 0);
    ASSERT_NE(carol_port_, 0);
  }

  virtual std::vector<std::string> AgentFlags() const { return {}; }

  // curl through a user's tunnel; returns "STATUS BODY".
  std::string Curl(int port, const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {"/usr/bin/curl", "-s", "--path-as-is", "-w",
                                     "\n%{http_code}"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(absl::StrCat("http://127.0.0.1:", port, path));
    std::string out;
    RunToCompletion(argv, &out);
    size_t newline = out.rfind('\n');
    return absl::StrCat(out.substr(newline + 1), " ", out.substr(0, newline));
  }
  std::string PostJson(int port, const std::string& path, const std::string& json) {
    return Curl(port, path, {"-X", "POST", "-H", "Content-Type: application/json",
                             "--data-binary", json});
  }
  // Whether the relay's audit log (read by alice, an admin) holds an
  // http.request event of `user` with all of `fields`, e.g. "\"status\":\"201\"".
  bool Audited(const std::string& user, const std::vector<std::string>& fields) {
    std::vector<std::string> argv = farm_->CliAs("alice");
    argv.insert(argv.end(), {"audit", "--json", "--user", user});
    std::string out;
    if (RunToCompletion(argv, &out) != 0) return false;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      bool all = absl::StrContains(line, "\"http.request\"");
      for (const std::string& field : fields) all = all && absl::StrContains(line, field);
      if (all) return true;
    }
    return false;
  }
  std::string AccessLog() {
    std::ifstream in(web_.File("access.log"));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  TempDir web_;
  TempDir policy_dir_;
  int nginx_port_ = 0;
  std::unique_ptr<Process> nginx_;
  std::unique_ptr<TcpTarget> webcam_;  // outlives the farm's connections to it
  std::unique_ptr<Farm> farm_;
  int alice_port_ = 0;
  int bob_port_ = 0;
  int carol_port_ = 0;
};

// `lines` lines of G-code of about 30 bytes, with `bad` as line `bad_line`.
std::string Gcode(int lines, int bad_line = 0, const std::string& bad = "M997") {
  std::string text = "; generated by the guard e2e test\n";
  for (int i = 2; i <= lines; ++i) {
    text += i == bad_line ? bad + "\n"
                          : absl::StrCat("G1 X", i % 200, ".5 Y", i % 190, " E0.0123\n");
  }
  return text;
}

int Count(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

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
  EXPECT_FALSE(absl::StrContains(AccessLog(), "POST")) << AccessLog();
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
  EXPECT_FALSE(absl::StrContains(AccessLog(), "POST")) << AccessLog();
}

TEST_F(GuardE2eTest, OctoPrintSeesOnlyTheAgentsForwardingHeaders) {
  EXPECT_TRUE(absl::StartsWith(
      Curl(bob_port_, "/api/version",
           {"-H", "X-Forwarded-For: 127.0.0.1", "-H", "X_Script_Name: /evil", "-H",
            "X-Script-Name: /evil2", "-H", "Remote-User: admin"}),
      "200 "));
  std::string log = AccessLog();
  EXPECT_TRUE(absl::StrContains(log, "GET /api/version xff=100.")) << log;
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
  EXPECT_TRUE(absl::StrContains(log, "POST /api/files/local xff=100.")) << log;
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

// The value of a JSON string field in `json` (no escapes in it).
std::string JsonField(const std::string& json, const std::string& name) {
  const std::string key = absl::StrCat("\"", name, "\":\"");
  size_t at = json.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return json.substr(at, json.find('"', at) - at);
}

// Lines of `text` that contain `needle`.
std::vector<std::string> LinesWith(const std::string& text,
                                   const std::string& needle) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (absl::StrContains(line, needle)) lines.push_back(line);
  }
  return lines;
}

// A refusal is seen by the person who caused it: the agent tells that
// session's `bowden open`, which prints the reason and rule on stderr; the
// browser gets the same sentence in OctoPrint's {"error": ...}. Nobody
// else's terminal shows it.
TEST_F(GuardE2eTest, TheRefusedUsersOpenPrintsTheAgentsReason) {
  const int bob = farm_->Open("bob", "prusa-01", "octoprint");
  ASSERT_NE(bob, 0);
  Process& bob_open = farm_->last_open();
  const int carol = farm_->Open("carol", "prusa-01", "octoprint");
  ASSERT_NE(carol, 0);
  Process& carol_open = farm_->last_open();

  // The refusal is the last thing on its connection.
  std::string denied =
      Curl(bob, "/api/printer/command",
           {"-X", "POST", "-H", "Content-Type: application/json", "-H",
            "Connection: close", "--data-binary", "{\"command\":\"G28\"}"});
  ASSERT_TRUE(absl::StartsWith(denied, "403 ")) << denied;
  const std::string reason = JsonField(denied, "reason");
  ASSERT_FALSE(reason.empty()) << denied;
  const std::string line = absl::StrCat(
      "bowden: printer prusa-01 refused POST /api/printer/command (viewer): ",
      reason, " [octoprint.printer.command]");
  EXPECT_EQ(JsonField(denied, "error"),
            absl::StrCat("Bowden refused POST /api/printer/command (viewer): ",
                         reason, " [octoprint.printer.command]"));
  EXPECT_TRUE(bob_open.WaitForOutput(line)) << bob_open.Stderr();

  // Carol is refused too (the G-code ceiling): her terminal shows only hers.
  EXPECT_EQ(PostJson(carol, "/api/printer/command", "{\"command\":\"M997\"}")
                .substr(0, 4),
            "403 ");
  EXPECT_TRUE(carol_open.WaitForOutput("(operator): "));
  EXPECT_FALSE(absl::StrContains(carol_open.Stderr(), "(viewer)"))
      << carol_open.Stderr();
  EXPECT_EQ(LinesWith(bob_open.Stderr(), " refused ").size(), 1u)
      << bob_open.Stderr();
}

// A flood of refusals (a page polling a refused API, a script) prints a
// bounded number of lines plus summaries that account for every refusal.
TEST_F(GuardE2eTest, AFloodOfRefusalsPrintsBoundedLinesThatCountThemAll) {
  const int bob = farm_->Open("bob", "prusa-01", "octoprint");
  ASSERT_NE(bob, 0);
  Process& bob_open = farm_->last_open();
  constexpr int kRefusals = 300;
  std::string requests;
  for (int i = 0; i < kRefusals; ++i) {
    requests += absl::StrCat(
        "POST /api/printer/command HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        "Content-Type: application/json\r\nContent-Length: 17\r\n",
        i + 1 == kRefusals ? "Connection: close\r\n" : "",
        "\r\n{\"command\":\"G28\"}");
  }
  tunnel::UniqueFd socket = ConnectTo(bob);
  ASSERT_TRUE(socket.valid());
  ASSERT_TRUE(WriteAll(socket.get(), requests));
  EXPECT_EQ(Count(ReadAll(socket.get()), "HTTP/1.1 403 Forbidden"), kRefusals);

  int single = 0;
  uint64_t summed = 0;
  ASSERT_TRUE(WaitFor([&] {
    const std::vector<std::string> lines =
        LinesWith(bob_open.Stderr(), "bowden: printer");
    single = 0;
    summed = 0;
    for (const std::string& line : lines) {
      size_t more = line.find(" more request");
      if (more == std::string::npos) {
        ++single;
        continue;
      }
      size_t refused = line.rfind(" refused ", more);
      summed += std::stoull(line.substr(refused + 9, more - refused - 9));
    }
    return single + summed == kRefusals;
  })) << single
      << " lines and " << summed << " summed up:\n"
      << bob_open.Stderr();
  RecordProperty("single_lines", single);
  RecordProperty("summed_up", static_cast<int>(summed));
  EXPECT_GE(single, 20);  // the burst
  EXPECT_LE(single, kRefusals / 3) << bob_open.Stderr();
  EXPECT_GT(summed, 0u);
}

TEST_F(GuardE2eTest, TheAgentChecksWhomOctoPrintLogsInWithoutCredentials) {
  // The probe saw autologinLocal for local programs, and that a request
  // forwarded with the guard's X-Forwarded-For stays anonymous.
  EXPECT_TRUE(farm_->agent().WaitForOutput(
      "OctoPrint's autologinLocal is on: any program on this host is logged in as 'pi'"))
      << farm_->agent().Stderr();
  EXPECT_FALSE(absl::StrContains(farm_->agent().Stderr(), "every remote session would act"));
  EXPECT_EQ(Count(AccessLog(), "GET /api/currentuser"), 2) << AccessLog();
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
