#include "gcode/parser.h"

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace bowden::gcode {
namespace {

// "N<n> <cmd>*<xor>" the way OctoPrint numbers a line.
std::string Numbered(int n, const std::string& cmd) {
  std::string line = absl::StrCat("N", n, " ", cmd);
  uint8_t sum = 0;
  for (char c : line) sum ^= uint8_t(c);
  return absl::StrCat(line, "*", sum);
}

TEST(ParserTest, ClassicCommands) {
  struct Case {
    std::string line;
    std::string key;
    std::string params;  // "S=200 T=1 X" as parsed
  };
  const Case cases[] = {
      {"M104 S200", "M104", "S=200"},
      {"m104 t1 s200", "M104", "T=1 S=200"},
      {"  M 0104 S 200  ", "M104", "S=200"},
      {"G1X10Y-2.5E.5F+1800", "G1", "X=10 Y=-2.5 E=0.5 F=1800"},
      {"G28 X Y", "G28", "X Y"},
      {"M104 S3E2", "M104", "S=3 E=2"},  // no exponents: E is a parameter
      {"M104 S5.", "M104", "S=5"},
      {"\tG1 X1\t", "G1", "X=1"},
      {"(home first) G28 (all axes) X", "G28", "X"},
      {"M104 S200 ; M997 hides nothing", "M104", "S=200"},
      {"M104 S200 ; UTF-8 °C in a comment is fine", "M104", "S=200"},
      {"T1", "T1", ""},
      {"M110 N0", "M110", "N=0"},
      // PrusaSlicer's printer checks: quoted values are strings.
      {"M862.3 P \"MK4\" ; printer model check", "M862", "P=\"MK4\""},
      {"M862.6 P\"Input shaper\"", "M862", "P=\"Input shaper\""},
      {"M486 S0 A\"Shape-Box id:0 M997\"", "M486",
       "S=0 A=\"Shape-Box id:0 M997\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    ParsedLine parsed;
    ASSERT_TRUE(ParseLine(c.line, &parsed).ok()) << ParseLine(c.line, &parsed);
    EXPECT_EQ(parsed.kind, CommandKind::kClassic);
    EXPECT_EQ(parsed.Key(), c.key);
    std::string params;
    for (const Param& p : parsed.params) {
      if (!params.empty()) params += " ";
      params += p.letter;
      if (p.has_value) absl::StrAppend(&params, "=", p.value);
      if (p.quoted) absl::StrAppend(&params, "=", p.text);
    }
    EXPECT_EQ(params, c.params);
  }
}

TEST(ParserTest, OtherKinds) {
  ParsedLine parsed;
  ASSERT_TRUE(ParseLine("M117 Hello M997 world", &parsed).ok());
  EXPECT_EQ(parsed.kind, CommandKind::kText);
  EXPECT_EQ(parsed.Key(), "M117");
  EXPECT_EQ(parsed.text, "Hello M997 world");

  ASSERT_TRUE(ParseLine("G29.1", &parsed).ok());
  EXPECT_EQ(parsed.Key(), "G29");
  EXPECT_EQ(parsed.subcode, 1);

  ASSERT_TRUE(
      ParseLine("set_heater_temperature HEATER=extruder target=300", &parsed)
          .ok());
  EXPECT_EQ(parsed.kind, CommandKind::kExtended);
  EXPECT_EQ(parsed.Key(), "SET_HEATER_TEMPERATURE");
  ASSERT_NE(parsed.FindArg("TARGET"), nullptr);
  EXPECT_EQ(parsed.FindArg("TARGET")->value, "300");
  EXPECT_EQ(parsed.FindArg("heater")->value, "extruder");

  ASSERT_TRUE(ParseLine("NOZZLE_CLEAN", &parsed).ok());
  EXPECT_EQ(parsed.Key(), "NOZZLE_CLEAN");
  EXPECT_FALSE(parsed.line_number.has_value());

  ASSERT_TRUE(ParseLine("@pause now", &parsed).ok());
  EXPECT_EQ(parsed.kind, CommandKind::kHost);
  EXPECT_EQ(parsed.Key(), "@PAUSE");

  for (const char* blank : {"", "   ", "; only a comment", "(only this)"}) {
    ASSERT_TRUE(ParseLine(blank, &parsed).ok()) << blank;
    EXPECT_EQ(parsed.kind, CommandKind::kNone) << blank;
  }
}

TEST(ParserTest, LineNumbersAndChecksums) {
  ParsedLine parsed;
  const std::string good = Numbered(12, "M104 S300");
  ASSERT_TRUE(ParseLine(good, &parsed).ok()) << ParseLine(good, &parsed);
  EXPECT_EQ(parsed.line_number, 12);
  EXPECT_EQ(parsed.Key(), "M104");
  EXPECT_EQ(parsed.FindParam('S')->value, 300);
  // OctoPrint strips blanks and comments before sending.
  ASSERT_TRUE(ParseLine("  " + good + " ; note", &parsed).ok());

  std::string bad = good;
  bad.back() = bad.back() == '0' ? '1' : '0';
  absl::Status status = ParseLine(bad, &parsed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("does not match the line"), std::string::npos)
      << status;
}

TEST(ParserTest, RejectsAmbiguousLines) {
  struct Case {
    std::string line;
    std::string error;
  };
  const Case cases[] = {
      {std::string("M104\0S300", 9), "NUL byte at column 5"},
      {"M104 S200\x01", "control byte 0x01 at column 10"},
      {"M104 S2\xc3\xa9", "non-ASCII byte 0xC3 at column 8"},
      {"M117 \"a;b\"", "unbalanced '\"' at column 6"},
      {"M862.3 P \"MK4", "unbalanced '\"' at column 10"},
      {"M862.3 \"MK4\"", "unexpected '\"' at column 8"},
      {"M862.3 P\"MK4\"1", "unexpected '1' at column 14"},
      {"SET_HEATER_TEMPERATURE HEATER=\"extruder\" TARGET=300",
       "'\"' in a Klipper-style command at column 31"},
      {"M104 S200 \\; S300", "'\\' (firmware-specific escape) at column 11"},
      {"G28 M997", "second command word on one line at column 5"},
      {"g28 m997", "second command word on one line at column 5"},
      {"M104 S0 S300", "parameter S repeated at column 9"},
      {"M104 S3.0.0", "malformed number after S at column 7"},
      {"M104 S--3", "malformed number after S at column 7"},
      {"M104 S-", "malformed number after S at column 7"},
      {"M104 S1,5", "malformed number after S at column 7"},
      {"G1 X10 20", "number without a parameter letter at column 8"},
      {"M104 S300#", "malformed number after S at column 7"},
      {"M4294968293", "command number out of range at column 1"},
      {"M104 (S300)", "'3' inside a ( ) comment"},
      {"M104 (a", "'(' not closed before ';' or the end at column 6"},
      {"M104 (a;b) S300", "'(' not closed before ';' or the end at column 6"},
      {"M104 a)", "')' without '(' at column 7"},
      {"M104 (a(b))", "'(' inside a ( ) comment"},
      {"N12 M104 S300", "N line number without a checksum at column 1"},
      {"M104 S300*12", "checksum without an N line number at column 10"},
      {"N12 M104 S300*999", "malformed checksum at column 14"},
      {"N12 M104 S300*", "malformed checksum at column 14"},
      {"N 12 M104*1", "blank between N and its number at column 1"},
      {"X10 Y10", "'X' is not G, M or T at column 1"},
      {"M", "command word without a number at column 1"},
      {"M104_FOO S300", "unexpected '_' at column 5"},
      {"M104-1", "unexpected '-' at column 5"},
      {"SET_HEATER_TEMPERATURE HEATER=extruder TARGET=300 #x",
       "'#' in a Klipper-style command at column 51"},
      {"SET_HEATER_TEMPERATURE TARGET",
       "argument is not KEY=VALUE at column 24"},
      {"SET_HEATER_TEMPERATURE TARGET=1 target=2",
       "argument target repeated at column 33"},
      {"SET_HEATER_TEMPERATURE (x) TARGET=1",
       "( ) comment in a Klipper-style command at column 1"},
      {"SET-FOO", "unexpected '-' at column 4"},
      {"=5", "unexpected '=' at column 1"},
      {"@", "empty host command at column 1"},
      {"M117 5*3", "checksum without an N line number at column 7"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line);
    ParsedLine parsed;
    absl::Status status = ParseLine(c.line, &parsed);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find(c.error), std::string::npos) << status;
  }
}

TEST(ParserTest, ParenCommentsMayNotHideNumbers) {
  // Marlin without PAREN_COMMENTS reads "(S300)" as S300.
  ParsedLine parsed;
  absl::Status status = ParseLine("M104 S200 (S300)", &parsed);
  EXPECT_EQ(status.message(),
            "'3' inside a ( ) comment (firmware without PAREN_COMMENTS would "
            "read it) at column 13");
  status = ParseLine("M104 S200 (*)", &parsed);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParserTest, ParseNumber) {
  double value = 0;
  for (auto [text, want] :
       {std::pair{"300", 300.0}, std::pair{"+5", 5.0}, std::pair{"-0.5", -0.5},
        std::pair{".5", 0.5}, std::pair{"5.", 5.0}, std::pair{"007", 7.0}}) {
    EXPECT_TRUE(ParseNumber(text, &value)) << text;
    EXPECT_EQ(value, want) << text;
  }
  for (const char* text : {"", "-", ".", "3e2", "0x10", "inf", "nan", "1_0",
                           " 3", "3 ", "1.2.3", "--1"}) {
    EXPECT_FALSE(ParseNumber(text, &value)) << text;
  }
}

}  // namespace
}  // namespace bowden::gcode
