#include "agent/static_tally.h"

#include "gtest/gtest.h"

namespace bowden::agent {
namespace {

guard::GuardEvent Event(const std::string& path, int status,
                        const std::string& rule = "octoprint.ui.static",
                        const std::string& verdict = "allow") {
  guard::GuardEvent event;
  event.method = "GET";
  event.path = path;
  event.rule = rule;
  event.verdict = verdict;
  event.status = status;
  return event;
}

TEST(StaticTallyTest, CountsCompletedStaticAssetsAndNothingElse) {
  StaticTally tally;
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  EXPECT_TRUE(tally.Add(Event("/static/webassets/packed_core.js", 200), t0));
  EXPECT_TRUE(tally.Add(Event("/static/img/logo.png", 304), t0 + absl::Seconds(1)));
  EXPECT_TRUE(tally.Add(Event("/static/css/x.css", 200), t0 + absl::Seconds(2)));
  // Each of these keeps its own row.
  EXPECT_FALSE(tally.Add(Event("/static/missing.js", 404), t0));
  EXPECT_FALSE(tally.Add(Event("/api/version", 200, "octoprint.status"), t0));
  EXPECT_FALSE(tally.Add(Event("/static/x.js", 403, "octoprint.ui.static", "deny"), t0));
  guard::GuardEvent cut = Event("/static/big.js", 200);
  cut.interrupted = true;
  EXPECT_FALSE(tally.Add(cut, t0));
  guard::GuardEvent post = Event("/static/x.js", 200);
  post.method = "POST";
  EXPECT_FALSE(tally.Add(post, t0));

  bowden::v1::AuditEvent summary = tally.TakeSummary();
  EXPECT_EQ(summary.kind(), "http.static");
  EXPECT_EQ(summary.fields().at("count"), "3");
  EXPECT_EQ(summary.fields().at("statuses"), "200:2,304:1");
  EXPECT_EQ(summary.fields().at("first_path"), "/static/webassets/packed_core.js");
  EXPECT_EQ(summary.fields().at("first_unix_micros"), "1700000000000000");
  EXPECT_EQ(summary.fields().at("last_unix_micros"), "1700000002000000");
  EXPECT_TRUE(tally.empty());
}

TEST(StaticTallyTest, ASummaryIsDueAfterManyOrAfterAMinute) {
  StaticTally tally;
  const absl::Time t0 = absl::FromUnixSeconds(1700000000);
  EXPECT_FALSE(tally.Due(t0 + absl::Hours(1)));  // nothing counted
  tally.Add(Event("/static/a.js", 200), t0);
  EXPECT_FALSE(tally.Due(t0 + absl::Seconds(59)));
  EXPECT_TRUE(tally.Due(t0 + absl::Seconds(60)));
  tally.TakeSummary();
  for (uint64_t i = 0; i < StaticTally::kMaxCount; ++i) tally.Add(Event("/static/a.js", 200), t0);
  EXPECT_TRUE(tally.Due(t0));
}

}  // namespace
}  // namespace bowden::agent
