#ifndef BOWDEN_GCODE_EMERGENCY_H_
#define BOWDEN_GCODE_EMERGENCY_H_

#include "absl/strings/string_view.h"

namespace bowden::gcode {

// The commands that always pass the ceiling and must never wait behind
// inspection, in increasing order of force.
enum class Emergency {
  kNone = 0,
  kM108,  // break out of a heating or M0 wait
  kM410,  // quickstop: stop all steppers
  kM112,  // emergency stop: kill the printer
};

// Finds the strongest emergency command among the lines of `text` (split
// like Checker::Check), in one pass without allocating, so the caller can
// act before any other inspection. Deliberately forgiving: a line counts
// if, after blanks and an optional "N<digits>", its word is M112, M108 or
// M410 in any case or spelling ("m 0112") followed by the end, a blank,
// ';', '(' or '*', whatever else the line or the text holds.
//
// Because the rest of `text` may be anything (e.g. "M997\nM112"), forward
// EmergencyCommand(found) on its own at once, never `text` itself; the
// whole text still goes through Checker::Check.
//
// Thread-safety: a pure function.
Emergency FindEmergency(absl::string_view text);

inline bool IsEmergency(absl::string_view text) {
  return FindEmergency(text) != Emergency::kNone;
}

// "M112", "M108" or "M410"; empty for kNone.
absl::string_view EmergencyCommand(Emergency emergency);

}  // namespace bowden::gcode

#endif  // BOWDEN_GCODE_EMERGENCY_H_
