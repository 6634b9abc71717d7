#include <sys/stat.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "certs/ca.h"
#include "doctor/certificate_checks.h"
#include "doctor/finding.h"
#include "doctor/relay_findings.h"
#include "gtest/gtest.h"

namespace bowden::doctor {
namespace {

using Verdict = Finding::Verdict;

// All findings on one string, for assertions and failure messages.
std::string Lines(const std::vector<Finding>& findings) {
  std::ostringstream out;
  Report(findings, out);
  return out.str();
}

int Count(const std::vector<Finding>& findings, Verdict verdict) {
  int n = 0;
  for (const Finding& f : findings) n += f.verdict == verdict;
  return n;
}

class CertificateChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        ::testing::TempDir(), "/doctor-", getpid(), "-",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(certs::InitCa(dir_, "farm.test").ok());
    certs::IssueOptions alice;
    alice.role = certs::Role::kUser;
    alice.name = "alice";
    ASSERT_TRUE(certs::IssueCertificate(dir_, alice).ok());
  }

  identity::TlsFiles Files(const std::string& name = "alice") const {
    return {absl::StrCat(dir_, "/", name, ".crt"),
            absl::StrCat(dir_, "/", name, ".key"),
            absl::StrCat(dir_, "/ca.crt")};
  }

  std::string dir_;
};

TEST_F(CertificateChecksTest, AFreshUserCertificatePassesEveryCheck) {
  std::vector<Finding> findings =
      CheckCertificate(Files(), identity::PeerKind::kUser, absl::Now());
  std::string lines = Lines(findings);
  EXPECT_EQ(Count(findings, Verdict::kOk), static_cast<int>(findings.size()))
      << lines;
  EXPECT_TRUE(
      absl::StrContains(lines, "identity spiffe://farm.test/user/alice"))
      << lines;
  EXPECT_TRUE(absl::StrContains(lines, "readable by its owner only")) << lines;
  EXPECT_TRUE(absl::StrContains(lines, "left)")) << lines;
  EXPECT_TRUE(absl::StrContains(lines, "chains to the CA")) << lines;
}

TEST_F(CertificateChecksTest, AKeyOthersCanReadFailsWithChmod) {
  ASSERT_EQ(chmod(Files().key.c_str(), 0644), 0);
  std::string lines =
      Lines(CheckCertificate(Files(), identity::PeerKind::kUser, absl::Now()));
  EXPECT_TRUE(
      absl::StrContains(lines, "FAIL key '" + Files().key + "' has mode 0644"))
      << lines;
  EXPECT_TRUE(absl::StrContains(lines, "run `chmod 600 " + Files().key + "`"))
      << lines;
}

TEST_F(CertificateChecksTest, AKeyOfAnotherCertificateFails) {
  certs::IssueOptions bob;
  bob.role = certs::Role::kUser;
  bob.name = "bob";
  ASSERT_TRUE(certs::IssueCertificate(dir_, bob).ok());
  identity::TlsFiles files = Files();
  files.key = Files("bob").key;
  std::string lines =
      Lines(CheckCertificate(files, identity::PeerKind::kUser, absl::Now()));
  EXPECT_TRUE(absl::StrContains(
      lines, "FAIL the key '" + files.key + "' does not belong"))
      << lines;
}

TEST_F(CertificateChecksTest, AnExpiredCertificateFailsOnceWithWhatToDo) {
  std::vector<Finding> findings = CheckCertificate(
      Files(), identity::PeerKind::kUser, absl::Now() + absl::Hours(48));
  std::string lines = Lines(findings);
  EXPECT_EQ(Count(findings, Verdict::kFail), 1) << lines;
  EXPECT_TRUE(absl::StrContains(lines, "expired at")) << lines;
  EXPECT_TRUE(absl::StrContains(lines, "bowden login --token")) << lines;
}

TEST_F(CertificateChecksTest, PastItsRenewalTimeWarns) {
  // 24 h certificates renew at two thirds of their lifetime.
  std::vector<Finding> findings = CheckCertificate(
      Files(), identity::PeerKind::kUser, absl::Now() + absl::Hours(20));
  std::string lines = Lines(findings);
  EXPECT_EQ(Count(findings, Verdict::kFail), 0) << lines;
  EXPECT_TRUE(absl::StrContains(lines, "WARN certificate")) << lines;
  EXPECT_TRUE(absl::StrContains(lines, "past its renewal time")) << lines;
}

