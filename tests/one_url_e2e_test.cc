// `bowden open PRINTER` is one URL per printer, as on OctoPi: OctoPrint's UI
// and its default stream URL /webcam/?action=stream through one local port,
// the webcam served by the printer's webcam target with its own grant; and
// the same printer gets the same local port every time, so OctoPrint's
// per-port login cookies and bookmarks survive a restart.
//
// nginx stands in for OctoPrint and, on a second port, for mjpg-streamer.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

class OneUrlE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    octoprint_port_ = ClosedPort();
    webcam_port_ = ClosedPort();
    ASSERT_NE(octoprint_port_, webcam_port_);
    std::ostringstream servers;
    servers
        << " log_format seen '$server_port $request_method $request_uri "
           "$status';\n"
        << " access_log " << web_.File("access.log")
        << " seen;\n"
        // OctoPrint: its page, its API, and a 404 for /webcam/ as OctoPrint
        // itself gives (only OctoPi's haproxy serves the stream there).
        << " server { listen 127.0.0.1:" << octoprint_port_ << ";\n"
        << "  location = / { default_type text/html; return 200 "
           "'octoprint-ui-page'; }\n"
        << "  location = /api/version { default_type application/json;\n"
        << "   return 200 '{\"server\":\"1.10.3\"}'; }\n"
        // A page that asks for the API and the webcam in turn, as
        // OctoPrint's UI does, and shows what it got.
        << "  location = /static/one-url.html { default_type text/html; return "
           "200 \""
        << "<html><body>waiting<script>(async () => { const got = [];"
        << " for (const path of ['/api/version', '/webcam/?action=snapshot', "
           "'/api/version',"
        << " '/webcam/?action=snapshot', '/api/version']) {"
        << " got.push(await (await fetch(path)).text()); }"
        << " document.body.textContent = 'RESULT:' + got.join('|'); })()"
        << ".catch(e => { document.body.textContent = 'FAILED:' + e; });"
        << "</script></body></html>\"; }\n"
        << "  location / { return 404; }\n }\n"
        // mjpg-streamer: the stream and the snapshot at its root.
        << " server { listen 127.0.0.1:" << webcam_port_ << ";\n"
        << "  location = / {\n"
        << "   if ($arg_action = stream) {\n"
        << "    add_header Content-Type "
           "'multipart/x-mixed-replace;boundary=frame';\n"
        << "    return 200 '--frame\\r\\nContent-Type: "
           "image/jpeg\\r\\n\\r\\nmjpeg-frame"
           "\\r\\n--frame--\\r\\n'; }\n"
        << "   if ($arg_action = snapshot) { return 200 'jpeg-snapshot'; }\n"
        << "   return 400; }\n"
        << "  location / { return 404; }\n }\n";
    nginx_ = StartNginx(web_, servers.str(), {octoprint_port_, webcam_port_});

    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"bob\" printers: \"*\" role: \"viewer\" }\n"
        << "grant { user: \"carol\" printers: \"*\" targets: \"octoprint\" "
           "role: \"viewer\" }\n";
    Farm::Options options;
    options.relay_extra_flags = {"--policy",
                                 policy_dir_.File("policy.textproto")};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", octoprint_port_),
                       absl::StrCat("webcam=127.0.0.1:", webcam_port_)};
    farm_ = std::make_unique<Farm>(options);
    farm_->pki().Issue("user", "bob");
    farm_->pki().Issue("user", "carol");
    ASSERT_TRUE(farm_->WaitAttached());
  }

  // `bowden open prusa-01` as `user`, without --listen, remembering ports in
  // this test's own state directory.
  std::unique_ptr<Process> Open(const std::string& user) {
    std::vector<std::string> argv = {
        "/usr/bin/env", absl::StrCat("XDG_STATE_HOME=", state_.path())};
    for (const std::string& arg : farm_->CliAs(user)) argv.push_back(arg);
    argv.insert(argv.end(), {"open", "--no-browser", "prusa-01"});
    return std::make_unique<Process>(
        argv, state_.File(absl::StrCat("open", opens_++)));
  }
  // The port an Open() process printed, or 0.
  static int PortOf(Process& open) {
    if (!open.WaitForOutput("Forwarding http://127.0.0.1:")) {
      ADD_FAILURE() << "bowden open did not start: " << open.Stderr();
      return 0;
    }
    std::smatch match;
    std::string out = open.Stdout();
    if (!std::regex_search(out, match,
                           std::regex("http://127\\.0\\.0\\.1:(\\d+)/")))
      return 0;
    return std::stoi(match[1]);
  }
  static void Stop(Process& open) {
    open.Signal(SIGINT);
    EXPECT_EQ(open.Wait(), 0);
  }

  // curl with `args` and the URLs of `paths` on `port`, in one process (so
  // one kept-alive connection where it can); returns exit code, output in
  // *out and curl's verbose trace in *trace.
  int Curl(int port, const std::vector<std::string>& paths, std::string* out,
           std::string* trace = nullptr) {
    std::vector<std::string> argv = {
        "/usr/bin/curl",           "-s", "-S", "--max-time", "20", "--stderr",
        state_.File("curl-trace"), "-v"};
    for (const std::string& path : paths) {
      argv.push_back(absl::StrCat("http://127.0.0.1:", port, path));
    }
    int code = RunToCompletion(argv, out);
    if (trace != nullptr) *trace = ReadFileOrEmpty(state_.File("curl-trace"));
    return code;
  }

  bool Audited(const std::vector<std::string>& fields) {
    std::vector<std::string> argv = farm_->CliAs("alice");
    argv.insert(argv.end(), {"audit", "--json", "--all"});
    std::string out;
    if (RunToCompletion(argv, &out) != 0) return false;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      bool all = true;
      for (const std::string& field : fields)
        all = all && absl::StrContains(line, field);
      if (all) return true;
    }
    return false;
  }

  TempDir web_;
  TempDir policy_dir_;
  TempDir state_;
  int opens_ = 0;
  int octoprint_port_ = 0;
  int webcam_port_ = 0;
  std::unique_ptr<Process> nginx_;
  std::unique_ptr<Farm> farm_;
};

