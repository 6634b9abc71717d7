#include "audit/redact.h"

#include <initializer_list>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bowden::audit {
namespace {

// Lowercase with '_' as '-': "X_API_KEY" and "x-api-key" are one header to
// OctoPrint, so they must be one header here too.
std::string NormalizeHeaderName(absl::string_view name) {
  std::string out = absl::AsciiStrToLower(absl::StripAsciiWhitespace(name));
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  return out;
}

bool IsOneOf(absl::string_view name,
             std::initializer_list<absl::string_view> set) {
  std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view candidate : set) {
    if (lower == candidate) return true;
  }
  return false;
}

bool IsSecretParam(absl::string_view name) {
  return IsOneOf(name, {"apikey", "api_key", "pass", "password"});
}

bool IsSecretJsonKey(absl::string_view name) {
  return IsOneOf(name, {"password", "pass", "current", "apikey", "api_key",
                        "key", "session", "token"});
}

bool IsHeaderNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::StrContains("!#$%&'*+-.^_`|~", c);
}

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Length of the valid UTF-8 sequence at text[i], or 0 if none starts there.
int Utf8SequenceLength(absl::string_view text, size_t i) {
  auto byte = [&](size_t k) -> int {
    return k < text.size() ? static_cast<unsigned char>(text[k]) : -1;
  };
  auto cont = [&](size_t k, int lo = 0x80, int hi = 0xBF) {
    int b = byte(k);
    return b >= lo && b <= hi;
  };
  int b = byte(i);
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    int lo = b == 0xE0 ? 0xA0 : 0x80;  // no overlong forms
    int hi = b == 0xED ? 0x9F : 0xBF;  // no UTF-16 surrogates
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    int lo = b == 0xF0 ? 0x90 : 0x80;  // no overlong forms
    int hi = b == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

}  // namespace

bool IsSecretHeader(absl::string_view name) {
  static const auto* const kSecret = new absl::flat_hash_set<std::string>{
      "x-api-key", "authorization", "proxy-authorization",
      "cookie",    "set-cookie",    "x-csrf-token"};
  return kSecret->contains(NormalizeHeaderName(name));
}

std::string RedactHeaderValue(absl::string_view name, absl::string_view value) {
  if (!IsSecretHeader(name)) return std::string(value);
  std::string header = NormalizeHeaderName(name);
  if (header == "cookie" || header == "set-cookie") {
    // Cookie names (session_P5000, remember_token_P443_R|p1) say which
    // login was used; their values are the credentials.
    std::vector<std::string> parts;
    bool first = true;
    for (absl::string_view part : absl::StrSplit(value, ';')) {
      part = absl::StripLeadingAsciiWhitespace(part);
      if (header == "set-cookie" && !first) {
        parts.emplace_back(part);  // Path=/; HttpOnly; ... are not secret
      } else if (size_t eq = part.find('='); eq != absl::string_view::npos) {
        parts.push_back(absl::StrCat(part.substr(0, eq + 1), kRedacted));
      } else if (!part.empty()) {
        parts.emplace_back(kRedacted);
      }
      first = false;
    }
    return absl::StrJoin(parts, "; ");
  }
  if (header == "authorization" || header == "proxy-authorization") {
    absl::string_view trimmed = absl::StripAsciiWhitespace(value);
    size_t space = trimmed.find(' ');
    if (space != absl::string_view::npos) {
      return absl::StrCat(trimmed.substr(0, space), " ", kRedacted);
    }
  }
  return std::string(kRedacted);
}

std::string RedactQuery(absl::string_view text) {
  constexpr absl::string_view kNameEnd = "&=?;# \t\r\n\"'<>,{}";
  constexpr absl::string_view kValueEnd = "&;# \t\r\n\"'<>,}";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool at_boundary = i == 0 || absl::StrContains("?&; \t\r\n", text[i - 1]);
    size_t name_end = i;
    while (at_boundary && name_end < text.size() &&
           !absl::StrContains(kNameEnd, text[name_end])) {
      ++name_end;
    }
    if (!at_boundary || name_end == i || name_end == text.size() ||
        text[name_end] != '=' || !IsSecretParam(text.substr(i, name_end - i))) {
      out.push_back(text[i++]);
      continue;
    }
    absl::StrAppend(&out, text.substr(i, name_end + 1 - i), kRedacted);
    i = name_end + 1;
    while (i < text.size() && !absl::StrContains(kValueEnd, text[i])) ++i;
  }
  return out;
}

std::string RedactJson(absl::string_view text) {
  constexpr size_t kMaxKey = 64;  // longer keys are never secret names
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '"') {
      out.push_back(text[i++]);
      continue;
    }
    // A candidate key "..." without escapes, then ':' and a string value.
    size_t key_end = i + 1;
    while (key_end < text.size() && key_end - i <= kMaxKey &&
           text[key_end] != '"' && text[key_end] != '\\') {
      ++key_end;
    }
    size_t k = key_end + 1;
    while (k < text.size() && IsJsonSpace(text[k])) ++k;
    bool is_member = key_end < text.size() && text[key_end] == '"' &&
                     k < text.size() && text[k] == ':';
    if (is_member) {
      for (++k; k < text.size() && IsJsonSpace(text[k]);) ++k;
    }
    if (!is_member || k >= text.size() || text[k] != '"' ||
        !IsSecretJsonKey(text.substr(i + 1, key_end - i - 1))) {
      out.push_back(text[i++]);
      continue;
    }
    size_t value_end = k + 1;
    while (value_end < text.size() && text[value_end] != '"') {
      value_end += text[value_end] == '\\' ? 2 : 1;
    }
    absl::StrAppend(&out, text.substr(i, k + 1 - i), kRedacted);
    if (value_end < text.size()) {
      out.push_back('"');
      i = value_end + 1;
    } else {
      i = text.size();  // unterminated: everything after the quote is secret
    }
  }
  return out;
}

std::string RedactSecrets(absl::string_view text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    size_t colon = 0;
    while (colon < line.size() && IsHeaderNameChar(line[colon])) ++colon;
    if (colon == 0 || colon >= line.size() || line[colon] != ':' ||
        !IsSecretHeader(line.substr(0, colon))) {
      lines.emplace_back(line);
      continue;
    }
    absl::string_view value = line.substr(colon + 1);
    bool cr = absl::ConsumeSuffix(&value, "\r");
    absl::string_view stripped = absl::StripLeadingAsciiWhitespace(value);
    lines.push_back(absl::StrCat(
        line.substr(0, colon + 1),
        value.substr(0, value.size() - stripped.size()),
        RedactHeaderValue(line.substr(0, colon), stripped), cr ? "\r" : ""));
  }
  return RedactJson(RedactQuery(absl::StrJoin(lines, "\n")));
}

std::string EscapeInvalidUtf8(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (int length = Utf8SequenceLength(text, i); length > 0) {
      out.append(text.data() + i, length);
      i += length;
    } else {
      absl::StrAppend(
          &out, "\\x",
          absl::Hex(static_cast<unsigned char>(text[i]), absl::kZeroPad2));
      ++i;
    }
  }
  return out;
}

}  // namespace bowden::audit
