#include "cli/flag_scan.h"

#include <set>

#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "terminal/terminal_text.h"

namespace bowden::cli {
namespace {

// The error names what was typed, which may hold control characters (a
// script passing on input it did not check): escaped so that printing the
// sentence cannot move the cursor or recolour the terminal.
std::string Sentence(absl::string_view text) {
  return terminal::EscapeForTerminal(text);
}

}  // namespace

bool FlagTakesValue(const std::string& name) {
  if (name == "dns" || name == "ip") return true;  // config/repeated_flag.h
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  return flag != nullptr && !flag->IsOfType<bool>();
}

ScannedCommandLine ScanCommandLine(const std::vector<char*>& args) {
  ScannedCommandLine scanned;
  for (size_t i = 1; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--") {
      scanned.words.insert(scanned.words.end(), args.begin() + i + 1,
                           args.end());
      break;
    }
    if (arg == "help" || arg == "--help" || arg == "-h") {
      scanned.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      scanned.words.push_back(arg);
      continue;
    }
    // "---" has no name at all: an unknown flag, like any other.
    size_t name_start = arg.find_first_not_of('-');
    std::string name =
        name_start == std::string::npos ? "" : arg.substr(name_start);
    size_t equals = name.find('=');
    std::string value;
    bool has_value = equals != std::string::npos;
    if (has_value) {
      value = name.substr(equals + 1);
      name.resize(equals);
    }
    // Abseil's own flags, handled by ParseCommandLine.
    static const auto* kBuiltIn = new std::set<std::string>{
        "version", "helpfull", "helpshort", "helppackage", "only_check_args"};
    static const auto* kBuiltInWithValue = new std::set<std::string>{
        "helpon", "helpmatch", "flagfile", "fromenv", "tryfromenv", "undefok"};
    if (kBuiltIn->count(name)) continue;
    if (kBuiltInWithValue->count(name)) {
      if (!has_value) ++i;
      continue;
    }
    absl::CommandLineFlag* flag =
        name.empty() ? nullptr : absl::FindCommandLineFlag(name);
    if (flag == nullptr && !has_value && name.rfind("no", 0) == 0) {
      absl::CommandLineFlag* negated =
          absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) continue;  // --noall
    }
    if (flag == nullptr) {
      if (scanned.error.empty()) {
        scanned.error = Sentence(absl::StrCat(
            "unknown flag '", arg,
            "'; run `bowden help COMMAND` for the command's flags"));
      }
      continue;
    }
    if (!FlagTakesValue(name)) {
      if (!has_value) continue;
    } else if (!has_value) {
      if (i + 1 == args.size()) {
        if (scanned.error.empty())
          scanned.error = Sentence(absl::StrCat("flag '", arg, "' needs a value"));
        continue;
      }
      value = args[++i];
    }
    std::string problem;
    if (scanned.error.empty() && !flag->ParseFrom(value, &problem)) {
      scanned.error = Sentence(
          absl::StrCat("bad value '", value, "' for --", name, ": ", problem));
    }
  }
  return scanned;
}

}  // namespace bowden::cli
