#include "gcode/checker.h"

#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "gcode/emergency.h"
#include "gtest/gtest.h"

namespace bowden::gcode {
namespace {

using Kind = Verdict::Kind;

Checker MustCreate(Ceiling ceiling = Ceiling()) {
  absl::StatusOr<Checker> checker = Checker::Create(std::move(ceiling));
  EXPECT_TRUE(checker.ok()) << checker.status();
  return *std::move(checker);
}

uint8_t Xor(absl::string_view text) {
  uint8_t sum = 0;
  for (char c : text) sum ^= uint8_t(c);
  return sum;
}

// One expectation: `text` checked as a whole gives this verdict.
struct Case {
  std::string text;
  Kind kind;
  int64_t line;
  std::string command;
  std::string reason;
};

void ExpectVerdicts(const Checker& checker, const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("text: \"", c.text, "\""));
    Verdict v = checker.Check(c.text);
    EXPECT_EQ(v.kind, c.kind) << v.ToString();
    EXPECT_EQ(v.line, c.line);
    EXPECT_EQ(v.command, c.command);
    EXPECT_EQ(v.reason, c.reason);
  }
}

Case Allowed(std::string text) {
  return {std::move(text), Kind::kAllowed, 0, "", ""};
}

TEST(CheckerTest, EveryDefaultDeniedCommand) {
  const std::pair<const char*, const char*> denied[] = {
      {"M997", "firmware update"},
      {"M500", "writes settings to EEPROM"},
      {"M501", "reloads settings from EEPROM"},
      {"M502", "factory-resets settings"},
      {"M303", "PID autotune"},
      {"M301", "sets hot-end PID values"},
      {"M304", "sets bed PID values"},
      {"M302", "allows cold extrusion"},
      {"M211", "switches soft endstops"},
      {"SAVE_CONFIG", "rewrites printer.cfg"},
      {"PID_CALIBRATE", "PID autotune"},
      {"FORCE_MOVE", "moves without kinematic limits"},
      {"SET_KINEMATIC_POSITION", "fakes homing"},
      {"RUN_SHELL_COMMAND", "runs a shell command on the host"},
  };
  std::vector<Case> cases;
  for (auto [command, why] : denied) {
    cases.push_back({command, Kind::kDenied, 1, command,
                     absl::StrCat(command, " is denied by the safety ceiling (",
                                  why, ")")});
  }
  ExpectVerdicts(MustCreate(), cases);
}

TEST(CheckerTest, DeniedWhateverTheSpelling) {
  const std::string m997 =
      "M997 is denied by the safety ceiling (firmware update)";
  ExpectVerdicts(
      MustCreate(),
      {
          {"m997", Kind::kDenied, 1, "m997", m997},
          {"  M0997 ; flash", Kind::kDenied, 1, "M0997 ; flash", m997},
          {"m 997", Kind::kDenied, 1, "m 997", m997},
          {"M997.1", Kind::kDenied, 1, "M997.1",
           "M997.1 is denied by the safety ceiling (firmware update)"},
          {"M211 S0", Kind::kDenied, 1, "M211 S0",
           "M211 is denied by the safety ceiling (switches soft endstops)"},
          {"save_config", Kind::kDenied, 1, "save_config",
           "SAVE_CONFIG is denied by the safety ceiling (rewrites "
           "printer.cfg)"},
          {"M302 P1", Kind::kDenied, 1, "M302 P1",
           "M302 is denied by the safety ceiling (allows cold extrusion)"},
          Allowed("M503"),
          Allowed("G28"),
          Allowed("M117 M997 is only text"),
      });
}

