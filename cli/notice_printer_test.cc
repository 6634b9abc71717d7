#include "cli/notice_printer.h"

#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace bowden::cli {
namespace {

using bowden::v1::Notice;
using Notices = google::protobuf::RepeatedPtrField<Notice>;

Notices Refusals(int n, const std::string& path = "/api/printer/command") {
  Notices notices;
  for (int i = 0; i < n; ++i) {
    Notice* notice = notices.Add();
    notice->set_method("POST");
    notice->set_path(path);
    notice->set_rule("octoprint.printer.command");
    notice->set_reason("viewers may not send G-code");
    notice->set_role("viewer");
    notice->set_status(403);
    notice->set_verdict("deny");
  }
  return notices;
}

std::vector<std::string> Lines(const std::ostringstream& out) {
  return absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
}

// Refusals that one summary line counts ("refused N more requests").
uint64_t Summarised(const std::string& line) {
  size_t at = line.find(" refused ");
  size_t end = line.find(" more request");
  if (at == std::string::npos || end == std::string::npos) return 0;
  uint64_t n = 0;
  EXPECT_TRUE(absl::SimpleAtoi(line.substr(at + 9, end - at - 9), &n)) << line;
  return n;
}

TEST(NoticePrinterTest, OneLineWithTheReasonAndRule) {
  std::ostringstream out;
  NoticePrinter printer("p1", &out);
  EXPECT_FALSE(printer.Print(Refusals(1), absl::UnixEpoch()));
  EXPECT_EQ(out.str(),
            "bowden: printer p1 refused POST /api/printer/command (viewer): "
            "viewers may not "
            "send G-code [octoprint.printer.command]\n");
}

TEST(NoticePrinterTest, WhatTheRequestChoseIsEscaped) {
  std::ostringstream out;
  NoticePrinter printer("p1", &out);
  Notices notices = Refusals(1, "/x\x1b]0;owned\x07\n\xe2\x80\xae");
  notices[0].set_reason("bad\rline");
  notices[0].set_verdict("bad-request");
  printer.Print(notices, absl::UnixEpoch());
  EXPECT_EQ(out.str(),
            "bowden: printer p1 could not read POST "
            "/x\\x1b]0;owned\\x07\\x0a\\u{202e} "
            "(viewer): bad\\x0dline [octoprint.printer.command]\n");
}

TEST(NoticePrinterTest, AFloodPrintsABurstThenOneSummaryPerInterval) {
  std::ostringstream out;
  NoticePrinter printer("p1", &out, /*burst=*/20, absl::Seconds(1));
  absl::Time now = absl::UnixEpoch();
  // 1000 refusals within half a second, in chunks of 10.
  bool waiting = false;
  for (int i = 0; i < 100; ++i) {
    waiting = printer.Print(Refusals(10), now + absl::Milliseconds(5 * i));
  }
  EXPECT_TRUE(waiting);
  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 20u) << out.str();  // the burst; the summary gathers
  EXPECT_FALSE(printer.Tick(now + absl::Seconds(2)));
  lines = Lines(out);
  ASSERT_EQ(lines.size(), 21u) << out.str();
  EXPECT_EQ(Summarised(lines[20]), 980u) << lines[20];
  EXPECT_TRUE(absl::StrContains(lines[20],
                                "(latest: POST /api/printer/command "
                                "[octoprint.printer.command])"))
      << lines[20];

  // Two seconds later two tokens have come back: single lines again.
  printer.Print(Refusals(2), now + absl::Seconds(4));
  EXPECT_EQ(Lines(out).size(), 23u) << out.str();
}

TEST(NoticePrinterTest, TheAgentsOwnCountJoinsTheSummary) {
  std::ostringstream out;
  NoticePrinter printer("p1", &out, /*burst=*/20, absl::Seconds(1));
  Notices notices = Refusals(1);
  notices[0].set_dropped_after(500);
  EXPECT_TRUE(printer.Print(notices, absl::UnixEpoch()));
  EXPECT_FALSE(printer.Tick(absl::UnixEpoch() + absl::Seconds(1)));
  std::vector<std::string> lines = Lines(out);
  ASSERT_EQ(lines.size(), 2u) << out.str();
  EXPECT_EQ(Summarised(lines[0]), 0u);  // the notice itself
  EXPECT_EQ(Summarised(lines[1]), 500u);
}

}  // namespace
}  // namespace bowden::cli
