// The agent refuses to serve an OctoPrint that would log tunnel sessions in
// without credentials: bowden open -> relay -> agent -> an nginx standing in
// for OctoPrint 1.10's passive login (POST /api/login {"passive":true} behind
// its CSRF double-submit check), which logs a request from the agent's
// forwarded range 198.18.0.0/15 in as "admin" when `tunnel_autologin`, as
// OctoPrint does with that range in localNetworks and autologinLocal on.

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

constexpr char kRefusal[] =
    "logs every tunnel session in as 'admin' without a password, so the agent "
    "refuses to "
    "serve it";

class OctoPrintLoginE2eTest : public ::testing::Test {
 protected:
  // Starts the stand-in, then a farm whose agent has `agent_flags`.
  void Start(bool tunnel_autologin, std::vector<std::string> agent_flags = {}) {
    port_ = ClosedPort();
    const std::string csrf = absl::StrCat("csrf_token_P", port_);
    std::ofstream(web_.File("nginx.conf"))
        << "daemon off; master_process off; worker_processes 1;\n"
        << "pid " << web_.File("nginx.pid") << ";\nerror_log stderr;\n"
        << "events {}\nhttp {\n"
        << " log_format seen '$request_method $request_uri "
           "xff=$http_x_forwarded_for "
           "csrf=$csrf_ok status=$status';\n"
        << " access_log " << web_.File("access.log") << " seen;\n"
        << " client_body_temp_path " << web_.path() << ";\n"
        << " proxy_temp_path " << web_.path() << ";\n"
        << " fastcgi_temp_path " << web_.path() << ";\n"
        << " uwsgi_temp_path " << web_.path() << ";\n"
        << " scgi_temp_path " << web_.path()
        << ";\n"
        // OctoPrint signs its CSRF token; the stand-in's is fixed.
        << " map \"$http_x_csrf_token:$cookie_" << csrf << "\" $csrf_ok {\n"
        << "  \"signed-token:signed-token\" 1; default 0; }\n"
        << " map $http_x_forwarded_for $autologin {\n"
        << (tunnel_autologin ? "  \"~^198\\.1[89]\\.\" 1;\n" : "")
        << "  default 0; }\n"
        << " server { listen 127.0.0.1:" << port_ << ";\n"
        << "  location = /login/ { add_header Set-Cookie \"" << csrf
        << "=signed-token; Path=/; SameSite=Lax\";\n"
        << "   default_type text/html; return 200 '<html>login</html>'; }\n"
        << "  location = /api/login { default_type application/json;\n"
        << "   if ($csrf_ok = 0) { return 400 'CSRF validation failed'; }\n"
        << "   if ($autologin) { return 200 "
           "'{\"name\":\"admin\",\"admin\":true,\"_login_mechanism\":"
           "\"autologin\"}'; }\n"
        << "   return 200 "
           "'{\"needs\":{\"role\":[]},\"_is_external_client\":false}'; }\n"
        << "  location = /api/version { default_type application/json;\n"
        << "   return 200 '{\"api\":\"0.1\",\"server\":\"1.10.3\"}'; }\n"
        << "  location / { return 404; }\n }\n}\n";
    nginx_ = std::make_unique<Process>(
        std::vector<std::string>{"/usr/sbin/nginx", "-p", web_.path(), "-c",
                                 web_.File("nginx.conf")},
        web_.File("nginx"));
    ASSERT_TRUE(WaitFor([&] {
      std::string out;
      return RunToCompletion(
                 {"/usr/bin/curl", "-sf", "-o", "/dev/null",
                  absl::StrCat("http://127.0.0.1:", port_, "/api/version")},
                 &out) == 0;
    })) << nginx_->Stderr();

    std::ofstream(policy_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"bob\" printers: \"*\" role: \"viewer\" }\n";
    Farm::Options options;
    options.relay_extra_flags = {"--policy", policy_.File("policy.textproto")};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", port_)};
    options.agent_extra_flags = std::move(agent_flags);
    farm_ = std::make_unique<Farm>(options);
    farm_->pki().Issue("user", "bob");
    ASSERT_TRUE(farm_->WaitAttached()) << farm_->agent().Stderr();
  }

  // GET /api/version through `user`'s `bowden open`; returns "STATUS BODY"
  // ("000 " when the tunnel closed without an answer).
  std::string Version(const std::string& user) {
    int local = farm_->Open(user, "prusa-01", "octoprint");
    if (local == 0) return "no bowden open";
    std::string out;
    RunToCompletion({"/usr/bin/curl", "-s", "-w", "\n%{http_code}",
                     absl::StrCat("http://127.0.0.1:", local, "/api/version")},
                    &out);
    size_t newline = out.rfind('\n');
    return absl::StrCat(out.substr(newline + 1), " ", out.substr(0, newline));
  }

  std::string AccessLog() { return ReadFileOrEmpty(web_.File("access.log")); }

  TempDir web_;
  TempDir policy_;
  int port_ = 0;
  std::unique_ptr<Process> nginx_;
  std::unique_ptr<Farm> farm_;
};

TEST_F(OctoPrintLoginE2eTest,
       SessionsToAnOctoPrintThatLogsTheTunnelInAreRefused) {
  Start(/*tunnel_autologin=*/true);
  // At start-up the agent said so at ERROR, with what to change.
  EXPECT_TRUE(farm_->agent().WaitForOutput(kRefusal))
      << farm_->agent().Stderr();
  EXPECT_TRUE(absl::StrContains(farm_->agent().Stderr(), "\nE"))
      << farm_->agent().Stderr();
  // The probe passed OctoPrint's CSRF check, plainly and forwarded.
  EXPECT_TRUE(
      absl::StrContains(AccessLog(), "POST /api/login xff=- csrf=1 status=200"))
      << AccessLog();
  EXPECT_TRUE(absl::StrContains(AccessLog(), "POST /api/login xff=198.1"))
      << AccessLog();
  EXPECT_FALSE(absl::StrContains(AccessLog(), "csrf=0 status=400"))
      << AccessLog();

  for (const std::string user : {"alice", "bob"}) {
    EXPECT_EQ(Version(user), "000 ") << user;
    // The user sees the sentence in the terminal running `bowden open`.
    EXPECT_TRUE(farm_->last_open().WaitForOutput(kRefusal))
        << farm_->last_open().Stderr();
    EXPECT_TRUE(absl::StrContains(farm_->last_open().Stderr(),
                                  "accessControl.autologinLocal"));
    EXPECT_TRUE(absl::StrContains(farm_->last_open().Stderr(),
                                  "--allow-octoprint-autologin"));
  }
  EXPECT_FALSE(absl::StrContains(AccessLog(), "GET /api/version xff=198"))
      << "a refused session reached OctoPrint: " << AccessLog();
}

TEST_F(OctoPrintLoginE2eTest, TheOverrideServesItAndSaysSoLoudly) {
  Start(/*tunnel_autologin=*/true, {"--allow-octoprint-autologin"});
  EXPECT_TRUE(farm_->agent().WaitForOutput(
      "served anyway because of --allow-octoprint-autologin"))
      << farm_->agent().Stderr();
  EXPECT_TRUE(absl::StrContains(farm_->agent().Stderr(),
                                "--allow-octoprint-autologin: "))
      << farm_->agent().Stderr();
  EXPECT_TRUE(absl::StartsWith(Version("bob"), "200 {\"api\""));
  // Each session's log line carries the warning too.
  EXPECT_TRUE(farm_->agent().WaitForOutput(
      "bob (viewer) -> the printer's local service "
      "'octoprint'"))
      << farm_->agent().Stderr();
  EXPECT_TRUE(farm_->agent().WaitForOutput(
      "(WARNING: OctoPrint ('octoprint') logs every "
      "tunnel session in as 'admin'"))
      << farm_->agent().Stderr();
}

TEST_F(OctoPrintLoginE2eTest, ASafeOctoPrintIsServedWithoutWarnings) {
  Start(/*tunnel_autologin=*/false);
  EXPECT_TRUE(farm_->agent().WaitForOutput(
      "passive login logs nobody in without credentials"))
      << farm_->agent().Stderr();
  EXPECT_TRUE(absl::StartsWith(Version("bob"), "200 {\"api\""));
  EXPECT_TRUE(absl::StrContains(AccessLog(), "GET /api/version xff=198.1"))
      << AccessLog();
  std::string log = farm_->agent().Stderr();
  EXPECT_FALSE(absl::StrContains(log, "without a password")) << log;
  EXPECT_FALSE(absl::StrContains(log, "(WARNING:")) << log;
  EXPECT_FALSE(absl::StrContains(log, "could not check")) << log;
}

}  // namespace
}  // namespace bowden::testing
