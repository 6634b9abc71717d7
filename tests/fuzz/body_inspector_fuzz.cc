// Fuzz target: the JSON body inspection (field typing, Python `%`
// formatting, emergency extraction). Nothing may crash, and:
//  - a control body the guard allows (jog, tool, heaters, prompt answers)
//    holds no line break in any string anywhere in it;
//  - an allowed terminal body renders, as OctoPrint would, to commands that
//    hold no line break and each pass the ceiling;
//  - an emergency body is the guard's own canonical form and is itself
//    allowed when inspected again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "gcode/checker.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "guard/body_inspector.h"
#include "guard/python_format.h"

namespace {

using bowden::guard::BodyRequest;
using bowden::guard::BodyVerdict;
using bowden::guard::Inspect;
using google::protobuf::Struct;
using google::protobuf::Value;

[[noreturn]] void Fail(absl::string_view what, absl::string_view input) {
  std::cerr << what << " for \"" << absl::CHexEscape(input) << "\"\n";
  std::abort();
}

const bowden::gcode::Checker& DefaultChecker() {
  static const auto* checker =
      new bowden::gcode::Checker(*bowden::gcode::Checker::Create(bowden::gcode::Ceiling()));
  return *checker;
}

bool HasLineBreak(const Value& value) {
  if (value.has_string_value()) {
    return value.string_value().find_first_of("\r\n") != std::string::npos;
  }
  if (value.has_list_value()) {
    for (const Value& v : value.list_value().values()) {
      if (HasLineBreak(v)) return true;
    }
  }
  if (value.has_struct_value()) {
    for (const auto& [key, v] : value.struct_value().fields()) {
      if (key.find_first_of("\r\n") != std::string::npos || HasLineBreak(v)) return true;
    }
  }
  return false;
}

void CheckTerminalBody(const Struct& json, absl::string_view input) {
  if (json.fields().contains("script")) return;  // only with allow_gcode_scripts
  const Struct* mapping = nullptr;
  auto params = json.fields().find("parameters");
  if (params != json.fields().end() && params->second.has_struct_value() &&
      !params->second.struct_value().fields().empty()) {
    mapping = &params->second.struct_value();
  }
  std::vector<std::string> commands;
  if (auto it = json.fields().find("command"); it != json.fields().end()) {
    commands.push_back(it->second.string_value());
  }
  if (auto it = json.fields().find("commands"); it != json.fields().end()) {
    for (const Value& v : it->second.list_value().values()) commands.push_back(v.string_value());
  }
  for (std::string command : commands) {
    if (mapping != nullptr) {
      auto rendered = bowden::guard::PythonPercentFormat(command, *mapping);
      if (!rendered.ok()) Fail("an allowed command that cannot be rendered", input);
      command = *rendered;
    }
    if (command.find_first_of("\r\n") != std::string::npos) {
      Fail("an allowed command with a line break", input);
    }
    if (!DefaultChecker().CheckLine(command, 1).allowed()) {
      Fail("an allowed command the ceiling refuses", input);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr Inspect kKinds[] = {
      Inspect::kPrinterCommand,  Inspect::kOperatorCommand,
      Inspect::kPrinthead,       Inspect::kToolTarget,
      Inspect::kBedTarget,       Inspect::kChamberTarget,
      Inspect::kFileCommand,     Inspect::kConnection,
      Inspect::kTimelapseConfig, Inspect::kPromptAnswer,
      Inspect::kSettings};
  const uint8_t setup = static_cast<uint8_t>(input[0]);
  const Inspect kind = kKinds[setup % (sizeof(kKinds) / sizeof(kKinds[0]))];
  const char* path = (setup & 0x80) ? "/api/files/local/a.stl" : "/api/files/local/a.gcode";
  input.remove_prefix(1);

  bowden::guard::LocalCeiling ceiling;
  ceiling.allow_gcode_scripts = (setup & 0x40) != 0;
  const BodyVerdict verdict =
      bowden::guard::InspectBody(DefaultChecker(), ceiling, BodyRequest{kind, path, input});

  if (!verdict.emergency_body.empty()) {
    if (!absl::StartsWith(verdict.emergency_body, "{\"commands\":[\"M")) {
      Fail("an emergency body that is not the canonical form", input);
    }
    const BodyVerdict again = bowden::guard::InspectBody(
        DefaultChecker(), ceiling, BodyRequest{kind, path, verdict.emergency_body});
    if (!again.allowed() || (kind == Inspect::kOperatorCommand &&
                             again.emergency_body != verdict.emergency_body)) {
      Fail("an emergency body the guard refuses on its own", input);
    }
  }
  if (!verdict.allowed()) return 0;

  Struct json;
  if (!google::protobuf::util::JsonStringToMessage(std::string(input), &json).ok()) {
    Fail("an allowed body that is not JSON", input);
  }
  switch (kind) {
    case Inspect::kPrinthead:
    case Inspect::kToolTarget:
    case Inspect::kBedTarget:
    case Inspect::kChamberTarget:
    case Inspect::kPromptAnswer: {
      Value whole;
      *whole.mutable_struct_value() = json;
      if (HasLineBreak(whole)) Fail("an allowed control body with a line break", input);
      break;
    }
    case Inspect::kPrinterCommand:
      CheckTerminalBody(json, input);
      break;
    case Inspect::kOperatorCommand:
      // Forwarded as sent: what an operator may send, the terminal may too.
      if (verdict.emergency_body.empty()) {
        if (!bowden::guard::InspectBody(
                 DefaultChecker(), ceiling,
                 BodyRequest{Inspect::kPrinterCommand, path, input})
                 .allowed()) {
          Fail("an operator's command the terminal refuses", input);
        }
        CheckTerminalBody(json, input);
      }
      break;
    default:
      break;
  }
  return 0;
}
