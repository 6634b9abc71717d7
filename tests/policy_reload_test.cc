// The relay reloads its policy file without a restart, refuses a broken one
// (naming the line) while the old policy stays in force, and hands the
// user's role to the agent with each session.

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

void ReplaceFile(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  ASSERT_EQ(std::rename((path + ".tmp").c_str(), path.c_str()), 0);
}

TEST(PolicyReloadTest, ChangesTakeEffectAndBrokenFilesAreRefused) {
  TempDir policy_dir;
  std::string policy = policy_dir.File("policy.textproto");
  ReplaceFile(policy, "grant { user: \"alice\" printers: \"prusa-*\" }\n");
  TcpTarget echo(EchoUntilEof);
  Farm::Options options;
  options.relay_extra_flags = {"--policy", policy};
  options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo.port(), ",guard=none")};
  Farm farm(options);
  farm.pki().Issue("user", "bob");
  ASSERT_TRUE(farm.WaitAttached());

  auto dial = [&](const std::string& user) {
    std::string echoed;
    grpc::Status status = DialOnce(farm.relay_address(), farm.pki().Files(user),
                                   "prusa-01", "octoprint", "hello", &echoed);
    return status.ok() && echoed == "hello" ? grpc::StatusCode::OK : status.error_code();
  };
  EXPECT_EQ(dial("alice"), grpc::StatusCode::OK);
  EXPECT_EQ(dial("bob"), grpc::StatusCode::PERMISSION_DENIED);

  ReplaceFile(policy,
              "grant { user: \"alice\" printers: \"prusa-*\" }\n"
              "grant { user: \"bob\" printers: \"prusa-01\" role: \"viewer\" }\n");
  ASSERT_TRUE(farm.relay().WaitForOutput("policy reloaded: 2 grant(s)"))
      << farm.relay().Stderr();
  EXPECT_EQ(dial("bob"), grpc::StatusCode::OK);
  EXPECT_TRUE(farm.agent().WaitForOutput("bob (viewer) -> the printer's local service 'octoprint'"))
      << farm.agent().Stderr();
  EXPECT_TRUE(farm.agent().WaitForOutput("alice (operator) -> the printer's local service 'octoprint'"));

  ReplaceFile(policy, "grant { user: \"bob\"\n  printers: ");  // half-written
  ASSERT_TRUE(farm.relay().WaitForOutput("policy change refused"))
      << farm.relay().Stderr();
  EXPECT_TRUE(farm.relay().WaitForOutput("policy.textproto:2:"));
  EXPECT_EQ(dial("bob"), grpc::StatusCode::OK);  // the old policy stays
  EXPECT_EQ(dial("alice"), grpc::StatusCode::OK);
  EXPECT_TRUE(farm.relay().running());
}

}  // namespace
}  // namespace bowden::testing
