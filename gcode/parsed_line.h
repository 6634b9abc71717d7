#ifndef BOWDEN_GCODE_PARSED_LINE_H_
#define BOWDEN_GCODE_PARSED_LINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace bowden::gcode {

// What follows the (optional) line number on a G-code line.
enum class CommandKind {
  kNone,      // blank or comment-only line
  kClassic,   // G/M/T word with letter parameters: "M104 T0 S200"
  kText,      // G/M word whose argument is free text: "M117 Hello"
  kExtended,  // Klipper-style word with KEY=VALUE arguments
  kHost,      // OctoPrint host command, never sent to the printer: "@pause"
};

// One parameter of a classic command: "S200", "X-1.5", or a bare flag "X".
struct Param {
  char letter = 0;  // upper case
  bool has_value = false;
  double value = 0;
  absl::string_view text;  // the number or quoted string as written
  bool quoted = false;     // P "MK4": a string, has_value stays false
};

// One KEY=VALUE argument of an extended command, as written. Klipper
// upper-cases keys, so compare them with absl::EqualsIgnoreCase.
struct ExtendedArg {
  absl::string_view key;
  absl::string_view value;
};

// The result of ParseLine. Views point into the parsed line, which must
// outlive this object. A plain value: thread-compatible.
struct ParsedLine {
  std::optional<int64_t> line_number;  // "N12"
  std::optional<int> checksum;         // "*57", verified by ParseLine
  CommandKind kind = CommandKind::kNone;
  char letter = 0;                // kClassic/kText: 'G', 'M' or 'T'
  int code = 0;                   // kClassic/kText: 104 for "m0104"
  std::optional<int> subcode;     // kClassic/kText: 1 for "G29.1"
  absl::string_view word;         // the command word as written
  std::vector<Param> params;      // kClassic, in order
  std::vector<ExtendedArg> args;  // kExtended, in order
  absl::string_view text;         // kText/kHost: the argument, trimmed

  // The canonical command name: "M104" (leading zeros and subcode dropped,
  // because Marlin built without subcodes ignores the subcode),
  // "SET_HEATER_TEMPERATURE" or "@PAUSE". Empty for kNone.
  std::string Key() const;
  // The parameter with `letter` (upper case), or null.
  const Param* FindParam(char letter) const;
  // The extended argument named `key` (any case), or null.
  const ExtendedArg* FindArg(absl::string_view key) const;
  // Resets to the empty line but keeps vector capacity, so one ParsedLine
  // can scan a whole file without allocating per line.
  void Clear();
};

// Parses `text` with ParseLine's `number` grammar: no exponent, hex, inf or
// nan, which firmware reads differently. Returns false if it does not match.
bool ParseNumber(absl::string_view text, double* value);

// True for the commands whose argument Marlin and Klipper read as free text
// (M117 messages, SD file names), not as parameters.
bool IsTextCommand(char letter, int code);

}  // namespace bowden::gcode

#endif  // BOWDEN_GCODE_PARSED_LINE_H_
