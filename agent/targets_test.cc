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

TEST(ParseTargetsTest, GuardsByNameOrOption) {
  auto targets = ParseTargets({"octoprint=127.0.0.1:5000", "webcam=127.0.0.1:8080",
                               "ssh=127.0.0.1:22", "mk4=127.0.0.1:5001,guard=octoprint",
                               "raw=127.0.0.1:5002,guard=none"});
  ASSERT_TRUE(targets.ok()) << targets.status();
  EXPECT_EQ(targets->at("octoprint").guard, GuardKind::kOctoPrint);
  EXPECT_EQ(targets->at("webcam").guard, GuardKind::kWebcam);
  EXPECT_EQ(targets->at("ssh").guard, GuardKind::kNone);
  EXPECT_EQ(targets->at("mk4").guard, GuardKind::kOctoPrint);
  EXPECT_EQ(targets->at("mk4").host_port.port, 5001);
  EXPECT_EQ(targets->at("raw").guard, GuardKind::kNone);
  EXPECT_FALSE(ParseTargets({"a=127.0.0.1:1,guard=ftp"}).ok());
  EXPECT_FALSE(ParseTargets({"a=127.0.0.1:1,mode=x"}).ok());
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
