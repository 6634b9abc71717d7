#include "policy/policy_source.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"

namespace bowden::policy {
namespace {

std::string PolicyPath() {
  return std::string(std::getenv("TEST_TMPDIR")) + "/policy.textproto";
}

// Replaces the file atomically, as an editor or config tool would.
void WriteFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

TEST(PolicySourceTest, ReloadsAChangedFileAndKeepsTheOldOneWhenBroken) {
  std::string path = PolicyPath();
  WriteFile(path, "grant { user: \"alice\" printers: \"prusa-*\" }\n");
  bowden::v1::Grant extra;
  extra.set_user("ci");
  extra.add_printers("*");
  auto source = PolicySource::Load(path, {extra});
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_TRUE((*source)->Get()->MayReachPrinter("alice", "prusa-01"));
  EXPECT_TRUE((*source)->Get()->MayReachPrinter("ci", "anything"));
  EXPECT_FALSE((*source)->Get()->MayReachPrinter("bob", "prusa-01"));
  EXPECT_EQ(*(*source)->ReloadIfChanged(), false);  // unchanged

  WriteFile(path, "grant { user: \"bob\" printers: \"prusa-*\" }\n");
  EXPECT_EQ(*(*source)->ReloadIfChanged(), true);
  EXPECT_TRUE((*source)->Get()->MayReachPrinter("bob", "prusa-01"));
  EXPECT_FALSE((*source)->Get()->MayReachPrinter("alice", "prusa-01"));
  EXPECT_TRUE((*source)->Get()->MayReachPrinter("ci", "x"));  // flags stay

  // Half-written: refused with the line, the previous policy stays in force.
  WriteFile(path, "grant { user: \"carol\"\n printers: ");
  absl::StatusOr<bool> refused = (*source)->ReloadIfChanged();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("policy.textproto:2:"), std::string::npos)
      << refused.status();
  EXPECT_TRUE((*source)->Get()->MayReachPrinter("bob", "prusa-01"));
  EXPECT_FALSE((*source)->Get()->MayReachPrinter("carol", "prusa-01"));
  EXPECT_EQ(*(*source)->ReloadIfChanged(), false);  // reported once

  // Valid syntax, invalid grant: refused too, naming the grant.
  WriteFile(path, "grant { user: \"carol\" printers: \"x\" role: \"root\" }\n");
  refused = (*source)->ReloadIfChanged();
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("grant #1"), std::string::npos);
  EXPECT_TRUE((*source)->Get()->MayReachPrinter("bob", "prusa-01"));
}

TEST(PolicySourceTest, ABadFileAtStartIsAnError) {
  std::string path = PolicyPath() + ".bad";
  WriteFile(path, "grant { nonsense: 1 }");
  EXPECT_EQ(PolicySource::Load(path, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PolicySource::Load("/nonexistent/policy", {}).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace bowden::policy
