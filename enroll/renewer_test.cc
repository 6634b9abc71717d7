#include "enroll/renewer.h"

#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "certs/ca.h"
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

}  // namespace
}  // namespace bowden::enroll
