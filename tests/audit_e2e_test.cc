// The relay audits authentication, sessions, denials, admin actions and
// policy loads; `bowden audit` shows them to admins only, and `bowden audit
// verify` detects a row edited behind the relay's back.

#include <sqlite3.h>

#include <csignal>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

class AuditE2eTest : public ::testing::Test {
 protected:
  AuditE2eTest() : echo_(EchoUntilEof) {
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"bob\" printers: \"prusa-*\" }\n";
  }

  Farm::Options Options() {
    Farm::Options options;
    options.relay_extra_flags = {"--policy", policy_dir_.File("policy.textproto")};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")};
    return options;
  }

  int Cli(Farm& farm, const std::string& user, std::vector<std::string> command,
          std::string* out) {
    std::vector<std::string> argv = farm.CliAs(user);
    argv.insert(argv.end(), command.begin(), command.end());
    return RunToCompletion(argv, out);
  }

  TempDir policy_dir_;
  TcpTarget echo_;
};

TEST_F(AuditE2eTest, RecordsWhatHappenedAndShowsItToAdminsOnly) {
  Farm farm(Options());
  farm.pki().Issue("user", "bob");
  farm.pki().Issue("user", "carol");
  ASSERT_TRUE(farm.WaitAttached());

  std::string echoed;
  ASSERT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("bob"), "prusa-01",
                       "octoprint", "twelve bytes", &echoed)
                  .ok());
  EXPECT_FALSE(DialOnce(farm.relay_address(), farm.pki().Files("carol"), "prusa-01",
                        "octoprint")
                   .ok());
  // An agent certificate knocking on the user service.
  EXPECT_FALSE(DialOnce(farm.relay_address(), farm.pki().Files("prusa-01"), "prusa-01",
                        "octoprint")
                   .ok());

  std::string out;
  ASSERT_EQ(Cli(farm, "alice", {"audit"}, &out), 0) << out;
  for (const char* expected :
       {"policy ", "policy loaded: 2 grant(s)", "auth ", "agent attached from",
        "spiffe://farm.test/agent/prusa-01", "session.open", "session.close",
        "bytes_up=", "role=operator", "denial", "carol",
        "is not permitted to reach 'octoprint' on printer 'prusa-01'",
        "cannot call the user service"}) {
    EXPECT_TRUE(absl::StrContains(out, expected)) << expected << " missing in:\n" << out;
  }

  ASSERT_EQ(Cli(farm, "alice", {"audit", "--json", "--user", "bob"}, &out), 0) << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << out;
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, "{")) << line;
    EXPECT_TRUE(absl::StrContains(line, "\"actor\":\"bob\"")) << line;
  }

  EXPECT_EQ(Cli(farm, "bob", {"audit"}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "not a relay admin")) << out;
  ASSERT_EQ(Cli(farm, "alice", {"audit", "verify"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "intact")) << out;
}

TEST_F(AuditE2eTest, VerifyFindsARowEditedWhileTheRelayWasDown) {
  Farm farm(Options());
  farm.pki().Issue("user", "bob");
  ASSERT_TRUE(farm.WaitAttached());
  ASSERT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("bob"), "prusa-01",
                       "octoprint", "hello")
                  .ok());
  std::string out;
  ASSERT_EQ(Cli(farm, "alice", {"audit", "verify"}, &out), 0) << out;

  farm.relay().Signal(SIGKILL);
  farm.relay().Wait();
  // Someone with the file hides bob's session: drop the guard triggers and
  // rewrite the row.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(farm.dir().File("state/audit.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='trigger'",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::vector<std::string> triggers;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    triggers.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  ASSERT_FALSE(triggers.empty());
  for (const std::string& trigger : triggers) {
    ASSERT_EQ(sqlite3_exec(db, ("DROP TRIGGER " + trigger).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  ASSERT_EQ(sqlite3_exec(db, "UPDATE audit_log SET actor = 'nobody' WHERE actor = 'bob'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_GT(sqlite3_changes(db), 0);
  sqlite3_close(db);

  farm.StartRelay();
  ASSERT_TRUE(farm.WaitAttached(2));
  EXPECT_TRUE(farm.relay().WaitForOutput("hash chain is broken"));
  EXPECT_EQ(Cli(farm, "alice", {"audit", "verify"}, &out), 3) << out;
  EXPECT_TRUE(absl::StrContains(out, "BROKEN at row")) << out;
  EXPECT_TRUE(absl::StrContains(out, "hash mismatch")) << out;
  // The relay keeps serving.
  EXPECT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("bob"), "prusa-01",
                       "octoprint", "still")
                  .ok());
}

}  // namespace
}  // namespace bowden::testing
