#include "guard/body_inspector.h"

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "guard/printer_command.h"

namespace bowden::guard {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Largest distance (mm), speed (mm/min) or factor (%) the guard lets
// through; far beyond any printer, and small enough that Python writes the
// number without an exponent.
constexpr double kMaxMotion = 1e6;

// "" allows.
BodyVerdict FromDenial(std::string denial) {
  BodyVerdict verdict;
  verdict.denial = std::move(denial);
  return verdict;
}

std::string Refusal(const gcode::Verdict& verdict) {
  return absl::StrCat("refused by the agent's G-code ceiling: ", verdict.ToString());
}

// A JSON number OctoPrint writes into G-code as it is (f"X{value}"): finite,
// below `max` in magnitude, and either whole or at least 1e-4, because
// Python writes smaller fractions with an exponent ("1e-05") that a
// firmware reads as an E (extruder) word. Booleans are not numbers here,
// though Python's isinstance(True, int) says they are.
bool IsPlainNumber(const Value& value, double max) {
  if (!value.has_number_value()) return false;
  const double n = value.number_value();
  if (!std::isfinite(n) || std::fabs(n) >= max) return false;
  return n == std::trunc(n) || std::fabs(n) >= 1e-4;
}

std::string NotANumber(absl::string_view field) {
  return absl::StrCat("`", field, "` must be a plain number (no strings, booleans, exponents "
                      "or values beyond ", kMaxMotion, ")");
}

// Whether `text` names a tool the way OctoPrint's `tool\d+` expects: all of
// it, so no line break or second word can ride along.
bool IsToolName(absl::string_view text) {
  if (!absl::ConsumePrefix(&text, "tool") || text.empty() || text.size() > 3) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

const Value* Field(const Struct& body, absl::string_view name) {
  auto it = body.fields().find(std::string(name));
  return it == body.fields().end() ? nullptr : &it->second;
}

// The `command` of a command-style body ("jog", "target", ...), or "".
std::string CommandOf(const Struct& body) {
  const Value* command = Field(body, "command");
  return command != nullptr && command->has_string_value() ? command->string_value() : "";
}

// Refuses any field not in `known`: OctoPrint ignores unknown fields today,
// but a future version or a plugin hook may not, and deny by default says
// the guard forwards only what it has judged.
std::string UnknownField(const Struct& body, std::initializer_list<absl::string_view> known) {
  for (const auto& [name, value] : body.fields()) {
    bool found = false;
    for (absl::string_view k : known) found = found || name == k;
    if (!found) {
      return absl::StrCat("the field \"", absl::CHexEscape(name.substr(0, 64)),
                          "\" is not one the guard knows for this command");
    }
  }
  return "";
}

// POST /api/printer/printhead: jog -> G91/G90 + "G0 X.. Y.. Z.. [F speed]",
// home -> "G28 X0 Y0 Z0", feedrate -> "M220 S<factor>".
std::string InspectPrinthead(const Struct& body) {
  const std::string command = CommandOf(body);
  if (command == "jog") {
    if (std::string unknown = UnknownField(body, {"command", "x", "y", "z", "absolute", "speed"});
        !unknown.empty()) {
      return unknown;
    }
    for (const char* axis : {"x", "y", "z"}) {
      const Value* value = Field(body, axis);
      if (value != nullptr && !IsPlainNumber(*value, kMaxMotion)) return NotANumber(axis);
    }
    // OctoPrint appends F{speed} for any truthy speed, strings included.
    const Value* speed = Field(body, "speed");
    if (speed != nullptr && !speed->has_null_value() &&
        !(speed->has_bool_value() && !speed->bool_value()) &&
        !(IsPlainNumber(*speed, kMaxMotion) && speed->number_value() >= 0)) {
      return NotANumber("speed");
    }
    return "";
  }
  if (command == "home") {
    if (std::string unknown = UnknownField(body, {"command", "axes"}); !unknown.empty()) {
      return unknown;
    }
    const Value* axes = Field(body, "axes");
    if (axes == nullptr || !axes->has_list_value()) return "`axes` must be a list of x, y and z";
    for (const Value& axis : axes->list_value().values()) {
      const std::string name =
          axis.has_string_value() ? absl::AsciiStrToLower(axis.string_value()) : "";
      if (name != "x" && name != "y" && name != "z") return "`axes` must be a list of x, y and z";
    }
    return "";
  }
  if (command == "feedrate") {
    if (std::string unknown = UnknownField(body, {"command", "factor"}); !unknown.empty()) {
      return unknown;
    }
    const Value* factor = Field(body, "factor");
    if (factor == nullptr || !IsPlainNumber(*factor, kMaxMotion)) return NotANumber("factor");
    return "";
  }
  return absl::StrCat("the print head command \"", absl::CHexEscape(command.substr(0, 32)),
                      "\" is not one the guard knows (jog, home, feedrate)");
}

// `targets`/`offsets` objects keyed by tool, or the bed's and chamber's
// single `target`/`offset`.
std::string CheckSetPoint(const gcode::Checker& checker, Inspect inspect, double celsius) {
  gcode::Verdict verdict = inspect == Inspect::kToolTarget  ? checker.CheckToolTarget(celsius)
                           : inspect == Inspect::kBedTarget ? checker.CheckBedTarget(celsius)
                                                            : checker.CheckChamberTarget(celsius);
  return verdict.allowed() ? "" : Refusal(verdict);
}

std::string CheckOffset(const Value& value, absl::string_view field) {
  if (!IsPlainNumber(value, 51)) return absl::StrCat("`", field, "` must be a number");
  if (value.number_value() > 0) {
    return "a positive temperature offset would raise targets past what the guard checked";
  }
  return "";
}

// Values of a per-tool object, with the keys checked as tool names.
std::string ForEachTool(const Value* object, absl::string_view field,
                        const std::function<std::string(const Value&)>& check) {
  if (object == nullptr || !object->has_struct_value()) {
    return absl::StrCat("`", field, "` must be an object keyed by tool (tool0, tool1, ...)");
  }
  for (const auto& [tool, value] : object->struct_value().fields()) {
    if (!IsToolName(tool)) {
      return absl::StrCat("`", field, "` has the key \"", absl::CHexEscape(tool.substr(0, 32)),
                          "\", which is not a tool (tool0, tool1, ...)");
    }
    if (std::string problem = check(value); !problem.empty()) return problem;
  }
  return "";
}

// POST /api/printer/tool: select -> T<n>, target -> M104, offset (OctoPrint
// adds it to later targets), extrude -> "G1 E<amount> F<speed>",
// flowrate -> M221.
std::string InspectTool(const gcode::Checker& checker, const Struct& body) {
  const std::string command = CommandOf(body);
  auto set_point = [&](const Value& value) {
    if (!IsPlainNumber(value, 1e4)) return std::string("`targets` values must be numbers");
    return CheckSetPoint(checker, Inspect::kToolTarget, value.number_value());
  };
  if (command == "target") {
    if (std::string unknown = UnknownField(body, {"command", "targets"}); !unknown.empty()) {
      return unknown;
    }
    return ForEachTool(Field(body, "targets"), "targets", set_point);
  }
  if (command == "offset") {
    if (std::string unknown = UnknownField(body, {"command", "offsets"}); !unknown.empty()) {
      return unknown;
    }
    return ForEachTool(Field(body, "offsets"), "offsets",
                       [](const Value& v) { return CheckOffset(v, "offsets"); });
  }
  if (command == "select") {
    if (std::string unknown = UnknownField(body, {"command", "tool"}); !unknown.empty()) {
      return unknown;
    }
    const Value* tool = Field(body, "tool");
    if (tool == nullptr || !tool->has_string_value() || !IsToolName(tool->string_value())) {
      return "`tool` must name a tool (tool0, tool1, ...)";
    }
    return "";
  }
  if (command == "extrude") {
    if (std::string unknown = UnknownField(body, {"command", "amount", "speed"});
        !unknown.empty()) {
      return unknown;
    }
    const Value* amount = Field(body, "amount");
    if (amount == nullptr || !IsPlainNumber(*amount, kMaxMotion)) return NotANumber("amount");
    const Value* speed = Field(body, "speed");
    if (speed != nullptr && !speed->has_null_value() && !IsPlainNumber(*speed, kMaxMotion)) {
      return NotANumber("speed");
    }
    return "";
  }
  if (command == "flowrate") {
    if (std::string unknown = UnknownField(body, {"command", "factor"}); !unknown.empty()) {
      return unknown;
    }
    const Value* factor = Field(body, "factor");
    if (factor == nullptr || !IsPlainNumber(*factor, kMaxMotion)) return NotANumber("factor");
    return "";
  }
  return absl::StrCat("the tool command \"", absl::CHexEscape(command.substr(0, 32)),
                      "\" is not one the guard knows (target, offset, select, extrude, "
                      "flowrate)");
}

// POST /api/printer/bed and /api/printer/chamber: target -> M140/M141.
std::string InspectHeater(const gcode::Checker& checker, Inspect inspect, const Struct& body) {
  const std::string command = CommandOf(body);
  if (command == "target") {
    if (std::string unknown = UnknownField(body, {"command", "target"}); !unknown.empty()) {
      return unknown;
    }
    const Value* target = Field(body, "target");
    if (target == nullptr || !IsPlainNumber(*target, 1e4)) return "`target` must be a number";
    return CheckSetPoint(checker, inspect, target->number_value());
  }
  if (command == "offset") {
    if (std::string unknown = UnknownField(body, {"command", "offset"}); !unknown.empty()) {
      return unknown;
    }
    const Value* offset = Field(body, "offset");
    if (offset == nullptr) return "`offset` must be a number";
    return CheckOffset(*offset, "offset");
  }
  return absl::StrCat("the heater command \"", absl::CHexEscape(command.substr(0, 32)),
                      "\" is not one the guard knows (target, offset)");
}

bool IsModelName(absl::string_view path) {
  return absl::EndsWithIgnoreCase(path, ".stl");
}

// POST /api/files/{origin}/{path}: select, unselect, analyse, uploadSd,
// slice, copy, move. Only .stl files reach OctoPrint unscanned (see
// UploadInspector), so the roads from one to the printer are closed here.
std::string InspectFileCommand(absl::string_view path, const Struct& body) {
  const std::string command = CommandOf(body);
  if (command == "slice") {
    // profile.start_gcode and friends go into the slicer's output, which
    // OctoPrint then prints without the guard ever seeing it.
    for (const auto& [name, value] : body.fields()) {
      if (absl::StartsWith(name, "profile.")) {
        return absl::StrCat("slicing profile overrides (\"", absl::CHexEscape(name.substr(0, 64)),
                            "\") write G-code the guard cannot scan; use a slicing profile "
                            "stored on the printer host");
      }
    }
    if (const Value* position = Field(body, "position"); position != nullptr) {
      if (!position->has_struct_value()) return "`position` must be an object of numbers";
      for (const auto& [axis, value] : position->struct_value().fields()) {
        if (!IsPlainNumber(value, kMaxMotion)) return NotANumber("position");
      }
    }
    return "";
  }
  if (command == "copy" || command == "move") {
    const Value* destination = Field(body, "destination");
    if (destination == nullptr || !destination->has_string_value()) {
      return "`destination` must be a string";
    }
    // A model renamed to a printable name is an upload the guard never
    // scanned. A destination that ends in .stl keeps it a model, whether it
    // names the new file or an existing folder (which keeps the old name).
    if (IsModelName(path) && !IsModelName(destination->string_value())) {
      return absl::StrCat(
          "a ", command, " that turns a model into another file type is judged as an upload "
          "the guard never scanned; upload the sliced G-code instead");
    }
    return "";
  }
  if (command == "select" || command == "unselect" || command == "analyse" ||
      command == "uploadSd") {
    return "";
  }
  return absl::StrCat("the file command \"", absl::CHexEscape(command.substr(0, 32)),
                      "\" is not one the guard knows");
}

// POST /api/timelapse below admin: `save` stores the configuration as
// OctoPrint's default, which is an admin's business.
std::string InspectTimelapseConfig(const Struct& body) {
  if (body.fields().contains("save")) {
    return "\"save\" writes OctoPrint's timelapse settings, which needs role admin";
  }
  return "";
}

// POST /api/plugin/action_command_prompt: select -> "M876 S<choice>".
std::string InspectPromptAnswer(const Struct& body) {
  const Value* choice = Field(body, "choice");
  if (CommandOf(body) != "select" || choice == nullptr || !IsPlainNumber(*choice, 1000) ||
      choice->number_value() < 0 || choice->number_value() != std::trunc(choice->number_value())) {
    return "a prompt answer must be {\"command\":\"select\",\"choice\":<whole number>}";
  }
  return "";
}

// POST /api/connection below admin: connect and disconnect, but not a
// truthy `save`, which stores port, baud rate and printer profile as
// OctoPrint's defaults. OctoPrint writes `autoconnect` (connect at server
// start) into its settings whenever it is present, and the UI's Connect
// button always sends it with the value stored there, so refusing either
// value would break the button on some installations; an operator may
// connect by hand anyway, so it must only be a boolean.
std::string InspectConnection(const Struct& json) {
  if (const Value* save = Field(json, "save");
      save != nullptr && !(save->has_bool_value() && !save->bool_value())) {
    return "\"save\" writes OctoPrint's default connection settings, which "
           "needs role admin";
  }
  if (const Value* autoconnect = Field(json, "autoconnect");
      autoconnect != nullptr && !autoconnect->has_bool_value()) {
    return "\"autoconnect\" must be true or false";
  }
  return "";
}

const Value* Nested(const Struct& body, std::initializer_list<absl::string_view> path) {
  const Struct* at = &body;
  const Value* value = nullptr;
  for (absl::string_view key : path) {
    if (at == nullptr) return nullptr;
    value = Field(*at, key);
    if (value == nullptr) return nullptr;
    at = value->has_struct_value() ? &value->struct_value() : nullptr;
  }
  return value;
}

// A settings value that OctoPrint sends to the printer as G-code.
std::string CheckStoredGcode(const gcode::Checker& checker, const Value& value,
                             absl::string_view what) {
  if (value.has_null_value()) return "";
  if (!value.has_string_value()) return absl::StrCat(what, " must be a string");
  gcode::Verdict verdict = checker.Check(value.string_value());
  if (!verdict.allowed()) return absl::StrCat(what, ": ", Refusal(verdict));
  return "";
}

// POST /api/settings (admin): the settings that are G-code.
// Settings OctoPrint later runs as programs on the host (OctoPrint 1.10's
// settings API data model): writing one is running a program, so it needs
// the local flag that lets admins run programs, not only the role.
std::string InspectProgramSettings(const LocalCeiling& ceiling, const Struct& body) {
  if (!ceiling.allow_system_commands) {
    // The system menu's shutdown and restart commands, custom system
    // actions, and event subscriptions of type "system" are shell commands.
    if (Nested(body, {"server", "commands"}) != nullptr) {
      return "server.commands are shell commands OctoPrint runs, so changing them needs "
             "allow_system_commands in the agent's local ceiling";
    }
    if (Field(body, "system") != nullptr) {
      return "system.actions and system.events hold shell commands OctoPrint runs, so "
             "changing them needs allow_system_commands in the agent's local ceiling";
    }
    // The timelapse renderer: ffmpeg's path and the command lines it is run
    // with (and what is formatted into them).
    if (const Value* webcam = Field(body, "webcam"); webcam != nullptr && webcam->has_struct_value()) {
      for (const auto& [name, value] : webcam->struct_value().fields()) {
        if (absl::StartsWithIgnoreCase(name, "ffmpeg")) {
          return absl::StrCat("webcam.", absl::CHexEscape(name.substr(0, 64)),
                              " is part of the program OctoPrint runs to render timelapses, so "
                              "changing it needs allow_system_commands in the agent's local "
                              "ceiling");
        }
      }
    }
  }
  if (!ceiling.allow_plugin_install) {
    // pip's arguments and repository, and the software update's check and
    // update commands, run at the next install or update.
    for (absl::string_view plugin : {"pluginmanager", "softwareupdate"}) {
      if (Nested(body, {"plugins", plugin}) != nullptr) {
        return absl::StrCat("plugins.", plugin,
                            " says what OctoPrint runs to install and update plugins, so "
                            "changing it needs allow_plugin_install in the agent's local ceiling");
      }
    }
  }
  return "";
}

std::string InspectSettings(const gcode::Checker& checker, const LocalCeiling& ceiling,
                            const Struct& body) {
  if (std::string problem = InspectProgramSettings(ceiling, body); !problem.empty()) {
    return problem;
  }
  if (const Value* scripts = Field(body, "scripts"); scripts != nullptr) {
    if (!ceiling.allow_gcode_scripts) {
      return "G-code scripts run at every connect, print start and cancel, so changing them "
             "needs allow_gcode_scripts in the agent's local ceiling";
    }
    // Scripts are Jinja templates; the guard judges only plain G-code.
    const Value* gcode = Nested(body, {"scripts", "gcode"});
    if (gcode != nullptr && gcode->has_struct_value()) {
      for (const auto& [name, script] : gcode->struct_value().fields()) {
        if (script.has_string_value() && (absl::StrContains(script.string_value(), "{{") ||
                                          absl::StrContains(script.string_value(), "{%") ||
                                          absl::StrContains(script.string_value(), "{#"))) {
          return absl::StrCat("the G-code script \"", absl::CHexEscape(name.substr(0, 64)),
                              "\" uses Jinja, which the guard cannot judge; edit it on the "
                              "printer host");
        }
        if (std::string problem = CheckStoredGcode(
                checker, script, absl::StrCat("the G-code script \"", name, "\""));
            !problem.empty()) {
          return problem;
        }
      }
    }
  }
  if (const Value* hello = Nested(body, {"serial", "helloCommand"}); hello != nullptr) {
    // OctoPrint's own default, the one M110 its line numbering expects.
    const bool default_hello = hello->has_string_value() &&
                               (hello->string_value() == "M110 N0" ||
                                hello->string_value() == "M110");
    if (std::string problem = CheckStoredGcode(checker, *hello, "serial.helloCommand");
        !default_hello && !problem.empty()) {
      return problem;
    }
  }
  // The prompt plugin answers with "{command} S<choice>" (or formats
  // {choice} into it).
  if (const Value* prompt = Nested(body, {"plugins", "action_command_prompt", "command"});
      prompt != nullptr && prompt->has_string_value()) {
    Value rendered;
    rendered.set_string_value(
        absl::StrReplaceAll(prompt->string_value(), {{"{choice}", "0"}}) + " S0");
    if (std::string problem =
            CheckStoredGcode(checker, rendered, "plugins.action_command_prompt.command");
        !problem.empty()) {
      return problem;
    }
  }
  return "";
}

}  // namespace

BodyVerdict InspectBody(const gcode::Checker& checker, const LocalCeiling& ceiling,
                        const BodyRequest& request) {
  if (request.inspect == Inspect::kNone) return BodyVerdict{};
  if (request.inspect == Inspect::kUpload) {
    // Uploads are far too large to buffer: HttpGuard streams them through
    // UploadInspector. A caller that gets here has skipped that.
    return FromDenial("an upload must be scanned as it streams, not as one buffered body");
  }
  Struct json;
  google::protobuf::util::JsonParseOptions options;
  if (!google::protobuf::util::JsonStringToMessage(std::string(request.body), &json, options)
           .ok()) {
    return FromDenial("the body is not a JSON object");
  }
  switch (request.inspect) {
    case Inspect::kPrinterCommand:
      return InspectPrinterCommand(checker, ceiling, json,
                                   /*operator_only=*/false);
    case Inspect::kOperatorCommand:
      return InspectPrinterCommand(checker, ceiling, json,
                                   /*operator_only=*/true);
    case Inspect::kPrinthead:
      return FromDenial(InspectPrinthead(json));
    case Inspect::kToolTarget:
      return FromDenial(InspectTool(checker, json));
    case Inspect::kBedTarget:
    case Inspect::kChamberTarget:
      return FromDenial(InspectHeater(checker, request.inspect, json));
    case Inspect::kFileCommand:
      return FromDenial(InspectFileCommand(request.path, json));
    case Inspect::kTimelapseConfig:
      return FromDenial(InspectTimelapseConfig(json));
    case Inspect::kPromptAnswer:
      return FromDenial(InspectPromptAnswer(json));
    case Inspect::kConnection:
      return FromDenial(InspectConnection(json));
    case Inspect::kSettings:
      return FromDenial(InspectSettings(checker, ceiling, json));
    case Inspect::kNone:
    case Inspect::kUpload:
      break;
  }
  return FromDenial("the guard has no inspection for this request");
}

}  // namespace bowden::guard
