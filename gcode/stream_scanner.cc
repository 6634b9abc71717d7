#include "gcode/stream_scanner.h"

#include <cstddef>

namespace bowden::gcode {
namespace {

// The first '\r' or '\n' at or after `from`, or text.size(). One pass,
// so a file of bare "\r" breaks costs no more than one of "\n".
size_t FindBreak(absl::string_view text, size_t from) {
  while (from < text.size() && text[from] != '\n' && text[from] != '\r') {
    ++from;
  }
  return from;
}

}  // namespace

bool StreamScanner::EndLine(absl::string_view line) {
  verdict_ = checker_->CheckLine(line, line_);
  if (!verdict_.allowed()) return false;
  ++line_;
  return true;
}

Verdict StreamScanner::Feed(absl::string_view chunk) {
  if (finished_ || !verdict_.allowed()) return verdict_;
  const size_t limit = checker_->ceiling().max_line_bytes;
  size_t i = 0;
  if (after_cr_ && !chunk.empty()) {
    after_cr_ = false;
    if (chunk[0] == '\n') i = 1;
  }
  while (i < chunk.size()) {
    const size_t end = FindBreak(chunk, i);
    absl::string_view piece = chunk.substr(i, end - i);
    if (partial_.size() + piece.size() > limit) {
      // Report now, without waiting for the end of the line: CheckLine
      // gives any line the same verdict as its first limit + 1 bytes.
      partial_.append(piece.data(), limit + 1 - partial_.size());
      verdict_ = checker_->CheckLine(partial_, line_);
      partial_.clear();
      return verdict_;
    }
    if (end == chunk.size()) {  // the line goes on in the next chunk
      partial_.append(piece.data(), piece.size());
      break;
    }
    bool ok;
    if (partial_.empty()) {
      ok = EndLine(piece);
    } else {
      partial_.append(piece.data(), piece.size());
      ok = EndLine(partial_);
      partial_.clear();
    }
    if (!ok) return verdict_;
    i = end + 1;
    if (chunk[end] == '\r') {
      if (i < chunk.size()) {
        if (chunk[i] == '\n') ++i;
      } else {
        after_cr_ = true;
      }
    }
  }
  return verdict_;
}

Verdict StreamScanner::Finish() {
  if (finished_ || !verdict_.allowed()) {
    finished_ = true;
    return verdict_;
  }
  finished_ = true;
  EndLine(partial_);
  partial_.clear();
  partial_.shrink_to_fit();
  return verdict_;
}

}  // namespace bowden::gcode
