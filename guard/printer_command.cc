#include "guard/printer_command.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gcode/emergency.h"
#include "gcode/parser.h"
#include "guard/python_format.h"

namespace bowden::guard {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

BodyVerdict Deny(std::string denial) {
  BodyVerdict verdict;
  verdict.denial = std::move(denial);
  return verdict;
}

// Whether OctoPrint formats the commands with `parameters`, and with what.
// It does `command % parameters` whenever len(parameters) > 0, so only an
// object can be judged: a string or a list would be formatted positionally.
absl::StatusOr<const Struct*> FormatMapping(const Struct& body) {
  auto it = body.fields().find("parameters");
  if (it == body.fields().end()) return nullptr;
  const Value& parameters = it->second;
  if (parameters.has_struct_value()) {
    return parameters.struct_value().fields().empty() ? nullptr : &parameters.struct_value();
  }
  return absl::InvalidArgumentError("`parameters` must be an object");
}

// The commands exactly as OctoPrint will send them, one entry each.
absl::StatusOr<std::vector<std::string>> RenderedCommands(const Struct& body) {
  std::vector<std::string> commands;
  const auto& fields = body.fields();
  if (auto it = fields.find("command"); it != fields.end()) {
    if (!it->second.has_string_value()) {
      return absl::InvalidArgumentError("`command` must be a string");
    }
    commands.push_back(it->second.string_value());
  }
  if (auto it = fields.find("commands"); it != fields.end()) {
    if (!it->second.has_list_value()) {
      return absl::InvalidArgumentError("`commands` must be a list of strings");
    }
    for (const Value& v : it->second.list_value().values()) {
      if (!v.has_string_value()) {
        return absl::InvalidArgumentError("`commands` must be a list of strings");
      }
      commands.push_back(v.string_value());
    }
  }
  if (commands.empty()) {
    return absl::InvalidArgumentError("the request names no `command` or `commands`");
  }
  absl::StatusOr<const Struct*> mapping = FormatMapping(body);
  if (!mapping.ok()) return mapping.status();
  if (*mapping != nullptr) {
    for (std::string& command : commands) {
      absl::StatusOr<std::string> rendered = PythonPercentFormat(command, **mapping);
      if (!rendered.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("the command '", absl::CHexEscape(command.substr(0, 100)),
                         "' cannot be judged with its `parameters`: ",
                         rendered.status().message()));
      }
      command = *std::move(rendered);
    }
  }
  return commands;
}

bool IsBlank(absl::string_view line) { return absl::StripAsciiWhitespace(line).empty(); }

constexpr absl::string_view kOperatorSet =
    "motors off (M18, M84), the fan (M106 S0-255, M107) and the emergency "
    "commands M112, "
    "M410 and M108";

// Whether `command` is one an operator may send: what OctoPrint's Control
// tab sends ("M18" for Motors off, "M106 S<0-255>" for the fan, off being
// S0), the other names firmware has for the same actions (M84, M107), and
// the emergency commands. Exact forms only, as Marlin documents them: M18
// and M84 without axis flags or S (which changes the idle time after which
// the firmware powers the motors down), M106 with a whole S and no fan
// index (the UI sends none), nothing after M107 and the emergency commands;
// no line number, no subcode.
bool IsOperatorCommand(absl::string_view command) {
  gcode::ParsedLine parsed;
  if (!gcode::ParseLine(command, &parsed).ok() ||
      parsed.kind != gcode::CommandKind::kClassic || parsed.letter != 'M' ||
      parsed.subcode.has_value() || parsed.line_number.has_value()) {
    return false;
  }
  switch (parsed.code) {
    case 18:
    case 84:
    case 107:
    case 108:
    case 112:
    case 410:
      return parsed.params.empty();
    case 106: {
      if (parsed.params.size() != 1) return false;
      const gcode::Param& speed = parsed.params.front();
      return speed.letter == 'S' && speed.has_value && speed.value >= 0 &&
             speed.value <= 255 && speed.value == std::trunc(speed.value);
    }
    default:
      return false;
  }
}

}  // namespace

BodyVerdict InspectPrinterCommand(const gcode::Checker& checker,
                                  const LocalCeiling& ceiling,
                                  const Struct& body, bool operator_only) {
  if (body.fields().contains("script")) {
    if (operator_only) {
      return Deny(absl::StrCat(
          "G-code scripts need role admin; operators may send only ",
          kOperatorSet));
    }
    if (!ceiling.allow_gcode_scripts) {
      return Deny("G-code scripts are not allowed by the agent's local ceiling");
    }
    if (body.fields().contains("command") || body.fields().contains("commands")) {
      return Deny("`script` cannot be combined with `command` or `commands`");
    }
    return BodyVerdict{};
  }
  absl::StatusOr<std::vector<std::string>> commands = RenderedCommands(body);
  if (!commands.ok()) return Deny(std::string(commands.status().message()));

  // Emergency commands first: they must reach the printer whatever else the
  // batch holds. Every line counts, even one the batch is refused for.
  std::vector<std::string> emergencies;
  bool only_emergencies = true;
  for (const std::string& command : *commands) {
    for (absl::string_view line : absl::StrSplit(command, absl::ByAnyChar("\r\n"))) {
      const gcode::Emergency found = gcode::FindEmergency(line);
      if (found == gcode::Emergency::kNone) {
        if (!IsBlank(line)) only_emergencies = false;
        continue;
      }
      const std::string name(gcode::EmergencyCommand(found));
      if (std::find(emergencies.begin(), emergencies.end(), name) == emergencies.end()) {
        emergencies.push_back(name);
      }
    }
  }

  // A batch of nothing but emergency commands goes on as its canonical
  // form, however they were spelt.
  const bool emergency_batch = only_emergencies && !emergencies.empty();
  BodyVerdict verdict;
  if (!(operator_only && emergency_batch)) {
    for (size_t i = 0; i < commands->size() && verdict.denial.empty(); ++i) {
      const std::string& command = (*commands)[i];
      if (command.find_first_of("\r\n") != std::string::npos) {
        // OctoPrint writes a command as one line; a line break inside it
        // becomes a second command that OctoPrint itself never sees.
        verdict.denial = absl::StrCat("command ", i + 1,
                                      " holds a line break; send each line as its own entry "
                                      "of `commands`");
        continue;
      }
      if (operator_only && !IsOperatorCommand(command)) {
        verdict.denial = absl::StrCat(
            "the terminal needs role admin; operators may send only ",
            kOperatorSet, ", not \"", gcode::DisplayCommand(command), "\"");
        continue;
      }
      gcode::Verdict line = checker.CheckLine(command, static_cast<int64_t>(i + 1));
      if (!line.allowed()) {
        verdict.denial =
            absl::StrCat("refused by the agent's G-code ceiling: ", line.ToString());
      }
    }
  }
  if (!emergencies.empty() &&
      ((operator_only && emergency_batch) || !verdict.denial.empty())) {
    std::vector<std::string> quoted;
    for (const std::string& name : emergencies) quoted.push_back(absl::StrCat("\"", name, "\""));
    verdict.emergency_body = absl::StrCat("{\"commands\":[", absl::StrJoin(quoted, ","), "]}");
    verdict.emergency_commands = absl::StrJoin(emergencies, ", ");
  }
  return verdict;
}

}  // namespace bowden::guard
