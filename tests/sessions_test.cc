// `bowden sessions` shows live sessions (all of them to relay admins, their
// own to others) and `bowden kill` lets an admin cut one at once.

#include <sys/socket.h>

#include <fstream>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

TEST(SessionsTest, AdminsSeeAndKillSessionsOthersDoNot) {
  TempDir policy_dir;
  std::ofstream(policy_dir.File("policy.textproto"))
      << "admins: \"alice\"\n"
      << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
      << "grant { user: \"bob\" printers: \"prusa-*\" }\n"
      << "grant { user: \"carol\" printers: \"prusa-*\" }\n";
  TcpTarget echo(EchoUntilEof);
  Farm::Options options;
  options.relay_extra_flags = {"--policy", policy_dir.File("policy.textproto")};
  options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo.port(), ",guard=none")};
  Farm farm(options);
  farm.pki().Issue("user", "bob");
  farm.pki().Issue("user", "carol");
  ASSERT_TRUE(farm.WaitAttached());

  int port = farm.Open("bob", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);
  tunnel::UniqueFd socket = ConnectTo(port);
  ASSERT_TRUE(WriteAll(socket.get(), "ping"));
  char buffer[4];
  ASSERT_EQ(read(socket.get(), buffer, 4), 4);  // the session is live

  auto run = [&](const std::string& user, std::vector<std::string> command,
                 std::string* out) {
    std::vector<std::string> argv = farm.CliAs(user);
    argv.insert(argv.end(), command.begin(), command.end());
    return RunToCompletion(argv, out);
  };
  std::string out;
  ASSERT_EQ(run("alice", {"sessions"}, &out), 0) << out;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(out, match, std::regex("([0-9a-f]{24}) +bob +prusa-01")))
      << out;
  std::string session = match[1];
  EXPECT_TRUE(absl::StrContains(out, "operator")) << out;

  ASSERT_EQ(run("bob", {"sessions"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, session)) << out;
  ASSERT_EQ(run("carol", {"sessions"}, &out), 0) << out;
  EXPECT_FALSE(absl::StrContains(out, session)) << out;

  EXPECT_EQ(run("bob", {"kill", session}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "not a relay admin")) << out;
  EXPECT_EQ(run("alice", {"kill", "000000000000000000000000"}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "no live session")) << out;

  ASSERT_EQ(run("alice", {"kill", session, "--reason", "maintenance"}, &out), 0) << out;
  timeval timeout{10, 0};
  setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char more[16];
  ssize_t n = read(socket.get(), more, sizeof(more));
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << "n=" << n << " errno=" << errno;
  EXPECT_TRUE(farm.relay().WaitForOutput("killed by alice: maintenance"));
  ASSERT_TRUE(WaitFor([&] {
    run("alice", {"sessions"}, &out);
    return !absl::StrContains(out, session);
  })) << out;
}

}  // namespace
}  // namespace bowden::testing
