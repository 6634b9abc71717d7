#ifndef BOWDEN_GUARD_PYTHON_FORMAT_H_
#define BOWDEN_GUARD_PYTHON_FORMAT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"

namespace bowden::guard {

// Renders `format % mapping` as Python's printf-style formatting does. This is
// what OctoPrint does to every command of POST /api/printer/command when the
// request carries a non-empty `parameters` object, so the guard must judge the
// rendered text, not the template.
//
// Only the subset the guard can reproduce exactly is accepted:
//   %%                                       a literal '%'
//   %(key)[flags][width][.precision]conv     flags from "#0- +", width <= 99,
//                                            precision <= 49, conv s d i u f F
// with an optional (ignored) length modifier h, l or L, as in Python.
// Everything else is kInvalidArgument with a sentence naming it:
//  - a conversion without a mapping key (Python would format the whole
//    mapping), `*` widths, an incomplete or unknown conversion;
//  - c (turns a number into any character, a line break included), r and a
//    (quote strings), and e E g G o x X (exponents and hex digits that a
//    firmware reads as further parameter words);
//  - a key that is missing or contains parentheses;
//  - a value that is neither a number nor a string; a string that is not
//    printable ASCII (no line breaks, no control characters); a string for a
//    numeric conversion (Python raises TypeError);
//  - a number that is not finite or not below 1e15 in magnitude, or, for `s`,
//    a fraction below 1e-4 in magnitude (Python would write an exponent).
//
// Numbers come from JSON through google.protobuf.Value, which does not say
// whether the client wrote 300 or 300.0; for `s` an integral value is written
// without a fraction and any other value in its shortest round-trip form. Both
// spellings name the same number, which is what the G-code ceiling judges.
//
// A pure function: thread-safe.
absl::StatusOr<std::string> PythonPercentFormat(
    absl::string_view format, const google::protobuf::Struct& mapping);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_PYTHON_FORMAT_H_