TEST(CheckerTest, TemperatureCaps) {
  auto over = [](std::string text, std::string what, std::string cap) {
    return Case{text, Kind::kDenied, 1, text,
                absl::StrCat(what, " exceeds the ", cap)};
  };
  ExpectVerdicts(
      MustCreate(),
      {
          Allowed("M104 S280"),
          Allowed("M104 S279.9"),
          Allowed("M104 S0"),
          Allowed("M104 S-5"),
          Allowed("M109 R280"),
          Allowed("M104 T1 S280"),
          over("M104 S280.1", "M104 S280.1", "hot-end cap of 280 °C"),
          over("M104 S300", "M104 S300", "hot-end cap of 280 °C"),
          over("M109 S200 R281", "M109 R281", "hot-end cap of 280 °C"),
          over("M104 B290", "M104 B290", "hot-end cap of 280 °C"),
          over("M104 T1 S+0300", "M104 S+0300", "hot-end cap of 280 °C"),
          over("m104 s300", "M104 S300", "hot-end cap of 280 °C"),
          over("M104 S 300", "M104 S300", "hot-end cap of 280 °C"),
          over("M104 S99999999999999999999999", "M104 S99999999999999999999999",
               "hot-end cap of 280 °C"),
          Allowed("M140 S120"),
          Allowed("M190 R119.9"),
          over("M140 S120.5", "M140 S120.5", "bed cap of 120 °C"),
          over("M190 R121", "M190 R121", "bed cap of 120 °C"),
          Allowed("M141 S70"),
          Allowed("M191 S69"),
          over("M141 S71", "M141 S71", "chamber cap of 70 °C"),
          over("M191 R70.5", "M191 R70.5", "chamber cap of 70 °C"),
          // Presets that M104 I<n> / M140 I<n> would later apply.
          over("M145 S0 H290", "M145 H290", "hot-end cap of 280 °C"),
          over("M145 S1 B130", "M145 B130", "bed cap of 120 °C"),
          Allowed("M145 S0 H200 B60"),
      });
}

TEST(CheckerTest, KlipperHeaterCommands) {
  ExpectVerdicts(
      MustCreate(),
      {
          {"SET_HEATER_TEMPERATURE HEATER=extruder TARGET=300", Kind::kDenied,
           1, "SET_HEATER_TEMPERATURE HEATER=extruder TARGET=300",
           "SET_HEATER_TEMPERATURE HEATER=extruder TARGET=300 exceeds the "
           "hot-end "
           "cap of 280 °C"},
          {"set_heater_temperature heater=heater_bed target=121", Kind::kDenied,
           1, "set_heater_temperature heater=heater_bed target=121",
           "SET_HEATER_TEMPERATURE HEATER=heater_bed TARGET=121 exceeds the "
           "bed "
           "cap of 120 °C"},
          {"SET_HEATER_TEMPERATURE HEATER=chamber TARGET=71", Kind::kDenied, 1,
           "SET_HEATER_TEMPERATURE HEATER=chamber TARGET=71",
           "SET_HEATER_TEMPERATURE HEATER=chamber TARGET=71 exceeds the lowest "
           "cap, 70 °C, which applies to heaters the ceiling does not know"},
          {"SET_HEATER_TEMPERATURE HEATER=extruder TARGET=3e2",
           Kind::kUnparseable, 1,
           "SET_HEATER_TEMPERATURE HEATER=extruder TARGET=3e2",
           "cannot parse: TARGET=3e2 is not a plain number"},
          Allowed("SET_HEATER_TEMPERATURE HEATER=extruder1 TARGET=280"),
          Allowed("SET_HEATER_TEMPERATURE HEATER=Heater_Bed TARGET=120"),
          Allowed("SET_HEATER_TEMPERATURE HEATER=extruder"),  // switches it off
          Allowed("TURN_OFF_HEATERS"),
          Allowed("PRINT_START BED=60 EXTRUDER=210"),  // macros are opaque
      });
}

TEST(CheckerTest, UnknownExtendedCommandsOnlyWhenConfigured) {
  Ceiling ceiling;
  ceiling.deny_unknown_extended = true;
  ceiling.allowed_extended = {"print_start", "@pause"};
  ExpectVerdicts(
      MustCreate(ceiling),
      {
          Allowed("PRINT_START BED=60"),
          Allowed("@pause"),
          Allowed("TURN_OFF_HEATERS"),
          Allowed("SET_HEATER_TEMPERATURE HEATER=extruder TARGET=200"),
          {"CLEAN_NOZZLE", Kind::kDenied, 1, "CLEAN_NOZZLE",
           "CLEAN_NOZZLE is not on the ceiling's allow-list of extended "
           "commands"},
          {"@abort", Kind::kDenied, 1, "@abort",
           "@ABORT is not on the ceiling's allow-list of extended commands"},
      });
}

TEST(CheckerTest, LineNumbersAndChecksums) {
  const std::string body = "N12 M104 S300";
  const uint8_t sum = Xor(body);
  const std::string good = absl::StrCat(body, "*", sum);
  const std::string bad = absl::StrCat(body, "*", sum ^ 1);
  const std::string bad_reason =
      absl::StrCat("cannot parse: checksum ", sum ^ 1,
                   " does not match the line (", sum, ") at column 14");
  const std::string reserved =
      "N line numbers and * checksums are reserved for OctoPrint: a stray "
      "numbered line desynchronises its resend logic";
  ExpectVerdicts(
      MustCreate(),
      {
          {good, Kind::kDenied, 1, good, reserved},
          {bad, Kind::kUnparseable, 1, bad, bad_reason},
          {"M110 N0", Kind::kDenied, 1, "M110 N0",
           "M110 resets OctoPrint's line numbering, which desynchronises its "
           "resend logic"},
      });
  Ceiling raw_serial;
  raw_serial.allow_line_numbers = true;
  ExpectVerdicts(MustCreate(raw_serial),
                 {
                     {good, Kind::kDenied, 1, good,
                      "M104 S300 exceeds the hot-end cap of 280 °C"},
                     {bad, Kind::kUnparseable, 1, bad, bad_reason},
                     Allowed(absl::StrCat("N5 G28*", Xor("N5 G28"))),
                     Allowed("M110 N0"),
                 });
}

