#include "terminal/terminal_text.h"

#include "absl/strings/str_format.h"

namespace bowden::terminal {
namespace {

// Splits off the character at the start of `text`: its length (a whole
// UTF-8 sequence, or one byte if it is not one), and whether it is
// dangerous, with its code point (for a raw byte, the byte).
size_t NextCharacter(absl::string_view text, bool* dangerous, uint32_t* code) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  auto continuation = [&](size_t i) {
    return i < text.size() && (byte(i) & 0xc0) == 0x80;
  };
  unsigned char c = byte(0);
  size_t n = 1;
  uint32_t cp = c;
  if (c >= 0xc2 && c <= 0xdf && continuation(1)) {
    n = 2;
    cp = ((c & 0x1fu) << 6) | (byte(1) & 0x3fu);
  } else if (c >= 0xe0 && c <= 0xef && continuation(1) && continuation(2)) {
    n = 3;
    cp = ((c & 0x0fu) << 12) | ((byte(1) & 0x3fu) << 6) | (byte(2) & 0x3fu);
  } else if (c >= 0xf0 && c <= 0xf4 && continuation(1) && continuation(2) &&
             continuation(3)) {
    n = 4;
    cp = 0x10000;  // no control characters up there
  }
  // C0, DEL, C1 (as UTF-8, or a raw byte a terminal in 8-bit mode obeys),
  // line separators and bidi controls.
  *dangerous = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
               (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
  *code = cp;
  return n;
}

}  // namespace

std::string EscapeForTerminal(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    bool dangerous = false;
    uint32_t code = 0;
    size_t n = NextCharacter(text, &dangerous, &code);
    if (!dangerous) {
      out.append(text.data(), n);
      text.remove_prefix(n);
      continue;
    }
    if (code > 0xff) {
      absl::StrAppendFormat(&out, "\\u{%04x}", code);
    } else {
      for (size_t i = 0; i < n; ++i) {
        absl::StrAppendFormat(&out, "\\x%02x",
                              static_cast<unsigned char>(text[i]));
      }
    }
    text.remove_prefix(n);
  }
  return out;
}

std::string EscapeJsonForTerminal(absl::string_view json) {
  std::string out;
  out.reserve(json.size());
  while (!json.empty()) {
    bool dangerous = false;
    uint32_t code = 0;
    size_t n = NextCharacter(json, &dangerous, &code);
    if (!dangerous) {
      out.append(json.data(), n);
      json.remove_prefix(n);
      continue;
    }
    absl::StrAppendFormat(&out, "\\u%04x", code);
    json.remove_prefix(n);
  }
  return out;
}

std::string QuoteJson(absl::string_view text) {
  std::string out = "\"";
  out.reserve(text.size() + 2);
  while (!text.empty()) {
    bool dangerous = false;
    uint32_t code = 0;
    size_t n = NextCharacter(text, &dangerous, &code);
    bool lone_byte = n == 1 && code >= 0x80;
    if (dangerous || lone_byte) {
      absl::StrAppendFormat(&out, "\\u%04x", code);
    } else if (text[0] == '"' || text[0] == '\\') {
      out.push_back('\\');
      out.push_back(text[0]);
    } else {
      out.append(text.data(), n);
    }
    text.remove_prefix(n);
  }
  out.push_back('"');
  return out;
}

}  // namespace bowden::terminal
