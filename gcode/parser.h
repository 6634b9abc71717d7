#ifndef BOWDEN_GCODE_PARSER_H_
#define BOWDEN_GCODE_PARSER_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gcode/parsed_line.h"

namespace bowden::gcode {

// Parses one line (without its line terminator) of what OctoPrint can carry
// to a printer. The grammar is the intersection of what Marlin, Klipper and
// OctoPrint read the same way; anything they could read differently is an
// error, because the checker must see exactly what the firmware will run:
//
//   line     = blank* [ "N" digits blank* ] [ command ] blank* [ "*" digits ]
//              [ ";" comment ]
//   classic  = ("G"|"M"|"T") blank* digits ["." digits] { blank* param }
//   param    = letter blank* [ number | '"' text '"' ]  (each letter once)
//   number   = ["+"|"-"] (digits ["." digits*] | "." digits)
//   extended = word { blank+ KEY "=" VALUE }     (Klipper)
//   host     = "@" word [ blank+ text ]          (OctoPrint)
//
// Letters are case-insensitive. "( )" comments count as blanks but may hold
// no digit, '*', '(' or ')' (firmware without PAREN_COMMENTS reads them as
// parameters). Errors (kInvalidArgument) say what is wrong and where:
// NUL, control and (outside ';' comments) non-ASCII bytes, backslashes
// (firmware-specific escapes), unbalanced quotes and quotes outside classic
// parameter values, a second G or M word, repeated parameters, malformed
// numbers, a line number without a checksum or the reverse, and a checksum
// that does not match.
//
// Reuses `parsed`'s vectors, so one ParsedLine can scan a whole file
// without allocating per line. Thread-safety: a pure function.
absl::Status ParseLine(absl::string_view line, ParsedLine* parsed);

}  // namespace bowden::gcode

#endif  // BOWDEN_GCODE_PARSER_H_
