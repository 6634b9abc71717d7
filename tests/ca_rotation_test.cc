// Rotating the farm CA with an overlap: after `bowden ca rotate` the relay
// (reading pki/bundle.crt) trusts the old and the new CA, the agent's next
// renewal brings it a certificate of the new CA and the bundle, the relay
// moves to a certificate of the new CA without a restart, and after
// `bowden ca retire` certificates of the old CA are refused.

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

int CountCertificates(const std::string& path) {
  std::string pem = ReadFileOrEmpty(path);
  int count = 0;
  for (size_t at = pem.find("BEGIN CERTIFICATE"); at != std::string::npos;
       at = pem.find("BEGIN CERTIFICATE", at + 1)) {
    ++count;
  }
  return count;
}

// `openssl verify` against exactly `ca_file`: the real tool's opinion.
bool VerifiesAgainst(const std::string& ca_file, const std::string& cert) {
  std::string out;
  return RunToCompletion({"/usr/bin/openssl", "verify", "-CAfile", ca_file, cert}, &out) == 0;
}

bool Dials(const std::string& relay, const identity::TlsFiles& tls, const std::string& what) {
  std::string echoed;
  return DialOnce(relay, tls, "prusa-01", "octoprint", what, &echoed).ok() && echoed == what;
}

TEST(CaRotationTest, OldAndNewCertificatesWorkDuringTheOverlapAndOnlyNewOnesAfter) {
  TcpTarget echo(EchoUntilEof);
  Farm::Options options;
  options.relay_signs = true;
  options.relay_trusts_bundle = true;
  options.agent_cert_ttl = "12s";
  options.agent_keeps_own_files = true;
  options.relay_extra_flags = {"--allow", "alice=*", "--allow", "dave=*",
                               "--agent-cert-ttl", "1h"};
  options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo.port(), ",guard=none")};
  Farm farm(options);
  const std::string pki = farm.pki().dir();
  ASSERT_EQ(CountCertificates(pki + "/bundle.crt"), 1);
  ASSERT_TRUE(farm.WaitAttached()) << farm.agent().Stderr();
  const std::string old_ca = ReadFileOrEmpty(pki + "/ca.crt");

  std::string out;
  ASSERT_EQ(RunToCompletion({BinaryPath("cli/bowden"), "ca", "rotate", "--dir", pki}, &out), 0)
      << out;
  EXPECT_NE(ReadFileOrEmpty(pki + "/ca.crt"), old_ca);
  EXPECT_EQ(ReadFileOrEmpty(pki + "/previous-ca.crt"), old_ca);
  EXPECT_EQ(CountCertificates(pki + "/bundle.crt"), 2);
  EXPECT_EQ(RunToCompletion({BinaryPath("cli/bowden"), "ca", "rotate", "--dir", pki}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "already under way")) << out;

  // Alice keeps her certificate of the old CA and trusts the bundle.
  identity::TlsFiles alice = farm.pki().Files("alice");
  alice.ca = pki + "/bundle.crt";
  EXPECT_TRUE(Dials(farm.relay_address(), alice, "old CA, overlap"));

  // The agent's renewal (at 8 s of 12 s) brings a certificate of the new CA
  // and the bundle.
  ASSERT_TRUE(farm.agent().WaitForOutput("renewed the certificate", 1, absl::Seconds(20)))
      << farm.agent().Stderr();
  identity::TlsFiles agent = farm.agent_files();
  EXPECT_TRUE(VerifiesAgainst(pki + "/ca.crt", agent.cert));
  EXPECT_EQ(CountCertificates(agent.ca), 2);

  // A user enrolled after the rotation trusts only the new CA: she gets in
  // once the relay has picked up its new certificate, without a restart.
  farm.pki().Issue("user", "dave");
  identity::TlsFiles dave = farm.pki().Files("dave");
  EXPECT_FALSE(VerifiesAgainst(pki + "/ca.crt", pki + "/relay.crt"));
  farm.pki().Issue("relay", "relay", {"--ip", "127.0.0.1", "--dns", "localhost"});
  EXPECT_TRUE(WaitFor([&] { return Dials(farm.relay_address(), dave, "new CA"); },
                      absl::Seconds(20)));
  EXPECT_TRUE(Dials(farm.relay_address(), alice, "old CA, still overlapping"));

  // End of the overlap: the old CA's certificates are refused, the new ones
  // keep working, and the agent reattaches to a restarted relay on its own.
  ASSERT_EQ(RunToCompletion({BinaryPath("cli/bowden"), "ca", "retire", "--dir", pki}, &out), 0)
      << out;
  EXPECT_EQ(CountCertificates(pki + "/bundle.crt"), 1);
  EXPECT_TRUE(WaitFor([&] { return !Dials(farm.relay_address(), alice, "refused"); },
                      absl::Seconds(20)));
  EXPECT_TRUE(Dials(farm.relay_address(), dave, "new CA after retire"));
  farm.StartRelay();
  ASSERT_TRUE(farm.WaitAttached(2)) << farm.agent().Stderr();
  EXPECT_TRUE(Dials(farm.relay_address(), dave, "after the restart"));
}

}  // namespace
}  // namespace bowden::testing
