#include "gcode/checker.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gcode/parser.h"

namespace bowden::gcode {
namespace {

constexpr size_t kMaxDisplayBytes = 200;

// Why the default denied commands are dangerous, for the verdict's reason.
absl::string_view DeniedBecause(absl::string_view key) {
  static constexpr std::pair<absl::string_view, absl::string_view> kWhy[] = {
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
  for (const auto& [name, why] : kWhy) {
    if (name == key) return why;
  }
  return "";
}

bool IsEmergencyCode(const ParsedLine& parsed) {
  return parsed.letter == 'M' &&
         (parsed.code == 112 || parsed.code == 108 || parsed.code == 410);
}

// Klipper-style commands the checker understands (and caps where they heat).
bool IsKnownExtended(absl::string_view key) {
  return key == "SET_HEATER_TEMPERATURE" || key == "TURN_OFF_HEATERS" ||
         key == "TEMPERATURE_WAIT" || key == "PID_CALIBRATE" ||
         key == "MPC_CALIBRATE";
}

// The display form of the command word: "M104", "M29.1", "SAVE_CONFIG".
std::string DisplayWord(const ParsedLine& parsed) {
  std::string key = parsed.Key();
  if (parsed.subcode) absl::StrAppend(&key, ".", *parsed.subcode);
  return key;
}

// Canonicalises a name from Ceiling.denied or Ceiling.allowed_extended.
absl::StatusOr<ParsedLine> ParseName(absl::string_view field,
                                     absl::string_view name) {
  ParsedLine parsed;
  absl::Status status = ParseLine(name, &parsed);
  if (status.ok() &&
      (parsed.kind == CommandKind::kNone || parsed.line_number ||
       parsed.subcode || !parsed.params.empty() || !parsed.args.empty() ||
       !parsed.text.empty() || parsed.word.size() != name.size())) {
    status = absl::InvalidArgumentError("not a single command name");
  }
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ceiling ", field, " entry \"", absl::CHexEscape(name), "\": ",
        status.message(), "; write a command such as M997 or SAVE_CONFIG"));
  }
  return parsed;
}

Verdict Violation(Verdict::Kind kind, int64_t line, absl::string_view raw,
                  std::string reason) {
  Verdict verdict;
  verdict.kind = kind;
  verdict.line = line;
  verdict.command = DisplayCommand(raw);
  verdict.reason = std::move(reason);
  return verdict;
}

}  // namespace

std::string DisplayCommand(absl::string_view raw) {
  raw = absl::StripAsciiWhitespace(raw);
  raw = raw.substr(0, kMaxDisplayBytes);
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) {
      absl::StrAppendFormat(&out, "\\x%02X", u);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string Verdict::ToString() const {
  if (allowed()) return "allowed";
  if (line == 0) return absl::StrCat(command, ": ", reason);
  return absl::StrCat("line ", line, ": ", command, ": ", reason);
}

absl::StatusOr<Checker> Checker::Create(Ceiling ceiling) {
  for (auto [name, cap] :
       {std::pair{"hotend_max_celsius", ceiling.hotend_max_celsius},
        std::pair{"bed_max_celsius", ceiling.bed_max_celsius},
        std::pair{"chamber_max_celsius", ceiling.chamber_max_celsius}}) {
    if (!std::isfinite(cap) || cap < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ceiling ", name, " is ", cap, "; set a temperature in °C >= 0"));
    }
  }
  if (ceiling.max_line_bytes == 0) {
    return absl::InvalidArgumentError(
        "ceiling max_line_bytes is 0; set a limit such as 4096");
  }
  Checker checker(std::move(ceiling));
  for (const std::string& name : checker.ceiling_.denied) {
    absl::StatusOr<ParsedLine> parsed = ParseName("denied", name);
    if (!parsed.ok()) return parsed.status();
    if ((parsed->kind == CommandKind::kClassic ||
         parsed->kind == CommandKind::kText) &&
        IsEmergencyCode(*parsed)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ceiling denied entry \"", name,
                       "\" is an emergency command; M112, "
                       "M108 and M410 always pass, remove it"));
    }
    std::string key = parsed->Key();
    std::string why(DeniedBecause(key));
    checker.denied_[key] = std::move(why);
  }
  for (const std::string& name : checker.ceiling_.allowed_extended) {
    absl::StatusOr<ParsedLine> parsed = ParseName("allowed_extended", name);
    if (!parsed.ok()) return parsed.status();
    if (parsed->kind != CommandKind::kExtended &&
        parsed->kind != CommandKind::kHost) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ceiling allowed_extended entry \"", name,
          "\" is a classic G/M/T command; list Klipper-style or @ names only"));
    }
    checker.allowed_extended_.insert(parsed->Key());
  }
  return checker;
}

