#ifndef BOWDEN_GCODE_CHECKER_H_
#define BOWDEN_GCODE_CHECKER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gcode/parsed_line.h"

namespace bowden::gcode {

// The agent's local G-code safety ceiling. It lives in the agent's own
// config, so no relay (compromised or not) can lift it. The defaults follow
// DESIGN.md; every field can be changed. A plain value: thread-compatible.
struct Ceiling {
  // Commands refused outright, any case: classic words ("M997"; this also
  // covers subcodes such as M997.1 and spellings such as m0997) and Klipper
  // or host command names ("SAVE_CONFIG", "@pause"). M112, M108 and M410
  // cannot be listed: they always pass.
  //
  // Defaults: M997 firmware update; M500/M501/M502 EEPROM save, reload and
  // factory reset; M303/M301/M304 PID autotune and values; M302 cold
  // extrusion; M211 soft endstops; and the same risks in Klipper's words,
  // plus its shell extension.
  std::vector<std::string> denied = {"M997",
                                     "M500",
                                     "M501",
                                     "M502",
                                     "M303",
                                     "M301",
                                     "M304",
                                     "M302",
                                     "M211",
                                     "SAVE_CONFIG",
                                     "PID_CALIBRATE",
                                     "FORCE_MOVE",
                                     "SET_KINEMATIC_POSITION",
                                     "RUN_SHELL_COMMAND"};
  // Highest target each heater may be set to; a target equal to the cap
  // passes. Applies to M104/M109 (S, R, B), M140/M190 (S, R), M141/M191
  // (S, R), M145 presets (H hot-end, B bed), M303 S (if no longer denied)
  // and Klipper's SET_HEATER_TEMPERATURE / PID_CALIBRATE TARGET.
  double hotend_max_celsius = 280;
  double bed_max_celsius = 120;
  double chamber_max_celsius = 70;
  // Klipper-style (extended) and OctoPrint "@" commands pass unless denied
  // above. With this set, only the heater commands the checker understands
  // and the names in `allowed_extended` pass: an allow-list for printers
  // whose macros are opaque.
  bool deny_unknown_extended = false;
  std::vector<std::string> allowed_extended;
  // "N12 ... *34" lines and M110 belong to OctoPrint's own line numbering;
  // a user's numbered line desynchronises its resend logic and ends the
  // next print with an emergency stop. Set only for raw serial setups.
  bool allow_line_numbers = false;
  // Longer lines are refused, which also bounds StreamScanner's memory.
  size_t max_line_bytes = 4096;
};

// The answer for a text, a file or a set-point. When not allowed it names
// the first violation. A plain value: thread-compatible.
struct Verdict {
  enum class Kind {
    kAllowed,
    kDenied,       // parsed, and the ceiling refuses it
    kUnparseable,  // could be read differently by some firmware: refused
  };
  Kind kind = Kind::kAllowed;
  // 1-based line within the checked text or file; 0 when allowed or for a
  // set-point.
  int64_t line = 0;
  // The offending line as written: trimmed, cut to 200 bytes, bytes outside
  // printable ASCII escaped as \xNN so it is safe to log and to return.
  std::string command;
  // One sentence, e.g. "M104 S300 exceeds the hot-end cap of 280 °C".
  std::string reason;

  bool allowed() const { return kind == Kind::kAllowed; }
  // "line 2: M997: M997 is denied by the safety ceiling (firmware update)".
  std::string ToString() const;
};

// Applies a Ceiling to G-code: whole `command` strings or several lines
// from POST /api/printer/command, single lines for StreamScanner, and the
// JSON set-points of /api/printer/tool|bed|chamber.
//
// Thread-safety: immutable after construction, so thread-safe; share one
// Checker between all requests.
class Checker {
 public:
  // Fails (kInvalidArgument, naming the entry) on a denied or allowed name
  // that is not a command, an emergency command in `denied`, a cap that is
  // negative or not finite, or a zero max_line_bytes.
  static absl::StatusOr<Checker> Create(Ceiling ceiling);

  // Checks `text`, split into lines on "\n", "\r" and "\r\n". Returns
  // allowed, or the first violation with its 1-based line number. Emergency
  // lines pass, but callers should not wait for this: see emergency.h.
  Verdict Check(absl::string_view text) const;

  // Checks one line without its terminator; `line_number` only labels the
  // verdict.
  Verdict CheckLine(absl::string_view line, int64_t line_number) const;

  // The set-points OctoPrint turns into M104/M140/M141 S<value>.
  Verdict CheckToolTarget(double celsius) const;
  Verdict CheckBedTarget(double celsius) const;
  Verdict CheckChamberTarget(double celsius) const;

  const Ceiling& ceiling() const { return ceiling_; }

 private:
  enum class Heater { kHotend, kBed, kChamber, kUnknown };

  explicit Checker(Ceiling ceiling) : ceiling_(std::move(ceiling)) {}
  double CapFor(Heater heater) const;
  // "the hot-end cap of 280 °C", for reasons.
  std::string CapPhrase(Heater heater) const;
  // Set-points in M104/M109/M140/M190/M141/M191/M145/M303.
  Verdict CheckMarlinCaps(const ParsedLine& parsed, absl::string_view line,
                          int64_t line_number) const;
  // TARGET of SET_HEATER_TEMPERATURE, PID_CALIBRATE, MPC_CALIBRATE.
  Verdict CheckKlipperCaps(const ParsedLine& parsed, absl::string_view line,
                           int64_t line_number) const;
  Verdict CheckTarget(Heater heater, absl::string_view what,
                      double celsius) const;

  Ceiling ceiling_;
  // Canonical key ("M997", "SAVE_CONFIG") -> why it is denied.
  absl::flat_hash_map<std::string, std::string> denied_;
  absl::flat_hash_set<std::string> allowed_extended_;
};

// Builds a Verdict::command: trimmed, cut to 200 bytes, escaped.
std::string DisplayCommand(absl::string_view raw);

}  // namespace bowden::gcode

#endif  // BOWDEN_GCODE_CHECKER_H_
