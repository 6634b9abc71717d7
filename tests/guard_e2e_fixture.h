// The fixture of the guard's end-to-end tests: a farm whose agent guards an
// nginx standing in for OctoPrint (it records what reaches it) and a webcam,
// with `bowden open` for an admin (alice), a viewer (bob) and an operator
// (carol). Shared by guard_e2e_test.cc and guard_notices_e2e_test.cc.

#ifndef BOWDEN_TESTS_GUARD_E2E_FIXTURE_H_
#define BOWDEN_TESTS_GUARD_E2E_FIXTURE_H_

#include <sys/socket.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {

// Like mjpg-streamer's /?action=stream: after the request head, a 200 and
// JPEG frames for as long as anyone reads them.
inline void EndlessMjpegStream(tunnel::UniqueFd socket) {
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

constexpr char kApiKey[] = "5E2A9B0C3D4F4A1B8C7D6E5F4A3B2C1D";
constexpr char kSettings[] =
    R"({"api":{"key":"5E2A9B0C3D4F4A1B8C7D6E5F4A3B2C1D","allowCrossOrigin":false},)"
    R"("feature":{"keyboardControl":true},"temperature":{"profiles":[{"name":"PLA",)"
    R"("extruder":180,"bed":60}]},"plugins":{"telegram":{"token":"123:bot-token"}}})";

class GuardE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(web_.File("version")) << "{\"api\":\"0.1\",\"server\":\"1.10.3\"}";
    std::ofstream(web_.File("settings")) << kSettings;
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
        // Like OctoPrint to an OctoPrint admin session (the login a tunnel
        // viewer's browser may well have), compressed when asked to be.
        << "  location = /api/settings { default_type application/json; gzip on;\n"
        << "   gzip_types application/json; gzip_min_length 1; alias " << web_.File("settings")
        << "; }\n"
        // Like OctoPrint with autologinLocal on: the UI's passive login from
        // a local program without a forwarded address is logged in as "pi".
        << "  location = /api/login { default_type application/json;\n"
        << "   if ($http_x_forwarded_for = \"\") { return 200 '{\"name\":\"pi\"}'; }\n"
        << "   return 200 '{\"needs\":{\"role\":[]}}'; }\n"
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
inline std::string Gcode(int lines, int bad_line = 0, const std::string& bad = "M997") {
  std::string text = "; generated by the guard e2e test\n";
  for (int i = 2; i <= lines; ++i) {
    text += i == bad_line ? bad + "\n"
                          : absl::StrCat("G1 X", i % 200, ".5 Y", i % 190, " E0.0123\n");
  }
  return text;
}

inline int Count(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

}  // namespace bowden::testing

#endif  // BOWDEN_TESTS_GUARD_E2E_FIXTURE_H_
