#include "agent/targets.h"

#include "gtest/gtest.h"

namespace bowden::agent {
namespace {

TEST(ParseTargetsTest, ParsesTheAllowList) {
  auto targets = ParseTargets({"octoprint=127.0.0.1:5000", "webcam=[::1]:8080"});
  ASSERT_TRUE(targets.ok()) << targets.status();
  ASSERT_EQ(targets->size(), 2u);
  EXPECT_EQ(targets->at("octoprint").host_port.port, 5000);
  EXPECT_EQ(targets->at("webcam").host_port.host, "::1");
}

TEST(ParseTargetsTest, RejectsBadEntriesQuotingThem) {
  for (const char* bad : {"octoprint", "=127.0.0.1:5000", "Octo=127.0.0.1:1",
                          "octoprint=127.0.0.1", "octoprint=127.0.0.1:0"}) {
    auto targets = ParseTargets({bad});
    ASSERT_FALSE(targets.ok()) << bad;
    EXPECT_NE(targets.status().message().find(bad), std::string::npos)
        << targets.status();
  }
  EXPECT_FALSE(ParseTargets({}).ok());
  EXPECT_FALSE(ParseTargets({"a=127.0.0.1:1", "a=127.0.0.1:2"}).ok());
}

}  // namespace
}  // namespace bowden::agent
