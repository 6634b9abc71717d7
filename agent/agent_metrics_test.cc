#include "agent/agent_metrics.h"

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace bowden::agent {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RuleClassTest, KeepsTheFirstTwoParts) {
  EXPECT_EQ(RuleClass("octoprint.printer.command"), "octoprint.printer");
  EXPECT_EQ(RuleClass("webcam.stream"), "webcam.stream");
  EXPECT_EQ(RuleClass("default-deny"), "default-deny");
  EXPECT_EQ(RuleClass(""), "none");
}

TEST(AgentMetricsTest, GuardRefusalLabelsAreBounded) {
  AgentMetrics& metrics = AgentMetrics::Get();
  metrics.CountGuardRefusal("octoprint.printer.command");
  metrics.CountGuardRefusal("octoprint.printer.tool");
  for (size_t i = 0; i < 2 * AgentMetrics::kMaxRuleClasses; ++i) {
    metrics.CountGuardRefusal(absl::StrCat("made.up", i, ".rule"));
  }
  std::string text =
      prometheus::TextSerializer().Serialize(metrics.registry()->Collect());
  EXPECT_THAT(text, HasSubstr("bowden_agent_guard_refusals_total{rule_class="
                              "\"octoprint.printer\"} 2\n"));
  // octoprint.printer and made.up0..30 fill the 32 classes; the other 33
  // refusals go to "other", not to new series.
  EXPECT_THAT(text, HasSubstr("bowden_agent_guard_refusals_total{rule_class="
                              "\"other\"} 33\n"));
  EXPECT_THAT(text, Not(HasSubstr("made.up31")));
}

}  // namespace
}  // namespace bowden::agent
