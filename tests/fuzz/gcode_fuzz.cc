// Fuzz target: the G-code safety ceiling. Nothing may crash; a verdict's
// line number lies within the input's lines; the StreamScanner, fed the
// input in pseudo-random splits, reaches exactly Checker::Check's verdict;
// and every line Check lets through parses.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gcode/checker.h"
#include "gcode/emergency.h"
#include "gcode/parser.h"
#include "gcode/stream_scanner.h"

namespace {

using bowden::gcode::Ceiling;
using bowden::gcode::Checker;
using bowden::gcode::Verdict;

[[noreturn]] void Fail(absl::string_view what, absl::string_view input,
                       const Verdict& a, const Verdict& b = Verdict()) {
  std::cerr << what << " for \"" << absl::CHexEscape(input) << "\"\n  "
            << a.ToString() << "\n  " << b.ToString() << "\n";
  std::abort();
}

const Checker& DefaultChecker() {
  static const Checker* checker = new Checker(*Checker::Create(Ceiling()));
  return *checker;
}

// Short lines, so the fuzzer reaches the over-long-line path within
// -max_len, and the other switches flipped.
const Checker& TightChecker() {
  static const Checker* checker = [] {
    Ceiling ceiling;
    ceiling.max_line_bytes = 40;
    ceiling.allow_line_numbers = true;
    ceiling.deny_unknown_extended = true;
    ceiling.allowed_extended = {"PRINT_START", "@pause"};
    return new Checker(*Checker::Create(ceiling));
  }();
  return *checker;
}

int64_t LineCount(absl::string_view text) {
  int64_t lines = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    if (text[i] == '\n' || text[i] == '\r') ++lines;
  }
  return lines;
}

bool Same(const Verdict& a, const Verdict& b) {
  return a.kind == b.kind && a.line == b.line && a.command == b.command &&
         a.reason == b.reason;
}

void CheckInvariants(const Checker& checker, absl::string_view input) {
  const Verdict whole = checker.Check(input);
  if (whole.allowed() != (whole.line == 0) ||
      whole.allowed() != whole.reason.empty()) {
    Fail("inconsistent verdict", input, whole);
  }
  if (whole.line > LineCount(input)) Fail("line out of range", input, whole);

  // Feed the same bytes in splits drawn from the input itself, so a
  // failure reproduces from the saved input alone.
  std::minstd_rand gen(
      static_cast<uint32_t>(std::hash<std::string>()(std::string(input))));
  for (int round = 0; round < 3; ++round) {
    bowden::gcode::StreamScanner scanner(checker);
    size_t at = 0;
    while (at < input.size()) {
      size_t n = round == 0 ? 1 : gen() % (input.size() - at + 1);
      n = std::min(n, input.size() - at);
      scanner.Feed(input.substr(at, n));
      at += n;
    }
    const Verdict streamed = scanner.Finish();
    if (!Same(whole, streamed)) {
      Fail("StreamScanner disagrees with Check", input, whole, streamed);
    }
  }

  // Every line that passed must parse on its own.
  if (whole.allowed()) {
    bowden::gcode::ParsedLine parsed;
    size_t start = 0;
    for (size_t i = 0; i <= input.size(); ++i) {
      if (i < input.size() && input[i] != '\n' && input[i] != '\r') continue;
      absl::string_view line = input.substr(start, i - start);
      if (!bowden::gcode::ParseLine(line, &parsed).ok()) {
        Fail("an allowed line does not parse", line, whole);
      }
      start = i + 1;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  CheckInvariants(DefaultChecker(), input);
  CheckInvariants(TightChecker(), input);
  bowden::gcode::IsEmergency(input);
  return 0;
}
