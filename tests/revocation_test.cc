// Revocation: a revoked identity or certificate cannot open new calls, and
// its live sessions (as user or as agent) are cut at once.

#include <sys/socket.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

class RevocationTest : public ::testing::Test {
 protected:
  RevocationTest() : echo_(EchoUntilEof) {
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"bob\" printers: \"prusa-*\" }\n";
    Farm::Options options;
    options.relay_extra_flags = {"--policy", policy_dir_.File("policy.textproto")};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")};
    farm_ = std::make_unique<Farm>(options);
    farm_->pki().Issue("user", "bob");
  }

  int Cli(const std::string& user, std::vector<std::string> command, std::string* out) {
    std::vector<std::string> argv = farm_->CliAs(user);
    argv.insert(argv.end(), command.begin(), command.end());
    return RunToCompletion(argv, out);
  }

  // Opens a live session as bob and returns its socket.
  tunnel::UniqueFd LiveSession() {
    int port = farm_->Open("bob", "prusa-01", "octoprint");
    EXPECT_NE(port, 0);
    tunnel::UniqueFd socket = ConnectTo(port);
    EXPECT_TRUE(WriteAll(socket.get(), "ping"));
    char buffer[4];
    EXPECT_EQ(read(socket.get(), buffer, 4), 4);
    return socket;
  }

  // Waits for the socket to be closed or reset; returns how long it took.
  static absl::Duration TimeToCut(int fd, absl::Time since) {
    timeval timeout{20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    char buffer[16];
    ssize_t n = read(fd, buffer, sizeof(buffer));
    EXPECT_TRUE(n == 0 || (n < 0 && errno == ECONNRESET)) << "n=" << n << " errno=" << errno;
    return absl::Now() - since;
  }

  TempDir policy_dir_;
  TcpTarget echo_;
  std::unique_ptr<Farm> farm_;
};

TEST_F(RevocationTest, RevokingAUserCutsTheirLiveSessionAndRefusesNewCalls) {
  ASSERT_TRUE(farm_->WaitAttached());
  tunnel::UniqueFd socket = LiveSession();

  std::string out;
  absl::Time start = absl::Now();
  ASSERT_EQ(Cli("alice", {"revoke", "user", "bob", "--reason", "lost laptop"}, &out), 0) << out;
  absl::Duration delay = TimeToCut(socket.get(), start);
  std::cout << "revocation cut bob's live session after " << absl::FormatDuration(delay)
            << std::endl;
  EXPECT_LT(delay, absl::Seconds(5));  // the stated bound is 1 s; generous for CI
  EXPECT_TRUE(absl::StrContains(out, "cut 1 live session")) << out;

  EXPECT_EQ(Cli("bob", {"ls"}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "is revoked")) << out;
  EXPECT_TRUE(absl::StrContains(out, "lost laptop")) << out;

  ASSERT_EQ(Cli("alice", {"admin", "ls"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "spiffe://farm.test/user/bob")) << out;
  EXPECT_TRUE(absl::StrContains(out, "revoked")) << out;
  EXPECT_TRUE(absl::StrContains(out, "user bob  revoked")) << out;

  ASSERT_EQ(Cli("alice", {"unrevoke", "user", "bob"}, &out), 0) << out;
  EXPECT_EQ(Cli("bob", {"ls"}, &out), 0) << out;

  ASSERT_EQ(Cli("alice", {"audit"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "action=revoke")) << out;
  EXPECT_TRUE(absl::StrContains(out, "action=lift-revocation")) << out;
}

TEST_F(RevocationTest, RevokingOneCertificateLeavesItsSuccessorValid) {
  ASSERT_TRUE(farm_->WaitAttached());
  std::string out;
  ASSERT_EQ(RunToCompletion({"/usr/bin/openssl", "x509", "-noout", "-serial", "-in",
                             farm_->pki().Files("bob").cert},
                            &out),
            0)
      << out;
  std::string serial(absl::StripAsciiWhitespace(absl::StripPrefix(out, "serial=")));
  tunnel::UniqueFd socket = LiveSession();
  ASSERT_EQ(Cli("alice", {"revoke", "serial", serial}, &out), 0) << out;
  TimeToCut(socket.get(), absl::Now());
  EXPECT_EQ(Cli("bob", {"ls"}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "is revoked")) << out;

  farm_->pki().Issue("user", "bob");  // a new certificate, new serial
  EXPECT_EQ(Cli("bob", {"ls"}, &out), 0) << out;
}

TEST_F(RevocationTest, ARevokedAgentIsDetachedAndCannotReattach) {
  ASSERT_TRUE(farm_->WaitAttached());
  tunnel::UniqueFd socket = LiveSession();
  std::string out;
  ASSERT_EQ(Cli("alice", {"revoke", "agent", "prusa-01", "--reason", "stolen"}, &out), 0)
      << out;
  TimeToCut(socket.get(), absl::Now());
  EXPECT_TRUE(farm_->agent().WaitForOutput("is revoked")) << farm_->agent().Stderr();
  EXPECT_TRUE(farm_->relay().WaitForOutput("agent prusa-01 detached"));
  EXPECT_FALSE(DialOnce(farm_->relay_address(), farm_->pki().Files("bob"), "prusa-01",
                        "octoprint")
                   .ok());
}

}  // namespace
}  // namespace bowden::testing
