#include "guard/canonical_path.h"

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace bowden::guard {
namespace {

absl::Status Refuse(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("request-target refused: ", what));
}

// Quotes at most a few bytes of client input for an error message, escaped
// so that a hostile target cannot forge log lines.
std::string Quote(absl::string_view text) {
  constexpr size_t kMaxQuoted = 48;
  std::string out =
      absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuoted)), "\"");
  if (text.size() > kMaxQuoted) out.append("...");
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// True when text[i] starts a '%' followed by two hex digits.
bool IsEscapeAt(absl::string_view text, size_t i) {
  return text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
         HexValue(text[i + 2]) >= 0;
}

// RFC 3629 UTF-8: shortest form only (so %C0%AF is not a second spelling
// of '/'), no surrogates, nothing above U+10FFFF, and no C1 controls
// (U+0080..U+009F), which are control characters like the C0 ones.
bool IsWellFormedUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    size_t length = 4;
    uint32_t code_point = lead & 0x07;
    uint32_t min_code_point = 0x10000;
    if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code_point = lead & 0x1F;
      min_code_point = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code_point = lead & 0x0F;
      min_code_point = 0x800;
    } else if ((lead & 0xF8) != 0xF0) {
      return false;  // a continuation byte or 0xF8..0xFF
    }
    if (i + length > s.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (next & 0x3F);
    }
    if (code_point < min_code_point || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF) ||
        (code_point >= 0x80 && code_point <= 0x9F)) {
      return false;
    }
    i += length;
  }
  return true;
}

// Splits an absolute-form target into the part after the authority. Only
// http and https are meaningful to an HTTP origin; anything else (including
// authority-form "host:443", which only CONNECT uses) is refused.
absl::StatusOr<absl::string_view> StripSchemeAndAuthority(
    absl::string_view target) {
  const size_t separator = target.find("://");
  const absl::string_view scheme =
      target.substr(0, separator == absl::string_view::npos ? 0 : separator);
  if (!absl::EqualsIgnoreCase(scheme, "http") &&
      !absl::EqualsIgnoreCase(scheme, "https")) {
    return Refuse(
        absl::StrCat("expected origin-form (\"/path\") or absolute-form "
                     "(\"http://host/path\"), got ",
                     Quote(target)));
  }
  absl::string_view rest = target.substr(separator + 3);
  // '\' ends the authority too: WHATWG URL parsers treat it as '/'.
  const size_t authority_end = rest.find_first_of("/\\?");
  if (authority_end == 0 || rest.empty()) {
    return Refuse(
        absl::StrCat("absolute-form without a host: ", Quote(target)));
  }
  return authority_end == absl::string_view::npos ? absl::string_view()
                                                  : rest.substr(authority_end);
}

// Decodes every %XX once; '\' (raw or %5C) becomes '/'. Refuses bad
// escapes, encoded control characters, double encoding and malformed UTF-8.
absl::StatusOr<std::string> DecodePath(absl::string_view raw) {
  std::string decoded;
  decoded.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (!IsEscapeAt(raw, i)) {
        return Refuse(absl::StrCat("invalid percent escape ",
                                   Quote(raw.substr(i, 3)), " in the path"));
      }
      c = static_cast<char>(HexValue(raw[i + 1]) * 16 + HexValue(raw[i + 2]));
      const unsigned char byte = static_cast<unsigned char>(c);
      if (byte < 0x20 || byte == 0x7F) {
        return Refuse(absl::StrCat("encoded control character ",
                                   Quote(raw.substr(i, 3)), " in the path"));
      }
      i += 2;
    }
    decoded.push_back(c == '\\' ? '/' : c);
  }
  for (size_t i = 0; i < decoded.size(); ++i) {
    if (IsEscapeAt(decoded, i)) {
      return Refuse(absl::StrCat(
          "double percent-encoding: the path still holds the escape ",
          Quote(decoded.substr(i, 3)), " after decoding once"));
    }
  }
  if (!IsWellFormedUtf8(decoded)) {
    return Refuse("the decoded path is not well-formed UTF-8");
  }
  return decoded;
}

