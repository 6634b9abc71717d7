#include "gcode/stream_scanner.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace bowden::gcode {
namespace {

using Kind = Verdict::Kind;

Checker MustCreate() {
  absl::StatusOr<Checker> checker = Checker::Create(Ceiling());
  EXPECT_TRUE(checker.ok()) << checker.status();
  return *std::move(checker);
}

void ExpectSame(const Verdict& got, const Verdict& want) {
  EXPECT_EQ(got.kind, want.kind);
  EXPECT_EQ(got.line, want.line);
  EXPECT_EQ(got.command, want.command);
  EXPECT_EQ(got.reason, want.reason);
}

Verdict Scan(const Checker& checker, const std::vector<std::string>& chunks) {
  StreamScanner scanner(checker);
  for (const std::string& chunk : chunks) scanner.Feed(chunk);
  return scanner.Finish();
}

TEST(StreamScannerTest, AgreesWithCheckerOnEverySplit) {
  const Checker checker = MustCreate();
  const std::string texts[] = {
      "G28\nM104 S200\nM104 S300\n",
      "M117 a\r\nM117 b\rM117 c\nM997",
      "G28\r\n\r\n\nSET_HEATER_TEMPERATURE HEATER=extruder TARGET=281\r",
      "G1 X1\nG1 X2 M3\nM997\n",
      "G28\nM104 S200 ; M997\n\n",
      std::string("G28\nM117 \0\n", 11),
  };
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    const Verdict want = checker.Check(text);
    for (size_t cut = 0; cut <= text.size(); ++cut) {
      ExpectSame(Scan(checker, {text.substr(0, cut), text.substr(cut)}), want);
    }
    std::vector<std::string> bytes;
    for (char c : text) bytes.push_back(std::string(1, c));
    ExpectSame(Scan(checker, bytes), want);
  }
}

TEST(StreamScannerTest, LineSplitAcrossChunks) {
  const Checker checker = MustCreate();
  StreamScanner scanner(checker);
  EXPECT_TRUE(scanner.Feed("G28\nM10").allowed());
  EXPECT_TRUE(scanner.Feed("4 S3").allowed());
  Verdict v = scanner.Feed("00\nG1 X5\n");
  EXPECT_EQ(v.kind, Kind::kDenied);
  EXPECT_EQ(v.line, 2);
  EXPECT_EQ(v.command, "M104 S300");
  EXPECT_EQ(v.reason, "M104 S300 exceeds the hot-end cap of 280 °C");
  // The scanner stops at the first violation and keeps reporting it.
  EXPECT_EQ(scanner.Feed("M997\n").line, 2);
  EXPECT_EQ(scanner.Finish().line, 2);
}

TEST(StreamScannerTest, CarriageReturnThenLineFeedInTheNextChunk) {
  const Checker checker = MustCreate();
  StreamScanner scanner(checker);
  EXPECT_TRUE(scanner.Feed("M117 a\r").allowed());
  EXPECT_TRUE(scanner.Feed("\nM997").allowed());  // the line is not over yet
  Verdict v = scanner.Finish();
  EXPECT_EQ(v.line, 2);
  EXPECT_EQ(v.reason, "M997 is denied by the safety ceiling (firmware update)");
}

TEST(StreamScannerTest, OverlongLineIsRefusedWithoutBufferingIt) {
  const Checker checker = MustCreate();
  StreamScanner scanner(checker);
  EXPECT_TRUE(scanner.Feed("G28\nG1 X1\nM117 ").allowed());
  const std::string megabyte(1 << 20, 'a');
  Verdict v = scanner.Feed(megabyte);  // no line break anywhere
  EXPECT_EQ(v.kind, Kind::kUnparseable);
  EXPECT_EQ(v.line, 3);
  EXPECT_EQ(v.command, ("M117 " + megabyte).substr(0, 200));
  EXPECT_EQ(v.reason, "line is longer than the 4096-byte limit");
}

