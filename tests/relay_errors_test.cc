// Every failure to reach the relay names its actual cause (real relay and
// CLI processes): nothing listening, a relay that does not answer, something
// that is not TLS, a relay certificate the user's CA did not sign.

#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

class RelayErrorsTest : public ::testing::Test {
 protected:
  RelayErrorsTest() : farm_(Options()) {}

  static Farm::Options Options() {
    Farm::Options options;
    options.relay_extra_flags = {"--allow", "alice=*"};
    return options;
  }

  // `bowden ls` as alice against `relay` (default: the farm's), trusting
  // `ca` (default: the farm's); returns what it printed.
  std::string Ls(const std::string& relay = "", const std::string& ca = "") {
    std::vector<std::string> argv = farm_.CliAs("alice");
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--relay" && !relay.empty()) argv[i + 1] = relay;
      if (argv[i] == "--ca" && !ca.empty()) argv[i + 1] = ca;
    }
    argv.push_back("ls");
    std::string out;
    EXPECT_EQ(RunToCompletion(argv, &out), 1) << out;
    return out;
  }

  Farm farm_;
};

TEST_F(RelayErrorsTest, NothingListening) {
  std::string out = Ls(absl::StrCat("127.0.0.1:", ClosedPort()));
  EXPECT_TRUE(absl::StrContains(out, "refused the connection: nothing listens there")) << out;
}

TEST_F(RelayErrorsTest, AFrozenRelayIsNotCalledACertificateProblem) {
  farm_.relay().Signal(SIGSTOP);
  std::string out = Ls();
  farm_.relay().Signal(SIGCONT);
  EXPECT_TRUE(absl::StrContains(out, "did not answer in time")) << out;
  EXPECT_FALSE(absl::StrContains(out, "certificate")) << out;
}

TEST_F(RelayErrorsTest, SomethingThatIsNotTls) {
  TcpTarget web([](tunnel::UniqueFd socket) {
    char buffer[256];
    if (read(socket.get(), buffer, sizeof(buffer)) > 0) {
      WriteAll(socket.get(), "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    }
  });
  std::string out = Ls(absl::StrCat("127.0.0.1:", web.port()));
  EXPECT_TRUE(absl::StrContains(out, "does not speak TLS, so it is not a Bowden relay")) << out;
}

TEST_F(RelayErrorsTest, ARelayCertificateFromAnotherCa) {
  TempDir other;
  Pki foreign(other.path(), "other.example");
  std::string out = Ls("", absl::StrCat(other.path(), "/ca.crt"));
  EXPECT_TRUE(absl::StrContains(out, "certificate is not signed by the CA in --ca")) << out;
}

}  // namespace
}  // namespace bowden::testing
