// What an operator does to running daemons: `systemctl reload` (SIGHUP) on
// the agent, which re-reads its files and keeps serving; daemons started from
// a shell (umask 022) still keep their state files to themselves; and
// `bowden ca issue` gives a relay a certificate that outlives a day.

#include <dirent.h>
#include <sys/stat.h>

#include <csignal>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "identity/peer.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

Farm::Options EchoFarm(int echo_port,
                       std::vector<std::string> agent_flags = {}) {
  Farm::Options options;
  options.relay_extra_flags = {"--allow", "alice=*"};
  options.targets = {absl::StrCat("echo=127.0.0.1:", echo_port, ",guard=none")};
  options.agent_extra_flags = std::move(agent_flags);
  return options;
}

// One session through the relay to the agent's echo target.
void ExpectSessionWorks(Farm& farm) {
  std::string received;
  grpc::Status status =
      DialOnce(farm.relay_address(), farm.pki().Files("alice"), "prusa-01",
               "echo", "still here", &received);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(received, "still here");
}

TEST(AgentReloadTest, SighupRereadsFilesSaysWhatChangedAndKeepsServing) {
  TempDir config_dir;
  const std::string config = config_dir.File("agent.textproto");
  std::ofstream(config) << "max_bed_c: 110\n";
  TcpTarget echo(EchoUntilEof);
  Farm farm(EchoFarm(echo.port(), {"--config", config}));
  ASSERT_TRUE(farm.WaitAttached()) << farm.agent().Stderr();

  farm.agent().Signal(SIGHUP);
  ASSERT_TRUE(farm.agent().WaitForOutput("nothing changed"))
      << farm.agent().Stderr();
  EXPECT_TRUE(farm.agent().running());
  EXPECT_TRUE(absl::StrContains(farm.agent().Stderr(), "SIGHUP: certificate '"))
      << farm.agent().Stderr();
  ExpectSessionWorks(farm);

  std::ofstream(config) << "max_bed_c: 100\nallow_plugin_install: true\n";
  farm.agent().Signal(SIGHUP);
  ASSERT_TRUE(farm.agent().WaitForOutput(
      "max_bed_c, allow_plugin_install changed; the agent applies its "
      "configuration at start only, so this takes effect with `systemctl "
      "restart bowden-agent`"))
      << farm.agent().Stderr();
  EXPECT_TRUE(farm.agent().running());
  // Still the one attachment: a reload does not reconnect.
  EXPECT_FALSE(farm.agent().WaitForOutput("attached as printer", 2,
                                          absl::ZeroDuration()));
  ExpectSessionWorks(farm);
}

TEST(AgentReloadTest, ABrokenConfigOnSighupIsReportedAndTheOldOneKept) {
  TempDir config_dir;
  const std::string config = config_dir.File("agent.textproto");
  std::ofstream(config) << "max_bed_c: 110\n";
  TcpTarget echo(EchoUntilEof);
  Farm farm(EchoFarm(echo.port(), {"--config", config}));
  ASSERT_TRUE(farm.WaitAttached()) << farm.agent().Stderr();

  std::ofstream(config) << "max_bed_c: 110\nallow_plugin_instal: true\n";
  farm.agent().Signal(SIGHUP);
  ASSERT_TRUE(farm.agent().WaitForOutput(absl::StrCat(
      "SIGHUP: ", config,
      " is not usable, so the agent keeps the configuration it runs with: ")))
      << farm.agent().Stderr();
  EXPECT_TRUE(absl::StrContains(farm.agent().Stderr(), "allow_plugin_instal"))
      << farm.agent().Stderr();
  EXPECT_TRUE(farm.agent().running());
  ExpectSessionWorks(farm);
}

// Every regular file under `dir`, recursively, with its permission bits.
void CollectModes(const std::string& dir,
                  std::vector<std::pair<std::string, mode_t>>* out) {
  DIR* listing = opendir(dir.c_str());
  if (listing == nullptr) return;
  while (dirent* entry = readdir(listing)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string path = absl::StrCat(dir, "/", name);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) CollectModes(path, out);
    if (S_ISREG(st.st_mode)) out->push_back({path, st.st_mode & 07777});
  }
  closedir(listing);
}

TEST(StateFileModesTest, DaemonsStartedWithUmask022KeepTheirStateFilesPrivate) {
  const mode_t previous = umask(022);
  TempDir agent_state;
  TcpTarget echo(EchoUntilEof);
  Farm farm(EchoFarm(echo.port(), {"--state-dir", agent_state.path()}));
  umask(previous);
  ASSERT_TRUE(farm.WaitAttached()) << farm.agent().Stderr();
  // A session writes audit rows on both sides.
  ExpectSessionWorks(farm);

  std::vector<std::pair<std::string, mode_t>> files;
  CollectModes(farm.dir().File("state"), &files);
  CollectModes(agent_state.path(), &files);
  bool relay_db = false;
  bool agent_db = false;
  for (const auto& [path, mode] : files) {
    EXPECT_EQ(mode, 0600) << path;
    relay_db |= absl::EndsWith(path, "/state.db");
    agent_db |= absl::EndsWith(path, "/events.db");
  }
  EXPECT_TRUE(relay_db) << "the relay wrote no state.db";
  EXPECT_TRUE(agent_db) << "the agent wrote no events.db";
}

TEST(CaIssueDefaultsTest, ARelayCertificateLivesAYearAgentsAndUsersADay) {
  TempDir dir;
  Pki pki(dir.File("pki"), "farm.test");
  pki.Issue("relay", "relay", {"--dns", "localhost"});
  pki.Issue("agent", "prusa-01");
  pki.Issue("user", "alice");
  const absl::Time now = absl::Now();
  for (auto [name, lifetime] : {std::pair{"relay", absl::Hours(24 * 365)},
                                {"prusa-01", absl::Hours(24)},
                                {"alice", absl::Hours(24)}}) {
    absl::StatusOr<identity::PeerCertificate> cert =
        identity::ParseCertificatePem(ReadFileOrEmpty(pki.Files(name).cert));
    ASSERT_TRUE(cert.ok()) << cert.status();
    // Within a minute of the default lifetime from now.
    EXPECT_LT(absl::AbsDuration(cert->not_after - (now + lifetime)),
              absl::Minutes(1))
        << name;
  }
}

}  // namespace
}  // namespace bowden::testing