TEST_F(OneUrlE2eTest, OneUrlServesOctoPrintAndItsWebcamToAViewer) {
  std::unique_ptr<Process> open = Open("bob");
  const int port = PortOf(*open);
  ASSERT_NE(port, 0);
  EXPECT_TRUE(
      absl::StrContains(open->Stdout(), "(/webcam/ -> prusa-01/webcam)"))
      << open->Stdout();
  std::string out;
  ASSERT_EQ(Curl(port, {"/"}, &out), 0) << out;
  EXPECT_EQ(out, "octoprint-ui-page");
  std::string trace;
  ASSERT_EQ(Curl(port, {"/webcam/?action=stream"}, &out, &trace), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "mjpeg-frame")) << out;
  EXPECT_TRUE(absl::StrContains(trace, "multipart/x-mixed-replace")) << trace;
  // The streamer saw its own path, as behind OctoPi's haproxy.
  std::string log = ReadFileOrEmpty(web_.File("access.log"));
  EXPECT_TRUE(absl::StrContains(
      log, absl::StrCat(webcam_port_, " GET /?action=stream 200")))
      << log;
  EXPECT_FALSE(absl::StrContains(log, "/webcam/")) << log;
  // The webcam guard still refuses what is not a stream or a snapshot.
  ASSERT_EQ(Curl(port, {"/webcam/?action=command&id=1"}, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "\"rule\":\"webcam.action\"")) << out;
}

TEST_F(OneUrlE2eTest,
       AKeptAliveConnectionReusedForTheOtherTargetIsRetriedFresh) {
  std::unique_ptr<Process> open = Open("bob");
  const int port = PortOf(*open);
  ASSERT_NE(port, 0);
  std::string out;
  std::string trace;
  ASSERT_EQ(
      Curl(port, {"/api/version", "/webcam/?action=snapshot"}, &out, &trace), 0)
      << out << trace;
  EXPECT_EQ(out, "{\"server\":\"1.10.3\"}jpeg-snapshot") << trace;
  // curl reused the connection, found it closed before any answer, and sent
  // the request again on a fresh one.
  EXPECT_TRUE(absl::StrContains(trace, "Re-using existing connection"))
      << trace;
  EXPECT_TRUE(absl::StrContains(trace, "retrying a fresh connect")) << trace;
  ASSERT_EQ(
      Curl(port, {"/webcam/?action=snapshot", "/api/version"}, &out, &trace), 0)
      << out << trace;
  EXPECT_EQ(out, "jpeg-snapshot{\"server\":\"1.10.3\"}") << trace;
  // Audited as moved, not as a refusal; the retried requests as answered.
  EXPECT_TRUE(WaitFor([&] {
    return Audited({"\"outcome\":\"moved\"", "\"rule\":\"moved-to-webcam\"",
                    "\"path\":\"/webcam/\""}) &&
           Audited({"\"outcome\":\"moved\"", "\"rule\":\"moved-to-octoprint\"",
                    "\"path\":\"/api/version\""});
  }));
  // Nothing was refused, so bob's terminal says nothing (the agent sent its
  // notices, if any, with the events the relay has logged by now).
  EXPECT_FALSE(absl::StrContains(open->Stderr(), "refused")) << open->Stderr();
}

