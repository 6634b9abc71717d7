#include "relay/tls_refusals.h"

#include <unistd.h>

#include <cstdlib>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

identity::TlsRefusal Refusal(const std::string& code,
                             const std::string& claimed_id = "") {
  identity::TlsRefusal refusal;
  refusal.code = code;
  refusal.reason = absl::StrCat("reason for ", code);
  refusal.claimed_id = claimed_id;
  refusal.cert = {"CN=mallory", "CN=Other CA", "7E57",
                  "2024-05-01 12:00:00 UTC"};
  return refusal;
}

TEST(TlsRefusalLimiterTest, ARowSaysWhoWhyAndWhichCertificate) {
  TlsRefusalLimiter limiter({});
  std::optional<bowden::v1::AuditEvent> row = limiter.OnRefusal(
      Refusal("expired", "spiffe://farm.test/user/alice"), kStart);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->kind(), "auth");
  EXPECT_EQ(row->outcome(), "denied");
  EXPECT_EQ(row->actor(), "spiffe://farm.test/user/alice");
  EXPECT_EQ(row->detail(), "reason for expired");
  EXPECT_EQ(row->fields().at("stage"), "tls");
  EXPECT_EQ(row->fields().at("code"), "expired");
  EXPECT_EQ(row->fields().at("subject"), "CN=mallory");
  EXPECT_EQ(row->fields().at("issuer"), "CN=Other CA");
  EXPECT_EQ(row->fields().at("serial"), "7E57");
  EXPECT_EQ(row->fields().at("not_after"), "2024-05-01 12:00:00 UTC");
  EXPECT_EQ(row->fields().at("peer"), kNoPeerAddress);
  // Without a SPIFFE id the subject stands for the actor.
  row = limiter.OnRefusal(Refusal("self_signed"), kStart);
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->actor(), "CN=mallory");
}

TEST(TlsRefusalLimiterTest,
     ABurstIsRecordedThenOnePerSecondAndTheRestSummarised) {
  TlsRefusalLimiter limiter({/*burst=*/20, /*per_second=*/1});
  int rows = 0;
  for (int i = 0; i < 25; ++i) {
    if (limiter.OnRefusal(Refusal(i % 2 ? "expired" : "untrusted_issuer"),
                          kStart))
      ++rows;
  }
  EXPECT_EQ(rows, 20);
  EXPECT_FALSE(
      limiter.OnRefusal(Refusal("expired"), kStart + absl::Milliseconds(500)));
  EXPECT_TRUE(limiter.OnRefusal(Refusal("expired"), kStart + absl::Seconds(2)));

  std::optional<bowden::v1::AuditEvent> summary = limiter.TakeSummary();
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->kind(), "auth");
  EXPECT_EQ(summary->outcome(), "denied");
  EXPECT_EQ(summary->fields().at("suppressed"), "6");
  EXPECT_EQ(summary->fields().at("codes"), "expired=3 untrusted_issuer=3");
  EXPECT_TRUE(
      absl::StartsWith(summary->detail(),
                       "6 more TLS refusals not recorded individually since "))
      << summary->detail();
  EXPECT_FALSE(limiter.TakeSummary().has_value());  // counted once only
}

// The whole path with a real audit log: 200 refusals as fast as they come
// leave a bounded number of rows, and rows plus summaries account for all.
TEST(TlsRefusalLogTest, AFloodIsBoundedAndAccountedFor) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/tls_refusals_", getpid(), ".db");
  std::remove(path.c_str());
  auto log = audit::AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  auto sink = std::make_unique<AuditSink>(*std::move(log));
  const absl::Time start = absl::Now();
  {
    TlsRefusalLog refusals(sink.get(), absl::Hours(1));
    for (int i = 0; i < 200; ++i) refusals.Record(Refusal("expired"));
    refusals.Stop();                      // writes the summary
    refusals.Record(Refusal("expired"));  // after Stop: logged, not written
  }
  const int64_t elapsed_seconds = absl::ToInt64Seconds(absl::Now() - start) + 1;
  sink->Flush();
  bowden::v1::AuditQuery query;
  query.set_kind("auth");
  auto rows = sink->log().Query(query);
  ASSERT_TRUE(rows.ok()) << rows.status();
  int64_t individual = 0, summarised = 0, summaries = 0;
  for (const bowden::v1::AuditEvent& row : *rows) {
    auto suppressed = row.fields().find("suppressed");
    if (suppressed == row.fields().end()) {
      ++individual;
      continue;
    }
    int64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(suppressed->second, &n));
    summarised += n;
    ++summaries;
  }
  EXPECT_LE(individual, 20 + elapsed_seconds);
  EXPECT_EQ(summaries, 1);
  EXPECT_EQ(individual + summarised, 200);
}

}  // namespace
}  // namespace bowden::relay