double Checker::CapFor(Heater heater) const {
  switch (heater) {
    case Heater::kHotend:
      return ceiling_.hotend_max_celsius;
    case Heater::kBed:
      return ceiling_.bed_max_celsius;
    case Heater::kChamber:
      return ceiling_.chamber_max_celsius;
    case Heater::kUnknown:
      break;
  }
  return std::min({ceiling_.hotend_max_celsius, ceiling_.bed_max_celsius,
                   ceiling_.chamber_max_celsius});
}

std::string Checker::CapPhrase(Heater heater) const {
  const double cap = CapFor(heater);
  switch (heater) {
    case Heater::kHotend:
      return absl::StrCat("the hot-end cap of ", cap, " °C");
    case Heater::kBed:
      return absl::StrCat("the bed cap of ", cap, " °C");
    case Heater::kChamber:
      return absl::StrCat("the chamber cap of ", cap, " °C");
    case Heater::kUnknown:
      break;
  }
  return absl::StrCat("the lowest cap, ", cap,
                      " °C, which applies to heaters the ceiling does not "
                      "know");
}

Verdict Checker::CheckLine(absl::string_view line, int64_t line_number) const {
  using Kind = Verdict::Kind;
  if (line.size() > ceiling_.max_line_bytes) {
    return Violation(Kind::kUnparseable, line_number,
                     line.substr(0, ceiling_.max_line_bytes),
                     absl::StrCat("line is longer than the ",
                                  ceiling_.max_line_bytes, "-byte limit"));
  }
  ParsedLine parsed;
  if (absl::Status status = ParseLine(line, &parsed); !status.ok()) {
    return Violation(Kind::kUnparseable, line_number, line,
                     absl::StrCat("cannot parse: ", status.message()));
  }
  const bool classic =
      parsed.kind == CommandKind::kClassic || parsed.kind == CommandKind::kText;
  if (classic && IsEmergencyCode(parsed)) return Verdict();
  if (parsed.line_number && !ceiling_.allow_line_numbers) {
    return Violation(Kind::kDenied, line_number, line,
                     "N line numbers and * checksums are reserved for "
                     "OctoPrint: a stray numbered line desynchronises its "
                     "resend logic");
  }
  if (parsed.kind == CommandKind::kNone) return Verdict();
  const std::string key = parsed.Key();
  if (key == "M110" && !ceiling_.allow_line_numbers) {
    return Violation(Kind::kDenied, line_number, line,
                     "M110 resets OctoPrint's line numbering, which "
                     "desynchronises its resend logic");
  }
  if (auto it = denied_.find(key); it != denied_.end()) {
    std::string reason =
        absl::StrCat(DisplayWord(parsed), " is denied by the safety ceiling");
    if (!it->second.empty()) absl::StrAppend(&reason, " (", it->second, ")");
    return Violation(Kind::kDenied, line_number, line, std::move(reason));
  }

  Verdict capped = parsed.kind == CommandKind::kExtended
                       ? CheckKlipperCaps(parsed, line, line_number)
                       : CheckMarlinCaps(parsed, line, line_number);
  if (!capped.allowed()) return capped;
  if ((parsed.kind == CommandKind::kExtended ||
       parsed.kind == CommandKind::kHost) &&
      ceiling_.deny_unknown_extended && !IsKnownExtended(key) &&
      !allowed_extended_.contains(key)) {
    return Violation(Kind::kDenied, line_number, line,
                     absl::StrCat(key,
                                  " is not on the ceiling's allow-list of "
                                  "extended commands"));
  }
  return Verdict();
}

