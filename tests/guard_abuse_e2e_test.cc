// One user cannot hold an agent's or a relay's resources: requests abandoned
// half-way close their session (and every descriptor behind it), and the
// relay caps the sessions one user holds open at once. Real relay, agent and
// CLI processes.

#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

// A target that reads until the agent closes the connection.
void ReadUntilEof(tunnel::UniqueFd socket) { ReadAll(socket.get()); }

int OpenDescriptors(pid_t pid) {
  int count = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"))) {
    (void)entry;
    ++count;
  }
  return count;
}

class GuardAbuseE2eTest : public ::testing::Test {
 protected:
  void Start(int max_sessions_per_user) {
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"bob\" printers: \"*\" role: \"viewer\" }\n";
    Farm::Options options;
    options.relay_extra_flags = {"--policy", policy_dir_.File("policy.textproto"),
                                 "--max-sessions-per-user",
                                 absl::StrCat(max_sessions_per_user)};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", target_.port())};
    farm_ = std::make_unique<Farm>(options);
    farm_->pki().Issue("user", "bob");
    ASSERT_TRUE(farm_->WaitAttached());
    bob_port_ = farm_->Open("bob", "prusa-01", "octoprint");
    ASSERT_NE(bob_port_, 0);
  }

  // Bob's sessions in `bowden sessions` (run by alice, a relay admin).
  int BobsSessions() {
    std::vector<std::string> argv = farm_->CliAs("alice");
    argv.push_back("sessions");
    std::string out;
    if (RunToCompletion(argv, &out) != 0) return -1;
    int count = 0;
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::StrContains(line, " bob ")) ++count;
    }
    return count;
  }

  TcpTarget target_{ReadUntilEof};
  TempDir policy_dir_;
  std::unique_ptr<Farm> farm_;
  int bob_port_ = 0;
};

TEST_F(GuardAbuseE2eTest, AbandonedHalfRequestsLeaveNoSessionOpen) {
  Start(/*max_sessions_per_user=*/1000);
  // The agent at rest: attached, no session.
  int baseline = OpenDescriptors(farm_->agent().pid());
  constexpr int kAbandoned = 100;
  for (int i = 0; i < kAbandoned; ++i) {
    tunnel::UniqueFd socket = ConnectTo(bob_port_);
    ASSERT_TRUE(WriteAll(socket.get(), "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    // The socket closes here, half-way through the head.
  }
  ASSERT_TRUE(WaitFor([&] { return target_.accepted() >= kAbandoned; }))
      << target_.accepted();
  int sessions = -1;
  EXPECT_TRUE(WaitFor([&] { return (sessions = BobsSessions()) == 0; }))
      << sessions << " sessions still open";
  int descriptors = 0;
  EXPECT_TRUE(WaitFor([&] {
    return (descriptors = OpenDescriptors(farm_->agent().pid())) <= baseline + 2;
  })) << descriptors << " descriptors open in the agent, " << baseline << " before";
}

TEST_F(GuardAbuseE2eTest, TheRelayCapsTheSessionsOfOneUser) {
  constexpr int kCap = 3;
  Start(kCap);
  std::vector<tunnel::UniqueFd> held;
  for (int i = 0; i < kCap; ++i) held.push_back(ConnectTo(bob_port_));
  ASSERT_TRUE(WaitFor([&] { return BobsSessions() == kCap; })) << BobsSessions();

  // One more is refused, with a sentence saying what to do, and audited.
  tunnel::UniqueFd refused = ConnectTo(bob_port_);
  EXPECT_TRUE(farm_->relay().WaitForOutput(
      "refused: user 'bob' already has 3 open sessions, the most one user may hold"))
      << farm_->relay().Stderr();
  EXPECT_EQ(ReadAll(refused.get()), "");  // the local connection ends
  EXPECT_TRUE(WaitFor([&] {
    std::vector<std::string> argv = farm_->CliAs("alice");
    argv.insert(argv.end(), {"audit", "--json", "--user", "bob"});
    std::string out;
    return RunToCompletion(argv, &out) == 0 && absl::StrContains(out, "\"denial\"") &&
           absl::StrContains(out, "`bowden sessions` lists them");
  }));
  EXPECT_EQ(BobsSessions(), kCap);

  // A session that ends frees its place.
  held.pop_back();
  ASSERT_TRUE(WaitFor([&] { return BobsSessions() == kCap - 1; }));
  held.push_back(ConnectTo(bob_port_));
  EXPECT_TRUE(WaitFor([&] { return BobsSessions() == kCap; }));
}

}  // namespace
}  // namespace bowden::testing