TEST(CheckerTest, CommentsHideNothing) {
  ExpectVerdicts(
      MustCreate(),
      {
          Allowed("M104 S200 ; M997"),
          Allowed("(warm up) M104 S200"),
          {";M104 S200\nM997", Kind::kDenied, 2, "M997",
           "M997 is denied by the safety ceiling (firmware update)"},
          {"M104 S200 (S300)", Kind::kUnparseable, 1, "M104 S200 (S300)",
           "cannot parse: '3' inside a ( ) comment (firmware without "
           "PAREN_COMMENTS would read it) at column 13"},
          {"M104 S200 \\; S300", Kind::kUnparseable, 1, "M104 S200 \\; S300",
           "cannot parse: '\\' (firmware-specific escape) at column 11"},
          // Quotes pass on commands the ceiling does not cap...
          Allowed("M862.3 P \"MK4\" ; printer model check"),
          // ...but not on heater commands: without GCODE_QUOTED_STRINGS Marlin
          // reads S300 inside the quotes.
          {"M104 S200 P\"S300\"", Kind::kUnparseable, 1, "M104 S200 P\"S300\"",
           "cannot parse: quoted P value on a heater command (firmware without "
           "GCODE_QUOTED_STRINGS reads inside quotes)"},
      });
}

TEST(CheckerTest, EmbeddedLineBreaks) {
  const std::string m997 =
      "M997 is denied by the safety ceiling (firmware update)";
  ExpectVerdicts(
      MustCreate(),
      {
          {"M117 first\nM997", Kind::kDenied, 2, "M997", m997},
          {"M117 first\r\nM997", Kind::kDenied, 2, "M997", m997},
          {"M117 first\rM997", Kind::kDenied, 2, "M997", m997},
          {"G28\r\n\r\n\nM997\n", Kind::kDenied, 4, "M997", m997},
          {"G28\n\n\nG1 X5\nM104 S300", Kind::kDenied, 5, "M104 S300",
           "M104 S300 exceeds the hot-end cap of 280 °C"},
          Allowed("G28\r\nG1 X5\rM104 S200\n"),
      });
}

TEST(CheckerTest, TwoCommandsOnOneLine) {
  ExpectVerdicts(
      MustCreate(),
      {
          {"G28 M997", Kind::kUnparseable, 1, "G28 M997",
           "cannot parse: second command word on one line at column 5"},
          {"G1 X5\nM104 S200 M104 S300", Kind::kUnparseable, 2,
           "M104 S200 M104 S300",
           "cannot parse: second command word on one line at column 11"},
          {"M104 S0 S300", Kind::kUnparseable, 1, "M104 S0 S300",
           "cannot parse: parameter S repeated at column 9"},
      });
}

TEST(CheckerTest, EmergencyCommandsAlwaysPass) {
  Checker checker = MustCreate();
  for (const char* text : {"M112", "m108", "M410", "M112 ; stop!"}) {
    EXPECT_TRUE(checker.Check(text).allowed()) << text;
  }
  // A batch with a denied line is denied, yet its M112 is still found.
  const std::string batch = "M997\nM112";
  Verdict verdict = checker.Check(batch);
  EXPECT_EQ(verdict.kind, Kind::kDenied);
  EXPECT_EQ(verdict.line, 1);
  EXPECT_TRUE(IsEmergency(batch));
  EXPECT_EQ(FindEmergency(batch), Emergency::kM112);

  Ceiling ceiling;
  ceiling.denied.push_back("m112");
  absl::StatusOr<Checker> bad = Checker::Create(ceiling);
  EXPECT_EQ(bad.status().message(),
            "ceiling denied entry \"m112\" is an emergency command; M112, "
            "M108 and M410 always pass, remove it");
}

