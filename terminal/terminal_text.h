#ifndef BOWDEN_TERMINAL_TERMINAL_TEXT_H_
#define BOWDEN_TERMINAL_TERMINAL_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace bowden::terminal {

// Audit rows carry text chosen by whoever made the request (paths, reasons,
// file names). Printed raw, an ESC or CSI sequence could recolour, hide or
// rewrite lines of an administrator's terminal, and a bidi override could
// make a line read differently from what it holds. Both functions are pure
// and thread-safe.

// `text` with every C0 control, DEL and C1 control (raw byte or UTF-8
// U+0080..U+009F) as \xNN per byte, and the Unicode bidi controls and line
// separators (U+2028..U+202E, U+2066..U+2069) as \u{NNNN}. Everything else,
// including other UTF-8, is kept.
std::string EscapeForTerminal(absl::string_view text);

// The same for a line of JSON (e.g. the protobuf JSON printer's, which
// leaves DEL, C1 and bidi controls raw): those become \uNNNN, which JSON
// readers decode back to the same text. Control characters can only occur
// inside JSON strings, so the result is valid JSON for valid input.
std::string EscapeJsonForTerminal(absl::string_view json);

// `text` as a quoted JSON string that is safe on a terminal and valid UTF-8
// whatever `text` holds: `"` and `\` are escaped, the characters
// EscapeForTerminal escapes become \uNNNN, and a byte that does not start a
// UTF-8 sequence becomes \u00NN (read as Latin-1, so nothing is lost).
std::string QuoteJson(absl::string_view text);

}  // namespace bowden::terminal

#endif  // BOWDEN_TERMINAL_TERMINAL_TEXT_H_
