#include "agent/octoprint_probe.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace bowden::agent {
namespace {

TEST(LoginRisksTest, NoAutologinNoRisk) { EXPECT_TRUE(LoginRisks({"", ""}).empty()); }

TEST(LoginRisksTest, AutologinForLocalProgramsIsAWarning) {
  std::vector<std::string> risks = LoginRisks({"pi", ""});
  ASSERT_EQ(risks.size(), 1u);
  EXPECT_TRUE(absl::StrContains(risks[0], "autologinLocal is on")) << risks[0];
  EXPECT_TRUE(absl::StrContains(risks[0], "'pi'")) << risks[0];
}

TEST(LoginRisksTest, RemoteSessionsLoggedInSaysWhatToChange) {
  std::vector<std::string> risks = LoginRisks({"pi", "pi"});
  ASSERT_EQ(risks.size(), 1u);
  EXPECT_TRUE(absl::StrContains(risks[0], "every remote session would act as that user"))
      << risks[0];
  EXPECT_TRUE(absl::StrContains(risks[0], "localNetworks")) << risks[0];
}

}  // namespace
}  // namespace bowden::agent
