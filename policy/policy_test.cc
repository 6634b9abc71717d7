#include "policy/policy.h"

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"

namespace bowden::policy {
namespace {

Policy MustParse(const std::string& text) {
  bowden::v1::Policy proto;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &proto));
  auto policy = Policy::FromProto(proto);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *policy;
}

TEST(PolicyTest, DeniesByDefault) {
  Policy empty = MustParse("");
  EXPECT_FALSE(empty.MayReachPrinter("alice", "prusa-01"));
  EXPECT_FALSE(empty.MayReachTarget("alice", "prusa-01", "octoprint"));
}

TEST(PolicyTest, GlobsAndTargets) {
  Policy policy = MustParse(R"pb(
    grant { user: "alice" printers: "prusa-*" }
    grant { user: "bob" printers: "prusa-01" printers: "mk4-?" targets: "webcam" }
    grant { user: "*" printers: "lobby-cam" targets: "webcam" }
  )pb");
  EXPECT_TRUE(policy.MayReachTarget("alice", "prusa-07", "octoprint"));
  EXPECT_FALSE(policy.MayReachPrinter("alice", "mk4-1"));
  EXPECT_TRUE(policy.MayReachTarget("bob", "mk4-1", "webcam"));
  EXPECT_FALSE(policy.MayReachTarget("bob", "mk4-1", "octoprint"));
  EXPECT_FALSE(policy.MayReachPrinter("bob", "mk4-10"));
  EXPECT_TRUE(policy.MayReachTarget("carol", "lobby-cam", "webcam"));
  EXPECT_FALSE(policy.MayReachTarget("carol", "lobby-cam", "octoprint"));
  EXPECT_FALSE(policy.MayReachPrinter("carol", "prusa-01"));
}

TEST(PolicyTest, RejectsBadGrants) {
  for (const char* text : {
           R"pb(grant { user: "alice" })pb",
           R"pb(grant { user: "Alice" printers: "x" })pb",
           R"pb(grant { user: "" printers: "x" })pb",
           R"pb(grant { user: "alice" printers: "" })pb",
           R"pb(grant { user: "alice" printers: "x" targets: "Oct/oprint" })pb",
       }) {
    bowden::v1::Policy proto;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &proto));
    auto policy = Policy::FromProto(proto);
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
    EXPECT_NE(policy.status().message().find("grant #1"), std::string::npos);
  }
}

TEST(PolicyTest, AllowFlag) {
  auto grant = Policy::ParseAllowFlag("alice=prusa-*");
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_EQ(grant->user(), "alice");
  ASSERT_EQ(grant->printers_size(), 1);
  EXPECT_EQ(grant->printers(0), "prusa-*");
  for (const char* bad : {"alice", "=x", "alice=", "Bad User=x"}) {
    EXPECT_FALSE(Policy::ParseAllowFlag(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace bowden::policy

namespace bowden::policy {
namespace {

TEST(PolicyRolesTest, HighestMatchingRoleWinsAndDefaultsToOperator) {
  Policy policy = MustParse(R"pb(
    group { name: "makers" members: "alice" members: "bob" }
    grant { group: "makers" printers: "*" role: "viewer" }
    grant { user: "alice" printers: "prusa-*" }
    grant { user: "alice" printers: "prusa-01" role: "admin" targets: "octoprint" }
  )pb");
  EXPECT_EQ(policy.RoleFor("bob", "mk4-1", "webcam"), Role::kViewer);
  EXPECT_EQ(policy.RoleFor("alice", "prusa-02", "octoprint"), Role::kOperator);
  EXPECT_EQ(policy.RoleFor("alice", "prusa-01", "octoprint"), Role::kAdmin);
  EXPECT_EQ(policy.RoleFor("alice", "prusa-01", "webcam"), Role::kOperator);
  EXPECT_EQ(policy.RoleFor("carol", "prusa-01", "octoprint"), std::nullopt);
}

TEST(PolicyRolesTest, RejectsUnknownRolesAndGroups) {
  for (const char* text : {
           R"pb(grant { user: "alice" printers: "x" role: "root" })pb",
           R"pb(grant { group: "nobody" printers: "x" })pb",
           R"pb(group { name: "g" members: "a" } grant { user: "a" group: "g" printers: "x" })pb",
           R"pb(group { name: "g" members: "Bad" })pb",
           R"pb(group { name: "g" } group { name: "g" })pb",
       }) {
    bowden::v1::Policy proto;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &proto)) << text;
    EXPECT_EQ(Policy::FromProto(proto).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(PolicyRolesTest, RelayAdmins) {
  Policy policy = MustParse(R"pb(admins: "alice")pb");
  EXPECT_TRUE(policy.IsRelayAdmin("alice"));
  EXPECT_FALSE(policy.IsRelayAdmin("bob"));
  EXPECT_FALSE(policy.MayReachPrinter("alice", "x"));  // admin is not a grant
  bowden::v1::Policy bad;
  bad.add_admins("Not Valid");
  EXPECT_FALSE(Policy::FromProto(bad).ok());
}

TEST(PolicyRolesTest, RoleNamesRoundTrip) {
  for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
    EXPECT_EQ(ParseRole(RoleName(role)), role);
  }
  EXPECT_EQ(ParseRole("root"), std::nullopt);
}

}  // namespace
}  // namespace bowden::policy