TEST_F(CertificateChecksTest, ACertificateFromAnotherCaFailsTheChain) {
  std::string other = dir_ + "-other";
  ASSERT_TRUE(certs::InitCa(other, "farm.test").ok());
  identity::TlsFiles files = Files();
  files.ca = other + "/ca.crt";
  std::string lines =
      Lines(CheckCertificate(files, identity::PeerKind::kUser, absl::Now()));
  EXPECT_TRUE(absl::StrContains(
      lines,
      "FAIL certificate does not verify against the CA in '" + files.ca + "'"))
      << lines;
}

TEST_F(CertificateChecksTest, AUserCertificateWhereAnAgentsIsNeededFails) {
  std::string lines =
      Lines(CheckCertificate(Files(), identity::PeerKind::kAgent, absl::Now()));
  EXPECT_TRUE(absl::StrContains(
      lines, "is for spiffe://farm.test/user/alice, not a agent"))
      << lines;
}

TEST_F(CertificateChecksTest, AMissingCertificateFails) {
  identity::TlsFiles files = Files();
  files.cert = dir_ + "/nobody.crt";
  std::vector<Finding> findings =
      CheckCertificate(files, identity::PeerKind::kUser, absl::Now());
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].verdict, Verdict::kFail);
  EXPECT_TRUE(
      absl::StrContains(findings[0].what, "cannot read the certificate"));
}

TEST_F(CertificateChecksTest, AnUnreadableCaFileIsOneFailure) {
  identity::TlsFiles files = Files();
  files.ca = dir_ + "/nothing.crt";
  std::vector<Finding> findings =
      CheckCertificate(files, identity::PeerKind::kUser, absl::Now());
  std::string lines = Lines(findings);
  ASSERT_EQ(findings.size(), 1u) << lines;
  EXPECT_TRUE(absl::StrContains(
      lines, "FAIL cannot read the CA file '" + files.ca + "'"))
      << lines;
  EXPECT_FALSE(ReadableFiles(files, nullptr));
  EXPECT_TRUE(ReadableFiles(Files(), nullptr));
}

TEST(FindingTest, LinesArePrefixedAndEscaped) {
  EXPECT_EQ(FormatFinding(Ok("all good")), "ok   all good");
  EXPECT_EQ(FormatFinding(Warn("hm", "do this")), "WARN hm: do this");
  EXPECT_EQ(FormatFinding(Fail("printer \x1b[2Jx", "fix")),
            "FAIL printer \\x1b[2Jx: fix");
}

TEST(FindingTest, ExitCodeSaysWhetherAllPassed) {
  std::ostringstream out;
  EXPECT_EQ(Report({Ok("a"), Ok("b")}, out), kAllPassed);
  EXPECT_EQ(Report({Ok("a"), Warn("b", "c")}, out), kOnlyWarnings);
  EXPECT_EQ(Report({Warn("b", "c"), Fail("d", "e"), Ok("a")}, out),
            kSomethingFailed);
}

TEST(FindingTest, HumanDurations) {
  EXPECT_EQ(HumanDuration(absl::Hours(75)), "3 days 3h");
  EXPECT_EQ(HumanDuration(absl::Hours(23) + absl::Minutes(59)), "23h 59m");
  EXPECT_EQ(HumanDuration(absl::Minutes(-7)), "7m");
  EXPECT_EQ(HumanDuration(absl::Seconds(4)), "4s");
  EXPECT_EQ(HumanDuration(absl::Milliseconds(12)), "12 ms");
}

identity::PeerCertificate RelayCertificateUntil(absl::Time not_after) {
  identity::PeerCertificate cert;
  cert.serial_hex = "1F";
  cert.not_before = not_after - absl::Hours(24 * 365);
  cert.not_after = not_after;
  return cert;
}

TEST(RelayCertificateFindingTest, OkWithAMonthLeftWarnWithin) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(RelayCertificateFinding(
                RelayCertificateUntil(now + absl::Hours(24 * 31)), now)
                .verdict,
            Verdict::kOk);
  Finding soon = RelayCertificateFinding(
      RelayCertificateUntil(now + absl::Hours(24 * 29)), now);
  EXPECT_EQ(soon.verdict, Verdict::kWarn);
  EXPECT_TRUE(
      absl::StrContains(soon.fix, "bowden ca issue --dir DIR relay NAME"))
      << soon.fix;
}

TEST(RelayCertificateFindingTest, AnExpiredOneFailsWithTheFix) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  Finding f =
      RelayCertificateFinding(RelayCertificateUntil(now - absl::Hours(2)), now);
  EXPECT_EQ(f.verdict, Verdict::kFail);
  EXPECT_TRUE(absl::StrContains(f.what, "expired at 2023-11-14")) << f.what;
  EXPECT_TRUE(absl::StrContains(f.what, "(2h 0m ago)")) << f.what;
  EXPECT_TRUE(absl::StrContains(f.fix, "bowden ca issue --dir DIR relay NAME"))
      << f.fix;
}

