// Short-lived certificates renew themselves: the agent at two thirds of its
// certificate's lifetime while a session keeps carrying bytes, the CLI before
// a command once its certificate is past two thirds. Lifetimes are seconds
// here, so the waits below are the lifetimes themselves.

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "enroll/renewer.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

// Sends `message` and reads the same number of bytes back (10 s at most).
bool Echo(int fd, const std::string& message) {
  if (!WriteAll(fd, message)) return false;
  std::string got;
  char buffer[256];
  while (got.size() < message.size()) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) return false;
    got.append(buffer, n);
  }
  return got == message;
}

Farm::Options ShortLivedFarm(int echo_port) {
  Farm::Options options;
  options.relay_signs = true;
  options.agent_cert_ttl = "12s";
  options.agent_keeps_own_files = true;
  options.relay_extra_flags = {"--allow",          "alice=*", "--allow", "carol=*",
                               "--agent-cert-ttl", "20s",     "--user-cert-ttl", "20s"};
  options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo_port, ",guard=none")};
  return options;
}

TEST(RenewalTest, TheAgentRenewsAndASessionCarriesBytesAcrossTheOldCertificatesExpiry) {
  TcpTarget echo(EchoUntilEof);
  Farm farm(ShortLivedFarm(echo.port()));
  ASSERT_TRUE(farm.WaitAttached()) << farm.agent().Stderr();
  absl::StatusOr<enroll::Validity> original = enroll::ReadValidity(farm.agent_files().cert);
  ASSERT_TRUE(original.ok()) << original.status();

  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);
  tunnel::UniqueFd conn = ConnectTo(port);
  timeval timeout{10, 0};
  setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  // Bytes flow until the original certificate has been expired two seconds.
  int rounds = 0;
  while (absl::Now() < original->not_after + absl::Seconds(2)) {
    ASSERT_TRUE(Echo(conn.get(), absl::StrCat("ping ", rounds, "\n"))) << rounds;
    ++rounds;
    // Paces the pings: returns at once after the renewal, else in 250 ms.
    farm.agent().WaitForOutput("renewed the certificate", 1, absl::Milliseconds(250));
  }
  EXPECT_TRUE(farm.agent().WaitForOutput("renewed the certificate", 1, absl::ZeroDuration()))
      << farm.agent().Stderr();
  EXPECT_TRUE(Echo(conn.get(), "still the same session\n"));
  EXPECT_GT(rounds, 10);

  absl::StatusOr<enroll::Validity> renewed = enroll::ReadValidity(farm.agent_files().cert);
  ASSERT_TRUE(renewed.ok()) << renewed.status();
  EXPECT_GT(renewed->not_after, original->not_after);
  EXPECT_TRUE(farm.relay().WaitForOutput("renewed spiffe://farm.test/agent/prusa-01"));

  // A new connection to a restarted relay can only use the renewed
  // certificate: the original has expired.
  farm.StartRelay();
  ASSERT_TRUE(farm.WaitAttached(2)) << farm.agent().Stderr();
  std::string echoed;
  grpc::Status status = DialOnce(farm.relay_address(), farm.pki().Files("alice"), "prusa-01",
                                 "octoprint", "after the restart", &echoed);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(echoed, "after the restart");
}

TEST(RenewalTest, ACertificateThatExpiresWhileTheRelayIsAwayIsReportedAndRetried) {
  TcpTarget echo(EchoUntilEof);
  Farm farm(ShortLivedFarm(echo.port()));
  farm.pki().Issue("user", "carol", {"--ttl", "12s"});
  ASSERT_TRUE(farm.WaitAttached()) << farm.agent().Stderr();
  farm.relay().Signal(SIGKILL);
  // Retries while the certificate lasts, then one clear sentence.
  EXPECT_TRUE(farm.agent().WaitForOutput("cannot renew the certificate (valid for", 1,
                                         absl::Seconds(20)))
      << farm.agent().Stderr();
  ASSERT_TRUE(farm.agent().WaitForOutput("expired at", 1, absl::Seconds(20)))
      << farm.agent().Stderr();
  EXPECT_TRUE(farm.agent().WaitForOutput("enroll again. Still retrying.", 1,
                                         absl::ZeroDuration()));
  // Said once, not on every retry.
  std::string log = farm.agent().Stderr();
  EXPECT_EQ(log.find("expired at"), log.rfind("expired at"));
  EXPECT_TRUE(farm.agent().running());

  // A user whose certificate ran out meanwhile is told how to get a new one.
  absl::StatusOr<enroll::Validity> carol = enroll::ReadValidity(farm.pki().Files("carol").cert);
  ASSERT_TRUE(carol.ok()) << carol.status();
  ASSERT_TRUE(WaitFor([&] { return absl::Now() > carol->not_after; }, absl::Seconds(15)));
  std::vector<std::string> ls = farm.CliAs("carol");
  ls.push_back("ls");
  std::string out;
  EXPECT_EQ(RunToCompletion(ls, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "has expired, so the relay will refuse it")) << out;
  EXPECT_TRUE(absl::StrContains(out, "bowden login --token")) << out;
}

TEST(RenewalTest, TheCliRenewsAUserCertificatePastTwoThirdsOfItsLifetime) {
  TcpTarget echo(EchoUntilEof);
  Farm farm(ShortLivedFarm(echo.port()));
  farm.pki().Issue("user", "carol", {"--ttl", "12s"});
  ASSERT_TRUE(farm.WaitAttached());
  std::vector<std::string> ls = farm.CliAs("carol");
  ls.push_back("ls");
  absl::StatusOr<enroll::Validity> before = enroll::ReadValidity(farm.pki().Files("carol").cert);
  ASSERT_TRUE(before.ok()) << before.status();

  std::string out;
  ASSERT_EQ(RunToCompletion(ls, &out), 0) << out;
  EXPECT_FALSE(absl::StrContains(out, "renewed")) << out;

  absl::Time due = enroll::RenewalTime(*before, 0);
  ASSERT_TRUE(WaitFor([&] { return absl::Now() > due; }, absl::Seconds(15)));
  ASSERT_EQ(RunToCompletion(ls, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "bowden: renewed your certificate")) << out;
  EXPECT_TRUE(absl::StrContains(out, "prusa-01")) << out;
  absl::StatusOr<enroll::Validity> after = enroll::ReadValidity(farm.pki().Files("carol").cert);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_GT(after->not_after, before->not_after + absl::Seconds(5));
}

TEST(RenewalTest, ARelayThatDoesNotSignSaysSo) {
  TcpTarget echo(EchoUntilEof);
  Farm::Options options = ShortLivedFarm(echo.port());
  options.relay_signs = false;
  options.relay_extra_flags = {"--allow", "carol=*"};
  Farm farm(options);
  farm.pki().Issue("user", "carol", {"--ttl", "12s"});
  absl::StatusOr<enroll::Validity> before = enroll::ReadValidity(farm.pki().Files("carol").cert);
  ASSERT_TRUE(before.ok());
  absl::Time due = enroll::RenewalTime(*before, 0);
  ASSERT_TRUE(WaitFor([&] { return absl::Now() > due; }, absl::Seconds(15)));
  std::vector<std::string> ls = farm.CliAs("carol");
  ls.push_back("ls");
  std::string out;
  // The command still runs on the current certificate, and says why it was
  // not renewed.
  EXPECT_EQ(RunToCompletion(ls, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "could not be renewed")) << out;
  EXPECT_TRUE(absl::StrContains(out, "does not sign certificates")) << out;
}

}  // namespace
}  // namespace bowden::testing
