#include "relay/call_refusals.h"

#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "gtest/gtest.h"
#include "relay/relay_state.h"

namespace bowden::relay {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

bowden::v1::AuditEvent Refusal(const std::string& actor) {
  bowden::v1::AuditEvent row = MakeAuditEvent("auth", actor, "denied");
  row.set_detail(absl::StrCat("an agent certificate (", actor,
                              ") cannot call the user service"));
  return row;
}

class CallRefusalLogTest : public ::testing::Test {
 protected:
  CallRefusalLogTest() {
    path_ = absl::StrCat(::testing::TempDir(), "/call_refusals_", getpid(), "_",
                         ::testing::UnitTest::GetInstance()->random_seed(), ".db");
    std::remove(path_.c_str());
    auto log = audit::AuditLog::Open(path_);
    EXPECT_TRUE(log.ok()) << log.status();
    sink_ = std::make_unique<AuditSink>(*std::move(log));
  }
  ~CallRefusalLogTest() override { std::remove(path_.c_str()); }

  std::vector<bowden::v1::AuditEvent> Rows() {
    sink_->Flush();
    bowden::v1::AuditQuery query;
    query.set_kind("auth");
    query.set_limit(10000);
    auto rows = sink_->log().Query(query);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *rows : std::vector<bowden::v1::AuditEvent>{};
  }

  std::string path_;
  std::unique_ptr<AuditSink> sink_;
};

// One client calling in a loop gets `burst` rows, then one summary row with
// the count of the rest; another actor's refusals are not hidden by it.
TEST_F(CallRefusalLogTest, AFloodFromOneActorIsSummarisedAndOthersStillShow) {
  CallRefusalLog refusals(sink_.get(), {/*burst=*/5, /*per_minute=*/0,
                                        /*summary_every=*/absl::Hours(1)});
  for (int i = 0; i < 1000; ++i) {
    refusals.Record(Refusal("spiffe://farm.test/agent/prusa-01"), "refused",
                    kStart + absl::Milliseconds(i));
  }
  refusals.Record(Refusal("spiffe://farm.test/user/mallory"), "refused",
                  kStart + absl::Seconds(2));
  refusals.Stop();  // writes the summaries
  refusals.Record(Refusal("spiffe://farm.test/user/eve"), "refused", kStart);

  std::map<std::string, int> individual;
  std::map<std::string, int64_t> suppressed;
  for (const bowden::v1::AuditEvent& row : Rows()) {
    auto it = row.fields().find("suppressed");
    if (it == row.fields().end()) {
      ++individual[row.actor()];
      continue;
    }
    ASSERT_TRUE(absl::SimpleAtoi(it->second, &suppressed[row.actor()]));
    EXPECT_TRUE(absl::StrContains(row.detail(),
                                  "995 more refused calls not recorded "
                                  "individually since 2027-01-15 08:00:00 UTC"))
        << row.detail();
    EXPECT_TRUE(absl::StrContains(row.detail(), "cannot call the user service"))
        << row.detail();
  }
  EXPECT_EQ(individual["spiffe://farm.test/agent/prusa-01"], 5);
  EXPECT_EQ(suppressed["spiffe://farm.test/agent/prusa-01"], 995);
  EXPECT_EQ(individual["spiffe://farm.test/user/mallory"], 1);
  EXPECT_EQ(suppressed.count("spiffe://farm.test/user/mallory"), 0u);
  EXPECT_EQ(individual.count("spiffe://farm.test/user/eve"), 0u);  // after Stop
}

// A user's refused dials and that user's refused calls are bounded and
// summarised separately, each summary keeping its kind of row.
TEST_F(CallRefusalLogTest, EachKindOfRefusalHasItsOwnBoundAndSummary) {
  CallRefusalLog refusals(sink_.get(), {/*burst=*/2, /*per_minute=*/0,
                                        /*summary_every=*/absl::Hours(1)});
  for (int i = 0; i < 10; ++i) {
    bowden::v1::AuditEvent dial = MakeAuditEvent("denial", "bob", "denied");
    dial.set_printer("prusa-07");
    dial.set_detail("user 'bob' may not open printer 'prusa-07'");
    refusals.Record(std::move(dial), "dial refused", kStart);
    refusals.Record(Refusal("bob"), "call refused", kStart);
  }
  refusals.Stop();
  sink_->Flush();
  std::map<std::string, int> rows;
  std::map<std::string, std::string> suppressed;
  for (const char* kind : {"denial", "auth"}) {
    bowden::v1::AuditQuery query;
    query.set_kind(kind);
    query.set_limit(100);
    auto found = sink_->log().Query(query);
    ASSERT_TRUE(found.ok()) << found.status();
    for (const auto& row : *found) {
      EXPECT_EQ(row.actor(), "bob");
      ++rows[kind];
      auto it = row.fields().find("suppressed");
      if (it != row.fields().end()) suppressed[kind] = it->second;
    }
  }
  EXPECT_EQ(rows["denial"], 3);  // 2 and a summary
  EXPECT_EQ(rows["auth"], 3);
  EXPECT_EQ(suppressed["denial"], "8");
  EXPECT_EQ(suppressed["auth"], "8");
}

// Refusals past the bucket are counted, by actor, up to kMaxCountedActors;
// the actors beyond are counted together, so the count stays whole.
TEST_F(CallRefusalLogTest, ManyActorsAreCountedWithinABoundAndNoneIsLost) {
  CallRefusalLog refusals(sink_.get(), {/*burst=*/0, /*per_minute=*/0,
                                        /*summary_every=*/absl::Hours(1)});
  const size_t actors = CallRefusalLog::kMaxCountedActors + 50;
  for (size_t i = 0; i < actors; ++i) {
    refusals.Record(Refusal(absl::StrCat("spiffe://farm.test/user/u", i)),
                    "refused", kStart);
  }
  refusals.Stop();
  int64_t total = 0, others = 0;
  size_t summaries = 0;
  for (const bowden::v1::AuditEvent& row : Rows()) {
    int64_t n = 0;
    ASSERT_TRUE(absl::SimpleAtoi(row.fields().at("suppressed"), &n));
    total += n;
    ++summaries;
    if (row.actor() == CallRefusalLog::kOtherActors) others = n;
  }
  EXPECT_EQ(total, static_cast<int64_t>(actors));
  EXPECT_EQ(summaries, CallRefusalLog::kMaxCountedActors + 1);
  EXPECT_EQ(others, 50);
}

}  // namespace
}  // namespace bowden::relay