// Streams a synthetic print file of `lines` G1 moves (about 30 bytes each,
// every seventh ending in "\r\n") with `bad` as line `bad_line`, in chunks
// of awkward sizes, without ever holding the whole file. The last line has
// no line break. Returns the verdict and how many bytes were fed.
struct Streamed {
  Verdict verdict;
  uint64_t fed = 0;
};
Streamed StreamFile(const Checker& checker, int64_t lines, int64_t bad_line,
                    const std::string& bad) {
  static constexpr size_t kChunkSizes[] = {1,    3,      4093, 65537, 7,
                                           8191, 131071, 2,    30,    31};
  StreamScanner scanner(checker);
  Streamed out;
  std::string buffer;
  size_t offset = 0;
  size_t next_chunk = 0;
  int64_t line = 1;
  while (true) {
    const size_t want = kChunkSizes[next_chunk++ % std::size(kChunkSizes)];
    while (buffer.size() - offset < want && line <= lines) {
      if (offset > (1 << 20)) {
        buffer.erase(0, offset);
        offset = 0;
      }
      if (line == bad_line) {
        buffer += bad;
      } else {
        absl::StrAppendFormat(
            &buffer, "G1 X%07.3f Y%07.3f E%07.5f", (line % 200000) / 1000.0,
            (line * 7 % 200000) / 1000.0, (line % 900000) / 100000.0);
      }
      if (line < lines) buffer += line % 7 == 0 ? "\r\n" : "\n";
      ++line;
    }
    if (buffer.size() == offset) break;
    const size_t n = std::min(want, buffer.size() - offset);
    out.fed += n;
    out.verdict = scanner.Feed(absl::string_view(buffer).substr(offset, n));
    offset += n;
    if (!out.verdict.allowed()) return out;
  }
  out.verdict = scanner.Finish();
  return out;
}

constexpr int64_t kLines = 1'750'000;  // about 52 MB

TEST(StreamScannerTest, LargeFileWithForbiddenLineAtTheStart) {
  Streamed s = StreamFile(MustCreate(), kLines, 1, "M997");
  EXPECT_EQ(s.verdict.kind, Kind::kDenied);
  EXPECT_EQ(s.verdict.line, 1);
  EXPECT_EQ(s.verdict.command, "M997");
  EXPECT_EQ(s.verdict.reason,
            "M997 is denied by the safety ceiling (firmware update)");
  // Refused in the chunk that ends the line, not after the whole file.
  EXPECT_EQ(s.fed, 1u + 3u + 4093u);
}

TEST(StreamScannerTest, LargeFileWithForbiddenLineInTheMiddle) {
  Streamed s = StreamFile(MustCreate(), kLines, 876'543, "m104 T0 s300");
  EXPECT_EQ(s.verdict.kind, Kind::kDenied);
  EXPECT_EQ(s.verdict.line, 876'543);
  EXPECT_EQ(s.verdict.command, "m104 T0 s300");
  EXPECT_EQ(s.verdict.reason, "M104 S300 exceeds the hot-end cap of 280 °C");
  EXPECT_LT(s.fed, 30'000'000u);
}

TEST(StreamScannerTest, LargeFileWithForbiddenLineAtTheEnd) {
  const std::string bad = "SET_HEATER_TEMPERATURE HEATER=heater_bed TARGET=130";
  Streamed s = StreamFile(MustCreate(), kLines, kLines, bad);
  EXPECT_EQ(s.verdict.kind, Kind::kDenied);
  EXPECT_EQ(s.verdict.line, kLines);
  EXPECT_EQ(s.verdict.command, bad);
  EXPECT_EQ(s.verdict.reason,
            "SET_HEATER_TEMPERATURE HEATER=heater_bed TARGET=130 exceeds the "
            "bed cap of 120 °C");
  EXPECT_GT(s.fed, 50'000'000u);
}

TEST(StreamScannerTest, LargeCleanFileIsAllowed) {
  Streamed s = StreamFile(MustCreate(), kLines, 0, "");
  EXPECT_TRUE(s.verdict.allowed()) << s.verdict.ToString();
  EXPECT_GT(s.fed, 50'000'000u);
}

}  // namespace
}  // namespace bowden::gcode
