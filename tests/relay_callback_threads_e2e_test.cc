// The real relay runs every gRPC reaction on one callback thread once a quiet
// second has passed (relay/callback_threads.h): gRPC's other callback
// threads park, and traffic through a session wakes only the one that polls.
// This checks the assumption the relay's gpr_sleep_until rests on — gRPC's
// callback threads are named nexting_thread and nap through gpr_sleep_until
// — against the gRPC the relay is built with.

#include <dirent.h>

#include <fstream>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

// Voluntary context switches of each of `pid`'s threads named `name`, by
// thread id.
std::map<std::string, long> VoluntarySwitches(pid_t pid, const std::string& name) {
  std::map<std::string, long> switches;
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return switches;
  while (dirent* entry = readdir(dir)) {
    const std::string tid = entry->d_name;
    if (tid == "." || tid == "..") continue;
    std::string comm = ReadFileOrEmpty(absl::StrCat(tasks, "/", tid, "/comm"));
    if (std::string(absl::StripTrailingAsciiWhitespace(comm)) != name) continue;
    std::ifstream status(absl::StrCat(tasks, "/", tid, "/status"));
    for (std::string line; std::getline(status, line);) {
      absl::string_view rest = line;
      long value = 0;
      if (absl::ConsumePrefix(&rest, "voluntary_ctxt_switches:") &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &value)) {
        switches[tid] = value;
      }
    }
  }
  closedir(dir);
  return switches;
}

TEST(RelayCallbackThreadsTest, AfterAQuietSecondOneCallbackThreadCarriesEverySession) {
  TcpTarget echo(EchoUntilEof);
  Farm::Options options;
  options.relay_extra_flags = {"--allow", "alice=prusa-*"};
  options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo.port(), ",guard=none")};
  Farm farm(options);
  ASSERT_TRUE(farm.WaitAttached());
  ASSERT_TRUE(farm.relay().WaitForOutput("one of gRPC's callback threads parks", 1,
                                         absl::Seconds(30)))
      << farm.relay().Stderr();

  std::map<std::string, long> before = VoluntarySwitches(farm.relay().pid(), "nexting_thread");
  ASSERT_GE(before.size(), 2u) << "gRPC started fewer callback threads than expected";

  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);
  tunnel::UniqueFd socket = ConnectTo(port);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(WriteAll(socket.get(), "ping"));
    char buffer[4];
    size_t got = 0;
    while (got < sizeof(buffer)) {
      ssize_t n = read(socket.get(), buffer + got, sizeof(buffer) - got);
      ASSERT_GT(n, 0) << "the session ended after " << i << " round trips";
      got += n;
    }
  }

  std::map<std::string, long> after = VoluntarySwitches(farm.relay().pid(), "nexting_thread");
  int woken = 0;
  for (const auto& [tid, count] : before) {
    auto now = after.find(tid);
    ASSERT_NE(now, after.end()) << "callback thread " << tid << " ended";
    if (now->second != count) ++woken;
  }
  // 300 round trips, a Dial and a Carry through the relay: every one of
  // them ran on the single awake thread.
  EXPECT_EQ(woken, 1) << "callback threads woken by the traffic: " << woken;
}

}  // namespace
}  // namespace bowden::testing
