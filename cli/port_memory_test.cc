#include "cli/port_memory.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace bowden::cli {
namespace {

std::string TestDir() {
  std::string dir = absl::StrCat(
      std::getenv("TEST_TMPDIR"), "/ports-",
      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  return dir;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PortMemoryTest, PathFollowsXdgStateHomeThenHome) {
  setenv("XDG_STATE_HOME", "/state", 1);
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(DefaultPortsPath(), "/state/bowden/ports");
  setenv("XDG_STATE_HOME", "relative", 1);  // the spec wants an absolute path
  EXPECT_EQ(DefaultPortsPath(), "/home/u/.local/state/bowden/ports");
  unsetenv("XDG_STATE_HOME");
  EXPECT_EQ(DefaultPortsPath(), "/home/u/.local/state/bowden/ports");
  unsetenv("HOME");
  EXPECT_EQ(DefaultPortsPath(), "");
}

TEST(PortMemoryTest, SuggestionIsStableAndInItsRange) {
  // Pinned: a changed hash would move every first-time printer's bookmark.
  EXPECT_EQ(SuggestedPort("prusa-01", "octoprint"), 15319);
  std::set<uint16_t> seen;
  for (int i = 0; i < 200; ++i) {
    uint16_t port = SuggestedPort(absl::StrCat("printer-", i), "octoprint");
    EXPECT_GE(port, 15000);
    EXPECT_LE(port, 15999);
    seen.insert(port);
  }
  EXPECT_GT(seen.size(), 150u);  // spread, not one port for all
  EXPECT_NE(SuggestedPort("prusa-01", "octoprint"),
            SuggestedPort("prusa-01", "webcam"));
}

TEST(PortMemoryTest, CandidatesTryTheRememberedPortFirstAndAnyPortLast) {
  const uint16_t suggested = SuggestedPort("mk4", "octoprint");
  std::vector<uint16_t> fresh =
      PortCandidates(std::nullopt, "mk4", "octoprint");
  ASSERT_EQ(fresh.size(), 17u);
  EXPECT_EQ(fresh.front(), suggested);
  EXPECT_EQ(fresh.back(), 0);
  std::vector<uint16_t> known = PortCandidates(15999, "mk4", "octoprint");
  EXPECT_EQ(known.front(), 15999);
  EXPECT_EQ(known[1], suggested);
  EXPECT_EQ(known.back(), 0);
  EXPECT_EQ(std::set<uint16_t>(known.begin(), known.end()).size(),
            known.size());
  for (uint16_t port : known) {
    if (port != 0) {
      EXPECT_TRUE(port >= 15000 && port <= 15999) << port;
    }
  }
}

TEST(PortMemoryTest, RemembersPerRelayPrinterAndTargetAcrossRuns) {
  const std::string path = TestDir() + "/state/bowden/ports";
  PortMemory first(path);
  std::string warning;
  first.Load(&warning);  // no file yet: empty, no warning
  EXPECT_EQ(warning, "");
  EXPECT_FALSE(first.Find("relay:7443", "mk4", "octoprint").has_value());
  first.Remember("relay:7443", "mk4", "octoprint", 15001);
  first.Remember("relay:7443", "mk4", "webcam", 15002);
  first.Remember("other:7443", "mk4", "octoprint", 15003);
  first.Remember("relay:7443", "mk4", "octoprint", 15004);  // replaces 15001
  ASSERT_TRUE(first.Save().ok());

  struct stat file;
  ASSERT_EQ(stat(path.c_str(), &file), 0);
  EXPECT_EQ(file.st_mode & 0777, 0600u);
  struct stat dir;
  ASSERT_EQ(stat((TestDir() + "/state/bowden").c_str(), &dir), 0);
  EXPECT_EQ(dir.st_mode & 0777, 0700u);

  PortMemory second(path);
  second.Load(&warning);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(second.Find("relay:7443", "mk4", "octoprint"), 15004);
  EXPECT_EQ(second.Find("relay:7443", "mk4", "webcam"), 15002);
  EXPECT_EQ(second.Find("other:7443", "mk4", "octoprint"), 15003);
  EXPECT_FALSE(second.Find("relay:7443", "mk3", "octoprint").has_value());
  EXPECT_EQ(ReadAll(path).find("15001"), std::string::npos) << ReadAll(path);
}

TEST(PortMemoryTest, BrokenFileIsOneWarningAndIsRewritten) {
  const std::string dir = TestDir();
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  const std::string path = dir + "/ports";
  std::ofstream(path) << "entry { relay: \"r\" printer: \"mk4\" port: 15001 "
                         "}\nentry { port: x\n";
  PortMemory memory(path);
  std::string warning;
  memory.Load(&warning);
  EXPECT_TRUE(absl::StrContains(warning, path)) << warning;
  EXPECT_TRUE(absl::StrContains(warning, "choosing a fresh port")) << warning;
  EXPECT_FALSE(memory.Find("r", "mk4", "").has_value());  // nothing half-read
  memory.Remember("r", "mk4", "octoprint", 15005);
  ASSERT_TRUE(memory.Save().ok());
  PortMemory again(path);
  warning.clear();
  again.Load(&warning);
  EXPECT_EQ(warning, "");
  EXPECT_EQ(again.Find("r", "mk4", "octoprint"), 15005);
}

TEST(PortMemoryTest, PortsOutsideTheirRangeAreIgnored) {
  const std::string dir = TestDir();
  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  const std::string path = dir + "/ports";
  std::ofstream(path)
      << "entry { relay: \"r\" printer: \"a\" target: \"octoprint\" port: 0 }\n"
      << "entry { relay: \"r\" printer: \"b\" target: \"octoprint\" port: "
         "70000 }\n";
  PortMemory memory(path);
  std::string warning;
  memory.Load(&warning);
  EXPECT_EQ(warning, "");
  EXPECT_FALSE(memory.Find("r", "a", "octoprint").has_value());
  EXPECT_FALSE(memory.Find("r", "b", "octoprint").has_value());
}

TEST(PortMemoryTest, NoStateDirectoryIsAnErrorNotACrash) {
  PortMemory nowhere("");
  std::string warning;
  nowhere.Load(&warning);
  EXPECT_FALSE(nowhere.Save().ok());
  EXPECT_FALSE(nowhere.Lock().ok());
  // A path under a regular file cannot be created.
  const std::string file = TestDir() + "-file";
  std::ofstream(file) << "x";
  PortMemory blocked(file + "/bowden/ports");
  blocked.Remember("r", "p", "octoprint", 15000);
  absl::Status saved = blocked.Save();
  EXPECT_FALSE(saved.ok());
}

}  // namespace
}  // namespace bowden::cli