TEST(RelayCertificateFindingTest, ACaCertificateFailsHoweverLongItLasts) {
  absl::Time now = absl::FromUnixSeconds(1700000000);
  identity::PeerCertificate cert =
      RelayCertificateUntil(now + absl::Hours(24 * 365));
  cert.ca_marks = "basicConstraints CA:TRUE";
  Finding f = RelayCertificateFinding(cert, now);
  EXPECT_EQ(f.verdict, Verdict::kFail);
  EXPECT_TRUE(absl::StrContains(
      f.what, "is a CA certificate (basicConstraints CA:TRUE), not a leaf"))
      << f.what;
  EXPECT_TRUE(absl::StrContains(f.fix,
                                "issue the relay a leaf: on the CA host "
                                "run `bowden ca issue --dir DIR relay"))
      << f.fix;
}

TEST(ClockFindingTest, SkewWithinTheBackdateIsOk) {
  absl::Time t = absl::FromUnixSeconds(1700000000);
  EXPECT_EQ(ClockFinding(t, t + absl::Milliseconds(10), t + absl::Seconds(30))
                .verdict,
            Verdict::kOk);
}

TEST(ClockFindingTest, ARelayTenMinutesAheadFailsSayingThisHostIsBehind) {
  absl::Time t = absl::FromUnixSeconds(1700000000);
  Finding f =
      ClockFinding(t, t + absl::Milliseconds(10), t + absl::Minutes(10));
  EXPECT_EQ(f.verdict, Verdict::kFail);
  EXPECT_TRUE(absl::StrContains(f.what, "10m behind the relay's")) << f.what;
  EXPECT_TRUE(absl::StrContains(f.fix, "timedatectl set-ntp true")) << f.fix;
}

TEST(ClockFindingTest, ASlowRoundTripIsTheErrorBarNotSkew) {
  absl::Time t = absl::FromUnixSeconds(1700000000);
  // Answered after 20 min: the relay's clock could be anywhere in the window.
  EXPECT_EQ(
      ClockFinding(t, t + absl::Minutes(20), t + absl::Minutes(1)).verdict,
      Verdict::kOk);
  Finding ahead =
      ClockFinding(t, t + absl::Milliseconds(4), t - absl::Hours(1));
  EXPECT_TRUE(absl::StrContains(ahead.what, "ahead of the relay's"))
      << ahead.what;
}

TEST(RelayCallFailedTest, NamesTheRelayOnce) {
  EXPECT_EQ(
      FormatFinding(RelayCallFailed("relay r:1 refused the connection", "r:1")),
      "FAIL relay r:1 refused the connection");
  EXPECT_EQ(FormatFinding(RelayCallFailed("certificate revoked", "r:1")),
            "FAIL relay r:1: certificate revoked");
}

TEST(PolicyFindingsTest, NoPrinterWarns) {
  std::vector<Finding> f =
      PolicyFindings(bowden::v1::ListPrintersResponse(), absl::Now());
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].verdict, Verdict::kWarn);
  EXPECT_TRUE(absl::StrContains(f[0].fix, "grant"));
}

TEST(PolicyFindingsTest, OnePerPrinterWithTargetsAndOnlineState) {
  bowden::v1::ListPrintersResponse response;
  auto* on = response.add_printers();
  on->set_id("prusa-01");
  on->set_online(true);
  on->add_targets("octoprint");
  on->add_targets("webcam");
  auto* off = response.add_printers();
  off->set_id("ender-02");
  off->add_targets("octoprint");
  off->set_last_seen_unix(absl::ToUnixSeconds(absl::Now() - absl::Hours(3)));
  auto* bare = response.add_printers();
  bare->set_id("mk4");
  bare->set_online(true);
  std::string lines = Lines(PolicyFindings(response, absl::Now()));
  EXPECT_TRUE(absl::StrContains(lines,
                                "ok   you may reach printer prusa-01 (online): "
                                "octoprint, webcam\n"))
      << lines;
  EXPECT_TRUE(absl::StrContains(
      lines,
      "WARN you may reach printer ender-02 (octoprint) but it "
      "is offline, last seen 3h 0m ago"))
      << lines;
  EXPECT_TRUE(absl::StrContains(
      lines, "WARN you may reach printer mk4 but none of its targets"))
      << lines;
}

}  // namespace
}  // namespace bowden::doctor
