// Killed peers: the agent reattaches to a restarted relay, and a killed
// agent resets its live sessions instead of leaving them hanging.

#include <sys/socket.h>

#include <csignal>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

Farm::Options EchoFarm(int echo_port) {
  Farm::Options options;
  options.relay_extra_flags = {"--allow", "alice=prusa-*"};
  options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo_port, ",guard=none")};
  return options;
}

std::string RoundTrip(int port, const std::string& message) {
  tunnel::UniqueFd socket = ConnectTo(port);
  WriteAll(socket.get(), message);
  shutdown(socket.get(), SHUT_WR);
  return ReadAll(socket.get());
}

TEST(ReattachTest, AgentReattachesAfterTheRelayIsKilledAndRestarted) {
  TcpTarget echo(EchoUntilEof);
  Farm farm(EchoFarm(echo.port()));
  ASSERT_TRUE(farm.WaitAttached(1));
  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);
  ASSERT_EQ(RoundTrip(port, "before"), "before");

  farm.relay().Signal(SIGKILL);
  ASSERT_TRUE(farm.agent().WaitForOutput("backing off"));
  farm.StartRelay();  // same port, same state directory
  ASSERT_TRUE(farm.WaitAttached(2)) << farm.agent().Stderr();

  // The same `bowden open` keeps working: its channel reconnects too.
  EXPECT_EQ(RoundTrip(port, "after"), "after");
}

TEST(ReattachTest, KillingTheAgentResetsItsLiveSessions) {
  TcpTarget echo(EchoUntilEof);
  Farm farm(EchoFarm(echo.port()));
  ASSERT_TRUE(farm.WaitAttached());
  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);

  tunnel::UniqueFd socket = ConnectTo(port);
  ASSERT_TRUE(WriteAll(socket.get(), "hello"));
  char buffer[5];
  ASSERT_EQ(read(socket.get(), buffer, 5), 5);

  farm.agent().Signal(SIGKILL);
  // The session ends (reset or EOF) instead of hanging open.
  timeval timeout{20, 0};
  setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char more[16];
  ssize_t n = read(socket.get(), more, sizeof(more));
  EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << "n=" << n << " errno=" << errno;
  EXPECT_TRUE(farm.relay().running());
}

}  // namespace
}  // namespace bowden::testing