// Collapses empty segments and resolves "." and ".." (RFC 3986 section
// 5.2.4, except that ".." above the root is an error). `decoded` starts
// with '/'.
absl::StatusOr<std::string> ResolveSegments(absl::string_view decoded) {
  std::vector<absl::string_view> kept;
  bool trailing_slash = false;
  std::vector<absl::string_view> pieces = absl::StrSplit(decoded, '/');
  for (size_t i = 1; i < pieces.size(); ++i) {
    const absl::string_view piece = pieces[i];
    const bool last = i + 1 == pieces.size();
    if (piece == "..") {
      if (kept.empty()) return Refuse("\"..\" climbs above the root");
      kept.pop_back();
    } else if (!piece.empty() && piece != ".") {
      kept.push_back(piece);
    }
    // A path that ends in a separator, "." or ".." names a directory.
    if (last) trailing_slash = piece.empty() || piece == "." || piece == "..";
  }
  std::string path = absl::StrCat("/", absl::StrJoin(kept, "/"));
  if (trailing_slash && !kept.empty()) path.push_back('/');
  return path;
}

// RFC 3986 pchar minus pct-encoded: the characters a path may carry raw.
bool IsPathCharacter(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("-._~!$&'()*+,;=:@").find(c) !=
             absl::string_view::npos;
}

}  // namespace

absl::StatusOr<CanonicalTarget> Canonicalize(absl::string_view request_target) {
  if (request_target.empty()) return Refuse("empty request-target");
  if (request_target.size() > kMaxRequestTargetBytes) {
    return Refuse(absl::StrCat("request-target is ", request_target.size(),
                               " bytes; the limit is ",
                               kMaxRequestTargetBytes));
  }
  if (request_target == "*") {
    return Refuse(
        "asterisk-form \"*\" (server-wide OPTIONS) is not forwarded to "
        "printers");
  }
  for (size_t i = 0; i < request_target.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(request_target[i]);
    if (c <= 0x20 || c == 0x7F) {
      return Refuse(absl::StrCat("space or control character at offset ", i));
    }
    if (c >= 0x80) {
      return Refuse(absl::StrCat("raw non-ASCII byte at offset ", i,
                                 " (clients must percent-encode it)"));
    }
    if (c == '#') {
      return Refuse(absl::StrCat("fragment ('#') at offset ", i,
                                 "; a request-target carries none"));
    }
  }

  absl::string_view rest = request_target;
  if (rest.front() != '/' && rest.front() != '\\') {
    absl::StatusOr<absl::string_view> after = StripSchemeAndAuthority(rest);
    if (!after.ok()) return after.status();
    rest = *after;
  }

  CanonicalTarget out;
  const size_t question = rest.find('?');
  absl::string_view raw_path = rest.substr(0, question);
  if (question != absl::string_view::npos) {
    const absl::string_view query = rest.substr(question + 1);
    for (size_t i = 0; i < query.size(); ++i) {
      if (query[i] == '%' && !IsEscapeAt(query, i)) {
        return Refuse(absl::StrCat("invalid percent escape ",
                                   Quote(query.substr(i, 3)), " in the query"));
      }
    }
    out.query = std::string(query);
  }
  if (raw_path.empty()) raw_path = "/";

  absl::StatusOr<std::string> decoded = DecodePath(raw_path);
  if (!decoded.ok()) return decoded.status();
  absl::StatusOr<std::string> path = ResolveSegments(*decoded);
  if (!path.ok()) return path.status();
  out.path = *std::move(path);
  return out;
}

std::string OriginForm(const CanonicalTarget& target) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(target.path.size() + target.query.size() + 1);
  for (const char c : target.path) {
    if (c == '/' || IsPathCharacter(c)) {
      out.push_back(c);
    } else {
      const unsigned char byte = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0F]);
    }
  }
  if (!target.query.empty()) absl::StrAppend(&out, "?", target.query);
  return out;
}

std::string CanonicalizeHeaderName(absl::string_view name) {
  std::string out = absl::AsciiStrToLower(name);
  for (char& c : out) {
    if (c == '_') c = '-';
  }
  return out;
}

}  // namespace bowden::guard
