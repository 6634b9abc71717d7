#include "identity/spiffe_id.h"

#include "gtest/gtest.h"

namespace bowden::identity {
namespace {

TEST(SpiffeIdTest, ParsesTheThreeKinds) {
  auto relay = ParseSpiffeId("spiffe://farm.example/relay");
  ASSERT_TRUE(relay.ok()) << relay.status();
  EXPECT_EQ(relay->kind, PeerKind::kRelay);
  EXPECT_EQ(relay->trust_domain, "farm.example");

  auto agent = ParseSpiffeId("spiffe://farm.example/agent/prusa-01");
  ASSERT_TRUE(agent.ok()) << agent.status();
  EXPECT_EQ(agent->kind, PeerKind::kAgent);
  EXPECT_EQ(agent->name, "prusa-01");
  EXPECT_EQ(agent->ToString(), "spiffe://farm.example/agent/prusa-01");

  auto user = ParseSpiffeId("spiffe://farm.example/user/alice");
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->kind, PeerKind::kUser);
  EXPECT_EQ(user->name, "alice");
}

TEST(SpiffeIdTest, RejectsMalformedIds) {
  for (const char* bad : {
           "",
           "https://farm.example/user/alice",
           "spiffe://",
           "spiffe://farm.example",
           "spiffe://Farm.example/user/alice",
           "spiffe://farm.example:443/user/alice",
           "spiffe://farm.example/user",
           "spiffe://farm.example/user/",
           "spiffe://farm.example/user/Alice",
           "spiffe://farm.example/user/../admin",
           "spiffe://farm.example/user/alice/extra",
           "spiffe://farm.example/admin/alice",
           "spiffe://farm.example/user/alice?x=1",
           "spiffe://farm.example//user/alice",
       }) {
    EXPECT_FALSE(ParseSpiffeId(bad).ok()) << bad;
  }
}

TEST(SpiffeIdTest, NameRules) {
  EXPECT_TRUE(IsValidName("prusa-01"));
  EXPECT_TRUE(IsValidName("a"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("-x"));
  EXPECT_FALSE(IsValidName(".hidden"));
  EXPECT_FALSE(IsValidName(std::string(64, 'a')));
  EXPECT_FALSE(IsValidName("a/b"));
}

}  // namespace
}  // namespace bowden::identity
