#include "enroll/renewer.h"

#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "certs/ca.h"
#include "certs/pem_files.h"
#include "gtest/gtest.h"

namespace bowden::enroll {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// notBefore is backdated five minutes (certs::kIssueBackdate).
Validity IssuedAt(absl::Time issued, absl::Duration ttl) {
  return Validity{issued - absl::Minutes(5), issued + ttl};
}

TEST(RenewalTimeTest, TwoThirdsOfTheLifetimeWithoutJitter) {
  EXPECT_EQ(RenewalTime(IssuedAt(kStart, absl::Hours(24)), 0), kStart + absl::Hours(16));
}

TEST(RenewalTimeTest, TheBackdateDoesNotCountForShortCertificates) {
  // A 12 s test certificate renews 8 s after issuance, not at once.
  EXPECT_EQ(RenewalTime(IssuedAt(kStart, absl::Seconds(12)), 0), kStart + absl::Seconds(8));
}

TEST(RenewalTimeTest, JitterMovesItUpToATenthEarlier) {
  Validity v = IssuedAt(kStart, absl::Hours(30));
  EXPECT_EQ(RenewalTime(v, 1), kStart + absl::Hours(20) - absl::Hours(3));
  EXPECT_EQ(RenewalTime(v, 0.5), kStart + absl::Hours(20) - absl::Minutes(90));
  // Out-of-range jitter is clamped, never later than two thirds.
  EXPECT_EQ(RenewalTime(v, -3), kStart + absl::Hours(20));
  EXPECT_EQ(RenewalTime(v, 7), kStart + absl::Hours(17));
}

TEST(ReadValidityTest, ReadsTheWindowOfAnIssuedCertificate) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/ca";
  ASSERT_TRUE(certs::InitCa(dir, "farm.test").ok());
  certs::IssueOptions issue;
  issue.role = certs::Role::kAgent;
  issue.name = "prusa-01";
  issue.ttl = absl::Hours(6);
  absl::Time before = absl::Now();
  ASSERT_TRUE(certs::IssueCertificate(dir, issue).ok());
  absl::StatusOr<Validity> v = ReadValidity(dir + "/prusa-01.crt");
  ASSERT_TRUE(v.ok()) << v.status();
  // Backdated five minutes; whole seconds in X.509.
  EXPECT_LE(absl::AbsDuration(v->not_before - (before - absl::Minutes(5))), absl::Seconds(2));
  EXPECT_LE(absl::AbsDuration(v->not_after - (before + absl::Hours(6))), absl::Seconds(2));
}

TEST(ReadValidityTest, SaysWhatIsWrongWithAFileThatIsNoCertificate) {
  EXPECT_FALSE(ReadValidity("/nonexistent/agent.crt").ok());
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/ca2";
  ASSERT_TRUE(certs::InitCa(dir, "farm.test").ok());
  absl::StatusOr<Validity> v = ReadValidity(dir + "/ca.key");
  EXPECT_FALSE(v.ok());
}

class CheckRenewedCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(std::getenv("TEST_TMPDIR")) + "/check.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl + "/ca";
    ASSERT_TRUE(certs::InitCa(dir_, "farm.test").ok());
    certs::IssueOptions issue;
    issue.role = certs::Role::kAgent;
    issue.name = "prusa-01";
    issue.ttl = absl::Hours(1);
    ASSERT_TRUE(certs::IssueCertificate(dir_, issue).ok());
    issue.name = "prusa-02";
    ASSERT_TRUE(certs::IssueCertificate(dir_, issue).ok());
    key_ = Read("prusa-01.key");
    old_ = Read("prusa-01.crt");
    bundle_ = Read("ca.crt");
    absl::StatusOr<std::string> csr = certs::CsrForKey(key_);
    ASSERT_TRUE(csr.ok());
    csr_ = *csr;
  }
  std::string Read(const std::string& file) {
    absl::StatusOr<std::string> pem = certs::ReadPemFile(dir_ + "/" + file, false);
    EXPECT_TRUE(pem.ok()) << pem.status();
    return pem.value_or("");
  }
  std::string Sign(const std::string& name) {
    absl::StatusOr<std::string> pem =
        certs::SignCsr(dir_, csr_, certs::Role::kAgent, name, absl::Hours(1));
    EXPECT_TRUE(pem.ok()) << pem.status();
    return pem.value_or("");
  }

  std::string dir_, key_, old_, bundle_, csr_;
};

TEST_F(CheckRenewedCertificateTest, ACertificateForThisKeyAndIdentityPasses) {
  EXPECT_TRUE(CheckRenewedCertificate(Sign("prusa-01"), bundle_, key_, old_).ok());
}

TEST_F(CheckRenewedCertificateTest, AnythingElseIsRefusedAndSaysWhy) {
  absl::Status other_key = CheckRenewedCertificate(Read("prusa-02.crt"), bundle_, key_, old_);
  EXPECT_EQ(other_key.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(other_key.message().find("not for this host's key"), std::string::npos);

  absl::Status other_id = CheckRenewedCertificate(Sign("prusa-99"), bundle_, key_, old_);
  EXPECT_EQ(other_id.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(other_id.message().find("another identity"), std::string::npos);

  std::string foreign = dir_ + "-foreign";
  ASSERT_TRUE(certs::InitCa(foreign, "farm.test").ok());
  absl::StatusOr<std::string> foreign_ca = certs::ReadPemFile(foreign + "/ca.crt", false);
  ASSERT_TRUE(foreign_ca.ok());
  absl::Status unverified = CheckRenewedCertificate(Sign("prusa-01"), *foreign_ca, key_, old_);
  EXPECT_EQ(unverified.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(unverified.message().find("does not verify"), std::string::npos);

  EXPECT_EQ(CheckRenewedCertificate("garbage", bundle_, key_, old_).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace bowden::enroll