Verdict Checker::CheckMarlinCaps(const ParsedLine& parsed,
                                 absl::string_view line,
                                 int64_t line_number) const {
  struct CapRule {
    int code;
    char param;
    Heater heater;
  };
  static constexpr CapRule kRules[] = {
      {104, 'S', Heater::kHotend},  {104, 'R', Heater::kHotend},
      {104, 'B', Heater::kHotend},  {109, 'S', Heater::kHotend},
      {109, 'R', Heater::kHotend},  {109, 'B', Heater::kHotend},
      {140, 'S', Heater::kBed},     {140, 'R', Heater::kBed},
      {190, 'S', Heater::kBed},     {190, 'R', Heater::kBed},
      {141, 'S', Heater::kChamber}, {141, 'R', Heater::kChamber},
      {191, 'S', Heater::kChamber}, {191, 'R', Heater::kChamber},
      {145, 'H', Heater::kHotend},  {145, 'B', Heater::kBed},
      {303, 'S', Heater::kHotend},  // heater chosen by E below
  };
  if (parsed.kind != CommandKind::kClassic || parsed.letter != 'M') {
    return Verdict();
  }
  const auto heats = [&](const CapRule& rule) {
    return rule.code == parsed.code;
  };
  if (std::none_of(std::begin(kRules), std::end(kRules), heats)) {
    return Verdict();
  }
  for (const Param& param : parsed.params) {
    if (!param.quoted) continue;
    return Violation(
        Verdict::Kind::kUnparseable, line_number, line,
        absl::StrCat("cannot parse: quoted ", std::string(1, param.letter),
                     " value on a heater command (firmware "
                     "without GCODE_QUOTED_STRINGS reads inside "
                     "quotes)"));
  }
  for (const CapRule& rule : kRules) {
    if (!heats(rule)) continue;
    const Param* param = parsed.FindParam(rule.param);
    if (param == nullptr || !param->has_value) continue;
    Heater heater = rule.heater;
    if (rule.code == 303) {  // Marlin: E-1 bed, E-2 chamber, E>=0 hot-end
      const Param* e = parsed.FindParam('E');
      if (e != nullptr && e->has_value && e->value < 0) {
        heater = e->value == -1   ? Heater::kBed
                 : e->value == -2 ? Heater::kChamber
                                  : Heater::kUnknown;
      }
    }
    if (param->value > CapFor(heater)) {
      return Violation(
          Verdict::Kind::kDenied, line_number, line,
          absl::StrCat(DisplayWord(parsed), " ", std::string(1, rule.param),
                       param->text, " exceeds ", CapPhrase(heater)));
    }
  }
  return Verdict();
}

Verdict Checker::CheckKlipperCaps(const ParsedLine& parsed,
                                  absl::string_view line,
                                  int64_t line_number) const {
  const std::string key = parsed.Key();
  if (key != "SET_HEATER_TEMPERATURE" && key != "PID_CALIBRATE" &&
      key != "MPC_CALIBRATE") {
    return Verdict();
  }
  const ExtendedArg* target = parsed.FindArg("TARGET");
  if (target == nullptr) return Verdict();  // no target: heater off
  double celsius;
  if (!ParseNumber(target->value, &celsius)) {
    // Klipper's float() would take "3e2", "inf" or "1_000".
    return Violation(Verdict::Kind::kUnparseable, line_number, line,
                     absl::StrCat("cannot parse: TARGET=", target->value,
                                  " is not a plain number"));
  }
  Heater heater = Heater::kUnknown;
  std::string what = key;
  if (const ExtendedArg* arg = parsed.FindArg("HEATER"); arg != nullptr) {
    // Klipper names hot-ends extruder, extruder1, ... and the bed
    // heater_bed; anything else is a heater_generic we cannot place.
    const absl::string_view name = arg->value;
    if (absl::EqualsIgnoreCase(name, "heater_bed")) {
      heater = Heater::kBed;
    } else if (absl::StartsWithIgnoreCase(name, "extruder") &&
               name.find_first_not_of("0123456789", 8) ==
                   absl::string_view::npos) {
      heater = Heater::kHotend;
    }
    absl::StrAppend(&what, " HEATER=", name);
  }
  if (celsius <= CapFor(heater)) return Verdict();
  return Violation(Verdict::Kind::kDenied, line_number, line,
                   absl::StrCat(what, " TARGET=", target->value, " exceeds ",
                                CapPhrase(heater)));
}

Verdict Checker::Check(absl::string_view text) const {
  int64_t line_number = 1;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\n' && c != '\r') continue;
    Verdict verdict = CheckLine(text.substr(start, i - start), line_number);
    if (!verdict.allowed()) return verdict;
    if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    ++line_number;
    start = i + 1;
  }
  return CheckLine(text.substr(start), line_number);
}

Verdict Checker::CheckTarget(Heater heater, absl::string_view what,
                             double celsius) const {
  if (!std::isfinite(celsius)) {
    return Violation(
        Verdict::Kind::kUnparseable, 0, absl::StrCat(what, " target"),
        absl::StrCat("a ", what, " target must be a finite number of °C"));
  }
  if (celsius <= CapFor(heater)) return Verdict();
  return Violation(Verdict::Kind::kDenied, 0,
                   absl::StrCat(what, " target ", celsius),
                   absl::StrCat("a ", what, " target of ", celsius,
                                " °C exceeds ", CapPhrase(heater)));
}

Verdict Checker::CheckToolTarget(double celsius) const {
  return CheckTarget(Heater::kHotend, "tool", celsius);
}

Verdict Checker::CheckBedTarget(double celsius) const {
  return CheckTarget(Heater::kBed, "bed", celsius);
}

Verdict Checker::CheckChamberTarget(double celsius) const {
  return CheckTarget(Heater::kChamber, "chamber", celsius);
}

}  // namespace bowden::gcode
