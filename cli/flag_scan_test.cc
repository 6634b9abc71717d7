#include "cli/flag_scan.h"

#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

// A few of bowden's flags, one of each kind main.cc defines.
ABSL_FLAG(std::string, relay, "", "relay HOST:PORT");
ABSL_FLAG(bool, json, false, "one JSON document");
ABSL_FLAG(int64_t, limit, 50, "rows");
ABSL_FLAG(absl::Duration, ttl, absl::ZeroDuration(), "lifetime");

namespace bowden::cli {
namespace {

using ::testing::ElementsAre;

// Scans `words` as if typed after `bowden`.
ScannedCommandLine ScanWords(std::vector<std::string> words) {
  words.insert(words.begin(), "bowden");
  std::vector<char*> args;
  for (std::string& word : words) args.push_back(word.data());
  return ScanCommandLine(args);
}

TEST(ScanCommandLineTest, FlagValuesAreNotWords) {
  ScannedCommandLine s = ScanWords(
      {"--relay", "relay.example:7443", "ls", "--json", "--limit=5", "x"});
  EXPECT_THAT(s.words, ElementsAre("ls", "x"));
  EXPECT_FALSE(s.help);
  EXPECT_EQ(s.error, "");
}

TEST(ScanCommandLineTest, HelpAnywhereKeepsTheWords) {
  ScannedCommandLine s = ScanWords({"ca", "--help", "issue"});
  EXPECT_TRUE(s.help);
  EXPECT_THAT(s.words, ElementsAre("ca", "issue"));
  EXPECT_TRUE(ScanWords({"help"}).help);
  EXPECT_TRUE(ScanWords({"open", "-h"}).help);
}

TEST(ScanCommandLineTest, DoubleDashEndsTheFlags) {
  ScannedCommandLine s = ScanWords({"open", "--", "--json", "help"});
  EXPECT_THAT(s.words, ElementsAre("open", "--json", "help"));
  EXPECT_FALSE(s.help);
  EXPECT_EQ(s.error, "");
}

TEST(ScanCommandLineTest, TheFirstUnknownFlagIsTheError) {
  ScannedCommandLine s = ScanWords({"ls", "--nope", "--nada"});
  EXPECT_EQ(s.error,
            "unknown flag '--nope'; run `bowden help COMMAND` for the "
            "command's flags");
  EXPECT_THAT(s.words, ElementsAre("ls"));
}

// What was typed is echoed, so an escape sequence in it must not reach the
// terminal raw (it could clear the screen or rewrite the line above).
TEST(ScanCommandLineTest, TheErrorEscapesControlCharactersFromTheCommandLine) {
  EXPECT_EQ(ScanWords({"ls", "--no\x1b[2Jpe"}).error,
            "unknown flag '--no\\x1b[2Jpe'; run `bowden help COMMAND` for the "
            "command's flags");
  std::string bad_value = ScanWords({"audit", "--limit=\x1b]0;owned\x07"}).error;
  EXPECT_TRUE(absl::StartsWith(bad_value,
                               "bad value '\\x1b]0;owned\\x07' for --limit: "))
      << bad_value;
  EXPECT_EQ(bad_value.find('\x1b'), std::string::npos) << bad_value;
  EXPECT_EQ(ScanWords({"--relay\r"}).error,
            "unknown flag '--relay\\x0d'; run `bowden help COMMAND` for the "
            "command's flags");
}

TEST(ScanCommandLineTest, AFlagWithoutItsValueIsAnError) {
  EXPECT_EQ(ScanWords({"ls", "--relay"}).error, "flag '--relay' needs a value");
}

TEST(ScanCommandLineTest, ABadValueNamesTheFlag) {
  ScannedCommandLine s = ScanWords({"audit", "--limit", "many"});
  EXPECT_TRUE(absl::StartsWith(s.error, "bad value 'many' for --limit: "))
      << s.error;
  EXPECT_TRUE(absl::StartsWith(ScanWords({"--ttl=forever"}).error,
                               "bad value 'forever' for --ttl: "));
}

TEST(ScanCommandLineTest, NegatedBooleansAndAbseilsOwnFlagsPass) {
  ScannedCommandLine s = ScanWords(
      {"--nojson", "--version", "--flagfile", "/etc/f", "--helpon=x", "ls"});
  EXPECT_EQ(s.error, "");
  EXPECT_THAT(s.words, ElementsAre("ls"));
  // Only a boolean has a --no form.
  EXPECT_TRUE(absl::StartsWith(ScanWords({"--norelay"}).error,
                               "unknown flag '--norelay'"));
}

TEST(ScanCommandLineTest, DashesWithoutANameAreAnUnknownFlag) {
  // Before, the scan took the name with substr(npos), which throws: main()
  // was safe only because DashedFlagNamesToUnderscores makes "---" "--_"
  // first; the scan on its own aborted.
  EXPECT_EQ(ScanWords({"---"}).error,
            "unknown flag '---'; run `bowden help COMMAND` for the command's "
            "flags");
  EXPECT_TRUE(
      absl::StartsWith(ScanWords({"---=1"}).error, "unknown flag '---=1'"));
  EXPECT_TRUE(absl::StartsWith(ScanWords({"--=1"}).error, "unknown flag"));
  EXPECT_THAT(ScanWords({"-"}).words, ElementsAre("-"));
}

TEST(FlagTakesValueTest, EveryFlagButBooleansAndUnknowns) {
  EXPECT_TRUE(FlagTakesValue("relay"));
  EXPECT_TRUE(FlagTakesValue("ttl"));
  EXPECT_TRUE(FlagTakesValue("dns"));
  EXPECT_FALSE(FlagTakesValue("json"));
  EXPECT_FALSE(FlagTakesValue("nope"));
}

}  // namespace
}  // namespace bowden::cli