TEST_F(OneUrlE2eTest, WithoutTheWebcamGrantWebcamRequestsGoToOctoPrint) {
  std::unique_ptr<Process> open = Open("carol");
  const int port = PortOf(*open);
  ASSERT_NE(port, 0);
  EXPECT_FALSE(absl::StrContains(open->Stdout(), "/webcam/ ->"))
      << open->Stdout();
  std::string out;
  ASSERT_EQ(Curl(port, {"/webcam/?action=snapshot"}, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "404")) << out;  // OctoPrint's answer
  std::string log = ReadFileOrEmpty(web_.File("access.log"));
  EXPECT_FALSE(
      absl::StrContains(log, absl::StrCat(webcam_port_, " GET /?action")))
      << log;
}

// A real browser: Chromium reuses kept-alive connections for the page's
// requests, so some land on a connection of the other target; it resends
// those on a fresh connection and the page gets every answer right.
TEST_F(OneUrlE2eTest, ChromiumGetsTheApiAndTheWebcamThroughOneUrl) {
  if (access("/usr/bin/chromium", X_OK) != 0) {
    GTEST_SKIP()
        << "no /usr/bin/chromium (scripts/install-deps.sh installs it)";
  }
  std::unique_ptr<Process> open = Open("bob");
  const int port = PortOf(*open);
  ASSERT_NE(port, 0);
  std::string dom;
  RunToCompletion(
      {"/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
       "--user-data-dir=" + state_.File("chromium"),
       "--virtual-time-budget=15000", "--dump-dom",
       absl::StrCat("http://127.0.0.1:", port, "/static/one-url.html")},
      &dom, absl::Seconds(90));
  const std::string version = "{\"server\":\"1.10.3\"}";
  EXPECT_TRUE(
      absl::StrContains(dom, absl::StrCat("RESULT:", version, "|jpeg-snapshot|",
                                          version, "|jpeg-snapshot|", version)))
      << dom;
}

// Listens on 127.0.0.1:port, as another program holding the port would.
tunnel::UniqueFd Occupy(int port) {
  tunnel::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // Earlier connections to the port may linger in TIME_WAIT.
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
          0 ||
      listen(fd.get(), 1) != 0) {
    return tunnel::UniqueFd();
  }
  return fd;
}

TEST_F(OneUrlE2eTest, ThePrinterGetsTheSamePortUntilItIsTaken) {
  std::unique_ptr<Process> first = Open("bob");
  const int port = PortOf(*first);
  ASSERT_NE(port, 0);
  Stop(*first);
  std::unique_ptr<Process> second = Open("bob");
  EXPECT_EQ(PortOf(*second), port);
  EXPECT_FALSE(absl::StrContains(second->Stderr(), "taken"))
      << second->Stderr();
  Stop(*second);

  tunnel::UniqueFd holder = Occupy(port);
  ASSERT_TRUE(holder.valid()) << strerror(errno);
  std::unique_ptr<Process> third = Open("bob");
  const int other = PortOf(*third);
  ASSERT_NE(other, 0);
  EXPECT_NE(other, port);
  EXPECT_TRUE(third->WaitForOutput(absl::StrCat(
      "port ", port,
      ", which prusa-01 had last time, is taken, so it is on port ", other)))
      << third->Stderr();
  std::string out;
  ASSERT_EQ(Curl(other, {"/api/version"}, &out), 0);
  EXPECT_EQ(out, "{\"server\":\"1.10.3\"}");
  Stop(*third);
  holder.reset();

  // The new port is the one remembered now.
  std::unique_ptr<Process> fourth = Open("bob");
  EXPECT_EQ(PortOf(*fourth), other);
  Stop(*fourth);
  // --listen overrides and is not remembered.
  std::vector<std::string> argv = {
      "/usr/bin/env", absl::StrCat("XDG_STATE_HOME=", state_.path())};
  for (const std::string& arg : farm_->CliAs("bob")) argv.push_back(arg);
  argv.insert(argv.end(),
              {"open", "--no-browser", "--listen", "127.0.0.1:0", "prusa-01"});
  Process listen(argv, state_.File("open-listen"));
  const int chosen = PortOf(listen);
  EXPECT_NE(chosen, other);
  Stop(listen);
  std::unique_ptr<Process> fifth = Open("bob");
  EXPECT_EQ(PortOf(*fifth), other);
}

}  // namespace
}  // namespace bowden::testing
