#ifndef BOWDEN_GCODE_STREAM_SCANNER_H_
#define BOWDEN_GCODE_STREAM_SCANNER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "gcode/checker.h"

namespace bowden::gcode {

// Checks an uploaded G-code file as it streams past, chunk by chunk, so the
// agent can refuse it before OctoPrint stores it without ever holding the
// file. Chunks may split the file anywhere, even between "\r" and "\n".
// Memory stays within Ceiling::max_line_bytes + 1 whatever the file size: a
// longer line is a violation as soon as it passes the limit.
//
// The verdict equals Checker::Check on the whole file: same first
// violation, same line number (counted over the whole file, "\r\n" as one
// break). After a violation the scanner stops looking and keeps returning
// it, so the caller can abort the upload at once.
//
//   StreamScanner scanner(checker);
//   for (chunk : body) if (!scanner.Feed(chunk).allowed()) return refuse();
//   if (!scanner.Finish().allowed()) return refuse();
//
// Thread-compatible: one scanner per upload, used by one thread at a time.
// `checker` must outlive the scanner.
class StreamScanner {
 public:
  explicit StreamScanner(const Checker& checker) : checker_(&checker) {}

  StreamScanner(const StreamScanner&) = delete;
  StreamScanner& operator=(const StreamScanner&) = delete;

  // Scans `chunk`. Returns allowed so far, or the first violation.
  Verdict Feed(absl::string_view chunk);
  // Checks the last line (a file need not end with a newline) and returns
  // the verdict for the whole file. Feed after Finish is ignored.
  Verdict Finish();

 private:
  // Checks one complete line; false once a violation is recorded.
  bool EndLine(absl::string_view line);

  const Checker* checker_;
  std::string partial_;    // the unfinished line; at most max_line_bytes + 1
  bool after_cr_ = false;  // the last byte was '\r': skip a following '\n'
  bool finished_ = false;
  int64_t line_ = 1;  // number of the line being read
  Verdict verdict_;
};

}  // namespace bowden::gcode

#endif  // BOWDEN_GCODE_STREAM_SCANNER_H_
