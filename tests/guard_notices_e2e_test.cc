// A refusal is seen by the person who caused it: through `bowden open`, the
// relay and the agent to an nginx standing in for OctoPrint, the refused
// user's terminal shows the agent's reason and rule, and the 403's "error"
// says the same (docs/refusals.md).

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/guard_e2e_fixture.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

// The value of a JSON string field in `json` (no escapes in it).
std::string JsonField(const std::string& json, const std::string& name) {
  const std::string key = absl::StrCat("\"", name, "\":\"");
  size_t at = json.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  return json.substr(at, json.find('"', at) - at);
}

// Lines of `text` that contain `needle`.
std::vector<std::string> LinesWith(const std::string& text,
                                   const std::string& needle) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (absl::StrContains(line, needle)) lines.push_back(line);
  }
  return lines;
}

// A refusal is seen by the person who caused it: the agent tells that
// session's `bowden open`, which prints the reason and rule on stderr; the
// browser gets the same sentence in OctoPrint's {"error": ...}. Nobody
// else's terminal shows it.
TEST_F(GuardE2eTest, TheRefusedUsersOpenPrintsTheAgentsReason) {
  const int bob = farm_->Open("bob", "prusa-01", "octoprint");
  ASSERT_NE(bob, 0);
  Process& bob_open = farm_->last_open();
  const int carol = farm_->Open("carol", "prusa-01", "octoprint");
  ASSERT_NE(carol, 0);
  Process& carol_open = farm_->last_open();

  // The refusal is the last thing on its connection.
  std::string denied =
      Curl(bob, "/api/printer/command",
           {"-X", "POST", "-H", "Content-Type: application/json", "-H",
            "Connection: close", "--data-binary", "{\"command\":\"G28\"}"});
  ASSERT_TRUE(absl::StartsWith(denied, "403 ")) << denied;
  const std::string reason = JsonField(denied, "reason");
  ASSERT_FALSE(reason.empty()) << denied;
  const std::string line = absl::StrCat(
      "bowden: printer prusa-01 refused POST /api/printer/command (viewer): ",
      reason, " [octoprint.printer.command]");
  EXPECT_EQ(JsonField(denied, "error"),
            absl::StrCat("Bowden refused POST /api/printer/command (viewer): ",
                         reason, " [octoprint.printer.command]"));
  EXPECT_TRUE(bob_open.WaitForOutput(line)) << bob_open.Stderr();

  // Carol is refused too (the G-code ceiling): her terminal shows only hers.
  EXPECT_EQ(PostJson(carol, "/api/printer/command", "{\"command\":\"M997\"}")
                .substr(0, 4),
            "403 ");
  EXPECT_TRUE(carol_open.WaitForOutput("(operator): "));
  EXPECT_FALSE(absl::StrContains(carol_open.Stderr(), "(viewer)"))
      << carol_open.Stderr();
  EXPECT_EQ(LinesWith(bob_open.Stderr(), " refused ").size(), 1u)
      << bob_open.Stderr();
}

// A flood of refusals (a page polling a refused API, a script) prints a
// bounded number of lines plus summaries that account for every refusal.
TEST_F(GuardE2eTest, AFloodOfRefusalsPrintsBoundedLinesThatCountThemAll) {
  const int bob = farm_->Open("bob", "prusa-01", "octoprint");
  ASSERT_NE(bob, 0);
  Process& bob_open = farm_->last_open();
  constexpr int kRefusals = 300;
  std::string requests;
  for (int i = 0; i < kRefusals; ++i) {
    requests += absl::StrCat(
        "POST /api/printer/command HTTP/1.1\r\nHost: 127.0.0.1\r\n",
        "Content-Type: application/json\r\nContent-Length: 17\r\n",
        i + 1 == kRefusals ? "Connection: close\r\n" : "",
        "\r\n{\"command\":\"G28\"}");
  }
  tunnel::UniqueFd socket = ConnectTo(bob);
  ASSERT_TRUE(socket.valid());
  ASSERT_TRUE(WriteAll(socket.get(), requests));
  EXPECT_EQ(Count(ReadAll(socket.get()), "HTTP/1.1 403 Forbidden"), kRefusals);

  int single = 0;
  uint64_t summed = 0;
  ASSERT_TRUE(WaitFor([&] {
    const std::vector<std::string> lines =
        LinesWith(bob_open.Stderr(), "bowden: printer");
    single = 0;
    summed = 0;
    for (const std::string& line : lines) {
      size_t more = line.find(" more request");
      if (more == std::string::npos) {
        ++single;
        continue;
      }
      size_t refused = line.rfind(" refused ", more);
      summed += std::stoull(line.substr(refused + 9, more - refused - 9));
    }
    return single + summed == kRefusals;
  })) << single
      << " lines and " << summed << " summed up:\n"
      << bob_open.Stderr();
  RecordProperty("single_lines", single);
  RecordProperty("summed_up", static_cast<int>(summed));
  EXPECT_GE(single, 20);  // the burst
  EXPECT_LE(single, kRefusals / 3) << bob_open.Stderr();
  EXPECT_GT(summed, 0u);
}

}  // namespace
}  // namespace bowden::testing
