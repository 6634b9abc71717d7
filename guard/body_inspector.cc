#include "guard/body_inspector.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace bowden::guard {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

std::string Refusal(const gcode::Verdict& verdict) {
  return absl::StrCat("refused by the agent's G-code ceiling: ", verdict.ToString());
}

// OctoPrint formats each command with the request's `parameters`; the guard
// must judge the command that will actually be sent.
bool Substitute(const Struct* parameters, std::string* command) {
  if (parameters != nullptr) {
    for (const auto& [name, value] : parameters->fields()) {
      std::string text;
      if (value.has_number_value()) {
        double n = value.number_value();
        text = n == std::floor(n) ? absl::StrCat(static_cast<int64_t>(n)) : absl::StrCat(n);
      } else if (value.has_string_value()) {
        text = value.string_value();
      } else {
        return false;
      }
      absl::StrReplaceAll({{absl::StrCat("{", name, "}"), text}}, command);
    }
  }
  return command->find('{') == std::string::npos && command->find('}') == std::string::npos;
}

std::string InspectCommand(const gcode::Checker& checker, const LocalCeiling& ceiling,
                           const Struct& body) {
  const auto& fields = body.fields();
  if (fields.contains("script") && !ceiling.allow_gcode_scripts) {
    return "G-code scripts are not allowed by the agent's local ceiling";
  }
  const Struct* parameters = nullptr;
  if (auto it = fields.find("parameters"); it != fields.end()) {
    if (!it->second.has_struct_value()) return "`parameters` must be an object";
    parameters = &it->second.struct_value();
  }
  std::vector<std::string> commands;
  if (auto it = fields.find("command"); it != fields.end()) {
    if (!it->second.has_string_value()) return "`command` must be a string";
    commands.push_back(it->second.string_value());
  }
  if (auto it = fields.find("commands"); it != fields.end()) {
    if (!it->second.has_list_value()) return "`commands` must be a list of strings";
    for (const Value& v : it->second.list_value().values()) {
      if (!v.has_string_value()) return "`commands` must be a list of strings";
      commands.push_back(v.string_value());
    }
  }
  for (std::string& command : commands) {
    if (!Substitute(parameters, &command)) {
      return absl::StrCat("the command '", command.substr(0, 100),
                          "' has placeholders the guard cannot resolve");
    }
    gcode::Verdict verdict = checker.Check(command);
    if (!verdict.allowed()) return Refusal(verdict);
  }
  return "";
}

// `target`/`targets` and `offset`/`offsets` of the heater endpoints.
std::string InspectHeater(const gcode::Checker& checker, Inspect inspect,
                          const Struct& body) {
  auto check = [&](double celsius) {
    switch (inspect) {
      case Inspect::kToolTarget:
        return checker.CheckToolTarget(celsius);
      case Inspect::kBedTarget:
        return checker.CheckBedTarget(celsius);
      default:
        return checker.CheckChamberTarget(celsius);
    }
  };
  for (const auto& [key, value] : body.fields()) {
    bool targets = key == "target" || key == "targets";
    bool offsets = key == "offset" || key == "offsets";
    if (!targets && !offsets) continue;
    std::vector<double> numbers;
    if (value.has_number_value()) {
      numbers.push_back(value.number_value());
    } else if (value.has_struct_value()) {
      for (const auto& [tool, v] : value.struct_value().fields()) {
        if (!v.has_number_value()) return absl::StrCat("`", key, "` values must be numbers");
        numbers.push_back(v.number_value());
      }
    } else {
      return absl::StrCat("`", key, "` must be a number or an object of numbers");
    }
    for (double n : numbers) {
      if (!std::isfinite(n)) return absl::StrCat("`", key, "` must be finite");
      if (offsets && n > 0) {
        return "a positive temperature offset would raise targets past what the guard "
               "checked";
      }
      if (targets) {
        gcode::Verdict verdict = check(n);
        if (!verdict.allowed()) return Refusal(verdict);
      }
    }
  }
  return "";
}

// POST /api/connection from an operator: connect and disconnect, but not
// `save` (stores port, baud rate and profile as the defaults) or
// `autoconnect`, which write OctoPrint's settings.
std::string InspectConnection(const Struct& json) {
  for (const char* field : {"save", "autoconnect"}) {
    if (json.fields().contains(field)) {
      return absl::StrCat("\"", field,
                          "\" writes OctoPrint's connection settings, which needs role admin");
    }
  }
  return "";
}

}  // namespace

std::string InspectBody(const gcode::Checker& checker, const LocalCeiling& ceiling,
                        Inspect inspect, absl::string_view body) {
  if (inspect == Inspect::kNone) return "";
  if (inspect == Inspect::kUpload) {
    // Uploads are far too large to buffer: HttpGuard streams them through
    // UploadInspector. A caller that gets here has skipped that.
    return "an upload must be scanned as it streams, not as one buffered body";
  }
  Struct json;
  google::protobuf::util::JsonParseOptions options;
  if (!google::protobuf::util::JsonStringToMessage(std::string(body), &json, options).ok()) {
    return "the body is not a JSON object";
  }
  if (inspect == Inspect::kPrinterCommand) return InspectCommand(checker, ceiling, json);
  if (inspect == Inspect::kConnection) return InspectConnection(json);
  return InspectHeater(checker, inspect, json);
}

}  // namespace bowden::guard
