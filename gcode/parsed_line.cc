#include "gcode/parsed_line.h"

#include <algorithm>
#include <cstddef>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace bowden::gcode {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::string ParsedLine::Key() const {
  switch (kind) {
    case CommandKind::kClassic:
    case CommandKind::kText:
      return absl::StrCat(std::string(1, letter), code);
    case CommandKind::kExtended:
    case CommandKind::kHost:
      return absl::AsciiStrToUpper(word);
    case CommandKind::kNone:
      break;
  }
  return "";
}

const Param* ParsedLine::FindParam(char wanted) const {
  for (const Param& param : params) {
    if (param.letter == wanted) return &param;
  }
  return nullptr;
}

const ExtendedArg* ParsedLine::FindArg(absl::string_view key) const {
  for (const ExtendedArg& arg : args) {
    if (absl::EqualsIgnoreCase(arg.key, key)) return &arg;
  }
  return nullptr;
}

void ParsedLine::Clear() {
  line_number.reset();
  checksum.reset();
  kind = CommandKind::kNone;
  letter = 0;
  code = 0;
  subcode.reset();
  word = absl::string_view();
  params.clear();
  args.clear();
  text = absl::string_view();
}

bool ParseNumber(absl::string_view text, double* value) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  while (i < text.size() && IsDigit(text[i])) ++i, ++digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && IsDigit(text[i])) ++i, ++digits;
  }
  if (digits == 0 || i != text.size()) return false;
  // SimpleAtod takes "+5", "5." and ".5"; out-of-range becomes +-inf.
  return absl::SimpleAtod(text, value);
}

bool IsTextCommand(char letter, int code) {
  // M0/M1 prompts, SD file names, M117/M118 messages.
  static constexpr int kCodes[] = {0, 1, 23, 28, 30, 32, 33, 117, 118, 928};
  return letter == 'M' && std::find(std::begin(kCodes), std::end(kCodes),
                                    code) != std::end(kCodes);
}

}  // namespace bowden::gcode