TEST(CheckerTest, UnparseableBytesAndLongLines) {
  const std::string long_line = "M117 " + std::string(4091, 'a');
  ExpectVerdicts(
      MustCreate(),
      {
          {std::string("M104\0 S300", 10), Kind::kUnparseable, 1,
           "M104\\x00 S300", "cannot parse: NUL byte at column 5"},
          {"G28\nM117 caf\xc3\xa9", Kind::kUnparseable, 2, "M117 caf\\xC3\\xA9",
           "cannot parse: non-ASCII byte 0xC3 at column 9"},
          Allowed(long_line),
          {long_line + "a", Kind::kUnparseable, 1, long_line.substr(0, 200),
           "line is longer than the 4096-byte limit"},
      });
}

TEST(CheckerTest, CustomCeiling) {
  Ceiling ceiling;
  ceiling.denied = {"M42", "@abort"};
  ceiling.hotend_max_celsius = 240;
  ExpectVerdicts(MustCreate(ceiling),
                 {
                     Allowed("M997"),
                     Allowed("M104 S240"),
                     {"M104 S245", Kind::kDenied, 1, "M104 S245",
                      "M104 S245 exceeds the hot-end cap of 240 °C"},
                     {"M42 P4 S255", Kind::kDenied, 1, "M42 P4 S255",
                      "M42 is denied by the safety ceiling"},
                     {"@Abort", Kind::kDenied, 1, "@Abort",
                      "@ABORT is denied by the safety ceiling"},
                     // M303 is no longer denied, but its autotune target
                     // is capped per heater (E-1 is the bed).
                     Allowed("M303 E0 S230 C8"),
                     {"M303 E-1 S130", Kind::kDenied, 1, "M303 E-1 S130",
                      "M303 S130 exceeds the bed cap of 120 °C"},
                 });
}

TEST(CheckerTest, RejectsBadCeilings) {
  auto error = [](Ceiling ceiling) {
    return std::string(Checker::Create(ceiling).status().message());
  };
  Ceiling c;
  c.denied = {"M"};
  EXPECT_EQ(error(c),
            "ceiling denied entry \"M\": command word without a number at "
            "column 1; write a command such as M997 or SAVE_CONFIG");
  c.denied = {"M997 S1"};
  EXPECT_EQ(error(c),
            "ceiling denied entry \"M997 S1\": not a single command name; "
            "write a command such as M997 or SAVE_CONFIG");
  c.denied = {""};
  EXPECT_NE(error(c).find("not a single command name"), std::string::npos);
  c = Ceiling();
  c.allowed_extended = {"M104"};
  EXPECT_EQ(error(c),
            "ceiling allowed_extended entry \"M104\" is a classic G/M/T "
            "command; list Klipper-style or @ names only");
  c = Ceiling();
  c.hotend_max_celsius = std::nan("");
  EXPECT_EQ(error(c),
            "ceiling hotend_max_celsius is nan; set a temperature in °C >= 0");
  c = Ceiling();
  c.max_line_bytes = 0;
  EXPECT_EQ(error(c), "ceiling max_line_bytes is 0; set a limit such as 4096");
}

TEST(CheckerTest, SetPoints) {
  Checker checker = MustCreate();
  EXPECT_TRUE(checker.CheckToolTarget(280).allowed());
  EXPECT_TRUE(checker.CheckToolTarget(0).allowed());
  EXPECT_TRUE(checker.CheckBedTarget(120).allowed());
  EXPECT_TRUE(checker.CheckChamberTarget(70).allowed());
  Verdict v = checker.CheckToolTarget(280.5);
  EXPECT_EQ(v.kind, Kind::kDenied);
  EXPECT_EQ(v.line, 0);
  EXPECT_EQ(v.command, "tool target 280.5");
  EXPECT_EQ(v.reason,
            "a tool target of 280.5 °C exceeds the hot-end cap of 280 °C");
  EXPECT_EQ(checker.CheckBedTarget(121).reason,
            "a bed target of 121 °C exceeds the bed cap of 120 °C");
  EXPECT_EQ(checker.CheckChamberTarget(71).reason,
            "a chamber target of 71 °C exceeds the chamber cap of 70 °C");
  v = checker.CheckToolTarget(std::nan(""));
  EXPECT_EQ(v.kind, Kind::kUnparseable);
  EXPECT_EQ(v.reason, "a tool target must be a finite number of °C");
  EXPECT_EQ(checker.CheckBedTarget(INFINITY).kind, Kind::kUnparseable);
  EXPECT_EQ(checker.CheckToolTarget(300).ToString(),
            "tool target 300: a tool target of 300 °C exceeds the hot-end cap "
            "of 280 °C");
}

}  // namespace
}  // namespace bowden::gcode
