// `bowden doctor` against real relay and agent processes: a healthy set-up
// passes every check and exits 0; a certificate from another CA and a relay
// that is down each give the FAIL line that names them and exit 1.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

class DoctorE2eTest : public ::testing::Test {
 protected:
  DoctorE2eTest() : target_(EchoUntilEof), farm_(Options(target_.port())) {}

  static Farm::Options Options(int port) {
    Farm::Options options;
    options.relay_extra_flags = {"--allow", "alice=*"};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", port)};
    return options;
  }

  // `bowden doctor` with `argv` (a CliAs() prefix); returns its exit code.
  static int Doctor(std::vector<std::string> argv, std::string* out) {
    argv.push_back("doctor");
    return RunToCompletion(argv, out);
  }

  static void Replace(std::vector<std::string>* argv, const std::string& flag,
                      const std::string& value) {
    for (size_t i = 0; i + 1 < argv->size(); ++i) {
      if ((*argv)[i] == flag) (*argv)[i + 1] = value;
    }
  }

  TcpTarget target_;
  Farm farm_;
};

TEST_F(DoctorE2eTest, AHealthySetUpPassesEveryCheck) {
  ASSERT_TRUE(farm_.WaitAttached());
  std::string out;
  EXPECT_EQ(Doctor(farm_.CliAs("alice"), &out), 0) << out;
  EXPECT_FALSE(absl::StrContains(out, "FAIL")) << out;
  EXPECT_FALSE(absl::StrContains(out, "WARN")) << out;
  EXPECT_TRUE(absl::StrContains(out,
                                "ok   key matches the certificate, identity "
                                "spiffe://farm.test/user/alice"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "ok   certificate chains to the CA"))
      << out;
  EXPECT_TRUE(
      absl::StrContains(out, absl::StrCat("ok   relay ", farm_.relay_address(),
                                          " answered over mutual TLS")))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "ok   clock agrees with the relay's"))
      << out;
  EXPECT_TRUE(
      absl::StrContains(out, "ok   the relay's certificate is valid until "))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out, "ok   you may reach printer prusa-01 (online): octoprint"))
      << out;
}

TEST(DoctorRelayCertificateTest,
     ARelayCertificateNearItsEndIsAWarningWithTheFix) {
  TcpTarget target(EchoUntilEof);
  Farm::Options options;
  options.relay_extra_flags = {"--allow", "alice=*"};
  options.targets = {absl::StrCat("octoprint=127.0.0.1:", target.port())};
  options.relay_cert_ttl = "240h";
  Farm farm(options);
  ASSERT_TRUE(farm.WaitAttached());
  std::vector<std::string> argv = farm.CliAs("alice");
  argv.push_back("doctor");
  std::string out;
  EXPECT_EQ(RunToCompletion(argv, &out), 3) << out;
  EXPECT_TRUE(
      absl::StrContains(out, "WARN the relay's certificate is valid until "))
      << out;
  EXPECT_TRUE(absl::StrContains(out,
                                "left): nothing renews it: on the CA host run "
                                "`bowden ca issue --dir DIR relay NAME "
                                "--dns HOST` again"))
      << out;
}

TEST_F(DoctorE2eTest, ACertificateFromAnotherCaFailsTheChainAndTheRelay) {
  TempDir other;
  Pki foreign(other.path(), "farm.test");
  foreign.Issue("user", "alice");
  identity::TlsFiles stranger = foreign.Files("alice");
  std::vector<std::string> argv = farm_.CliAs("alice");
  Replace(&argv, "--cert", stranger.cert);
  Replace(&argv, "--key", stranger.key);
  std::string out;
  EXPECT_EQ(Doctor(argv, &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("FAIL certificate does not verify against "
                        "the CA in '",
                        farm_.pki().Files("alice").ca, "'")))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("FAIL relay ", farm_.relay_address())))
      << out;
}

TEST_F(DoctorE2eTest, ARelayThatIsDownFailsWithTheReason) {
  std::vector<std::string> argv = farm_.CliAs("alice");
  std::string closed = absl::StrCat("127.0.0.1:", ClosedPort());
  Replace(&argv, "--relay", closed);
  std::string out;
  EXPECT_EQ(Doctor(argv, &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat("FAIL relay ", closed)))
      << out;
  EXPECT_TRUE(
      absl::StrContains(out, "refused the connection: nothing listens there"))
      << out;
  // The local checks still ran and passed.
  EXPECT_TRUE(absl::StrContains(out, "ok   certificate chains to the CA"))
      << out;
}

TEST_F(DoctorE2eTest, AnExpiredCertificateFailsSayingWhatToDo) {
  farm_.pki().Issue("user", "carol", {"--ttl", "1s"});
  identity::TlsFiles carol = farm_.pki().Files("carol");
  ASSERT_TRUE(WaitFor([&] {
    std::string out;
    return Doctor(farm_.CliAs("carol"), &out) == 1 &&
           absl::StrContains(out, "expired at");
  }));
  std::string out;
  EXPECT_EQ(Doctor(farm_.CliAs("carol"), &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("FAIL certificate '", carol.cert, "' expired at")))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "run `bowden login --token`")) << out;
  // The relay refuses it too, and says so.
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("FAIL relay ", farm_.relay_address())))
      << out;
}

TEST_F(DoctorE2eTest, UnreadableFilesSkipTheRelayCheck) {
  std::vector<std::string> argv = farm_.CliAs("alice");
  std::string missing = farm_.dir().File("missing.crt");
  Replace(&argv, "--cert", missing);
  std::string out;
  EXPECT_EQ(Doctor(argv, &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("FAIL cannot read the certificate '", missing)))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("WARN relay ", farm_.relay_address(), " not checked")))
      << out;
}

}  // namespace
}  // namespace bowden::testing
