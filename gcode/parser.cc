#include "gcode/parser.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bowden::gcode {
namespace {

constexpr size_t kNpos = absl::string_view::npos;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWordChar(char c) { return absl::ascii_isalnum(c) || c == '_'; }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

absl::Status Error(absl::string_view what, size_t index) {
  return absl::InvalidArgumentError(
      absl::StrCat(what, " at column ", index + 1));
}

// Walks the code part of a line (comment and checksum already cut off).
// "( )" comments were validated before and count as blanks, the way Marlin
// with PAREN_COMMENTS reads them.
class Cursor {
 public:
  explicit Cursor(absl::string_view text) : text_(text) {}

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  size_t pos() const { return pos_; }
  void Advance() { ++pos_; }
  bool AtBlank() const { return IsSpace(Peek()) || Peek() == '('; }

  void SkipBlank() {
    while (!AtEnd()) {
      if (IsSpace(text_[pos_])) {
        ++pos_;
      } else if (text_[pos_] == '(') {
        size_t close = text_.find(')', pos_);
        pos_ = close == kNpos ? text_.size() : close + 1;
      } else {
        break;
      }
    }
  }
  // The next non-blank character, without moving.
  char PeekPastBlank() const {
    Cursor copy = *this;
    copy.SkipBlank();
    return copy.Peek();
  }
  absl::string_view Take(bool (*pred)(char)) {
    size_t start = pos_;
    while (!AtEnd() && pred(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }
  absl::string_view From(size_t start) const {
    return text_.substr(start, pos_ - start);
  }
  absl::string_view Rest() const { return text_.substr(pos_); }

 private:
  absl::string_view text_;
  size_t pos_ = 0;
};

// Rejects bytes that firmware, OctoPrint or a terminal could read
// differently, and finds where the ';' comment starts.
absl::Status ScreenBytes(absl::string_view line, size_t* comment) {
  *comment = kNpos;
  for (size_t i = 0; i < line.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(line[i]);
    if (c == 0) return Error("NUL byte", i);
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return Error(absl::StrFormat("control byte 0x%02X", c), i);
    }
    if (c == ';' && *comment == kNpos) *comment = i;
    // Comment text never reaches the firmware (OctoPrint strips it), so
    // slicers' UTF-8 notes there are fine; anywhere else the firmware
    // would see bytes no G-code dialect defines.
    if (c >= 0x80 && *comment == kNpos) {
      return Error(absl::StrFormat("non-ASCII byte 0x%02X", c), i);
    }
    if (c == '\\' && *comment == kNpos) {
      // OctoPrint and Marlin read "\;" as an escaped ';', so a backslash
      // moves where the comment starts.
      return Error("'\\' (firmware-specific escape)", i);
    }
  }
  // OctoPrint cuts at the first ';' even inside quotes, so an open quote
  // before it would reach the firmware unbalanced.
  const absl::string_view code = line.substr(0, *comment);
  if (std::count(code.begin(), code.end(), '"') % 2 != 0) {
    return Error("unbalanced '\"'", code.rfind('"'));
  }
  return absl::OkStatus();
}

absl::Status ScreenParens(absl::string_view code, bool* has_paren) {
  *has_paren = false;
  size_t open = kNpos;
  for (size_t i = 0; i < code.size(); ++i) {
    const char c = code[i];
    if (open != kNpos) {
      if (c == ')') {
        open = kNpos;
      } else if (c == '(' || c == '*' || IsDigit(c)) {
        return Error(absl::StrFormat("'%c' inside a ( ) comment (firmware "
                                     "without PAREN_COMMENTS would read it)",
                                     c),
                     i);
      }
    } else if (c == '(') {
      open = i;
      *has_paren = true;
    } else if (c == ')') {
      return Error("')' without '('", i);
    }
  }
  if (open != kNpos) return Error("'(' not closed before ';' or the end", open);
  return absl::OkStatus();
}

absl::Status ParseClassic(Cursor& cur, ParsedLine* parsed) {
  const size_t start = cur.pos();
  parsed->letter = absl::ascii_toupper(cur.Peek());
  cur.Advance();
  cur.SkipBlank();  // Marlin and Klipper both read "M 104" as M104.
  absl::string_view digits = cur.Take(IsDigit);
  digits.remove_prefix(std::min(digits.find_first_not_of('0'), digits.size()));
  // Marlin accumulates the number in an int that wraps around, so a long
  // number could alias M997; no real command has more than 4 digits.
  if (digits.size() > 5 ||
      !absl::SimpleAtoi(digits.empty() ? "0" : digits, &parsed->code)) {
    return Error("command number out of range", start);
  }
  if (cur.Peek() == '.') {
    cur.Advance();
    absl::string_view sub = cur.Take(IsDigit);
    int value = 0;
    if (sub.empty() || sub.size() > 3 || !absl::SimpleAtoi(sub, &value)) {
      return Error("malformed subcode", start);
    }
    parsed->subcode = value;
  }
  parsed->word = cur.From(start);
  if (IsTextCommand(parsed->letter, parsed->code)) {
    parsed->kind = CommandKind::kText;
    parsed->text = absl::StripAsciiWhitespace(cur.Rest());
    return absl::OkStatus();
  }
  parsed->kind = CommandKind::kClassic;
  bool seen[26] = {};
  for (;;) {
    if (!cur.AtEnd() && !cur.AtBlank() && !absl::ascii_isalpha(cur.Peek())) {
      return Error(absl::StrFormat("unexpected '%c'", cur.Peek()), cur.pos());
    }
    cur.SkipBlank();
    if (cur.AtEnd()) return absl::OkStatus();
    const size_t at = cur.pos();
    const char c = cur.Peek();
    if (!absl::ascii_isalpha(c)) {
      return Error(IsDigit(c) || c == '-' || c == '+' || c == '.'
                       ? "number without a parameter letter"
                       : absl::StrFormat("unexpected '%c'", c),
                   at);
    }
    Param param;
    param.letter = absl::ascii_toupper(c);
    if (param.letter == 'G' || param.letter == 'M') {
      // Marlin and Klipper run only the first command word and read the
      // second as a parameter; RepRapFirmware and grbl-style parsers run
      // both. No single reading is safe, so refuse the line.
      return Error("second command word on one line", at);
    }
    if (seen[param.letter - 'A']) {
      // Marlin's classic parser takes the first, FASTER_GCODE_PARSER and
      // Klipper the last: "M104 S0 S300" must not pass as S0.
      return Error(absl::StrFormat("parameter %c repeated", param.letter), at);
    }
    seen[param.letter - 'A'] = true;
    cur.Advance();
    const char next = cur.PeekPastBlank();
    if (next == '"') {
      // A quoted value such as PrusaSlicer's M862.3 P "MK4". Firmware
      // without GCODE_QUOTED_STRINGS reads inside it, so the checker refuses
      // quotes on the commands whose values it caps.
      cur.SkipBlank();
      const size_t quote = cur.pos();
      cur.Advance();
      cur.Take([](char c) { return c != '"'; });
      cur.Advance();  // balanced: ScreenBytes counted the quotes
      param.text = cur.From(quote);
      param.quoted = true;
    } else if (IsDigit(next) || next == '-' || next == '+' || next == '.') {
      cur.SkipBlank();  // "S 300" is S300 to Marlin and Klipper.
      const size_t num_start = cur.pos();
      if (cur.Peek() == '-' || cur.Peek() == '+') cur.Advance();
      const size_t int_digits = cur.Take(IsDigit).size();
      size_t frac_digits = 0;
      if (cur.Peek() == '.') {
        cur.Advance();
        frac_digits = cur.Take(IsDigit).size();
      }
      param.text = cur.From(num_start);
      const bool ends_well =
          cur.AtEnd() || cur.AtBlank() || absl::ascii_isalpha(cur.Peek());
      if ((int_digits == 0 && frac_digits == 0) || !ends_well ||
          !ParseNumber(param.text, &param.value)) {
        return Error(absl::StrFormat("malformed number after %c", param.letter),
                     num_start);
      }
      param.has_value = true;
    }
    parsed->params.push_back(param);
  }
}

absl::Status ParseExtended(Cursor& cur, absl::string_view code, bool has_paren,
                           ParsedLine* parsed) {
  const size_t start = cur.pos();
  parsed->word = cur.Take(IsWordChar);
  if (parsed->word.size() < 2)
    return Error("command word without a number", start);
  // Klipper reads neither ( ) comments nor classic syntax here; '#' starts
  // its comment only on extended lines and quotes go through shlex, which
  // the checker does not model.
  if (has_paren) return Error("( ) comment in a Klipper-style command", start);
  for (char c : {'#', '\'', '"'}) {
    if (size_t at = code.find(c); at != kNpos) {
      return Error(absl::StrFormat("'%c' in a Klipper-style command", c), at);
    }
  }
  parsed->kind = CommandKind::kExtended;
  for (;;) {
    if (!cur.AtEnd() && !IsSpace(cur.Peek())) {
      return Error(absl::StrFormat("unexpected '%c'", cur.Peek()), cur.pos());
    }
    cur.SkipBlank();
    if (cur.AtEnd()) return absl::OkStatus();
    const size_t at = cur.pos();
    absl::string_view token = cur.Take([](char c) { return !IsSpace(c); });
    const size_t eq = token.find('=');
    ExtendedArg arg;
    arg.key = token.substr(0, eq == kNpos ? token.size() : eq);
    if (eq == kNpos || arg.key.empty()) {
      return Error("argument is not KEY=VALUE", at);
    }
    for (char c : arg.key) {
      if (!IsWordChar(c)) return Error("malformed argument name", at);
    }
    arg.value = token.substr(eq + 1);
    if (parsed->FindArg(arg.key) != nullptr) {
      return Error(absl::StrCat("argument ", arg.key, " repeated"), at);
    }
    parsed->args.push_back(arg);
  }
}

}  // namespace

absl::Status ParseLine(absl::string_view line, ParsedLine* parsed) {
  parsed->Clear();
  size_t comment;
  if (absl::Status s = ScreenBytes(line, &comment); !s.ok()) return s;
  absl::string_view code = line.substr(0, comment);
  bool has_paren;
  if (absl::Status s = ScreenParens(code, &has_paren); !s.ok()) return s;

  const size_t star = code.find('*');
  absl::string_view body = code.substr(0, star);
  if (star != kNpos) {
    absl::string_view tail = absl::StripAsciiWhitespace(code.substr(star + 1));
    int sum = 0;
    if (tail.empty() || tail.size() > 3 ||
        tail.find_first_not_of("0123456789") != kNpos ||
        !absl::SimpleAtoi(tail, &sum) || sum > 255) {
      return Error("malformed checksum", star);
    }
    if (has_paren) {
      // Marlin drops ( ) comments before it computes the checksum; the
      // sender includes them. Either way one side disagrees.
      return Error("( ) comment on a checksummed line", star);
    }
    parsed->checksum = sum;
  }

  Cursor cur(body);
  cur.SkipBlank();
  const size_t first = cur.pos();
  if (cur.Peek() == 'N' || cur.Peek() == 'n') {
    const size_t at = cur.pos();
    cur.Advance();
    if (IsDigit(cur.Peek())) {
      absl::string_view digits = cur.Take(IsDigit);
      int64_t number = 0;
      if (digits.size() > 18 || !absl::SimpleAtoi(digits, &number)) {
        return Error("line number out of range", at);
      }
      parsed->line_number = number;
      cur.SkipBlank();
    } else if (IsDigit(cur.PeekPastBlank())) {
      // Marlin's strtol skips the blank, its parser does not.
      return Error("blank between N and its number", at);
    } else {
      cur = Cursor(body);  // a word such as NOZZLE_CLEAN
      cur.SkipBlank();
    }
  }
  if (parsed->checksum.has_value() != parsed->line_number.has_value()) {
    // Marlin refuses either half alone ("No Checksum with line number",
    // "No Line Number with checksum").
    return Error(parsed->checksum ? "checksum without an N line number"
                                  : "N line number without a checksum",
                 parsed->checksum ? star : first);
  }
  if (parsed->checksum) {
    uint8_t sum = 0;
    for (char c : line.substr(first, star - first)) sum ^= uint8_t(c);
    if (sum != *parsed->checksum) {
      return Error(absl::StrFormat("checksum %d does not match the line (%d)",
                                   *parsed->checksum, sum),
                   star);
    }
  }

  if (cur.AtEnd()) return absl::OkStatus();
  const char c = cur.Peek();
  if (c == '@') {
    const size_t start = cur.pos();
    cur.Advance();
    if (cur.Take(IsWordChar).empty()) return Error("empty host command", start);
    parsed->word = cur.From(start);
    if (!cur.AtEnd() && !cur.AtBlank()) {
      return Error(absl::StrFormat("unexpected '%c'", cur.Peek()), cur.pos());
    }
    parsed->kind = CommandKind::kHost;
    parsed->text = absl::StripAsciiWhitespace(cur.Rest());
    return absl::OkStatus();
  }
  if (absl::ascii_isalpha(c) || c == '_') {
    Cursor after = cur;
    after.Advance();
    if (IsDigit(after.PeekPastBlank())) {
      const char upper = absl::ascii_toupper(c);
      if (upper != 'G' && upper != 'M' && upper != 'T') {
        return Error(absl::StrFormat("'%c' is not G, M or T", c), cur.pos());
      }
      return ParseClassic(cur, parsed);
    }
    return ParseExtended(cur, code, has_paren, parsed);
  }
  return Error(absl::StrFormat("unexpected '%c'", c), cur.pos());
}

}  // namespace bowden::gcode
