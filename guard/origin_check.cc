#include "guard/origin_check.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace bowden::guard {
namespace {

constexpr char kOpenHint[] =
    "open the printer through the http://127.0.0.1:PORT address `bowden open` "
    "printed";

// host [":" port], split; false unless the port is 1 to 5 digits when a ':'
// ends the name. IPv6 literals keep their brackets.
struct Authority {
  std::string name;  // lower case
  int port = -1;     // -1 when absent
};

std::optional<Authority> SplitAuthority(absl::string_view text) {
  Authority out;
  size_t name_end;
  if (absl::StartsWith(text, "[")) {
    name_end = text.find(']');
    if (name_end == absl::string_view::npos) return std::nullopt;
    ++name_end;
  } else {
    name_end = text.find(':');
    if (name_end == absl::string_view::npos) name_end = text.size();
  }
  out.name = absl::AsciiStrToLower(text.substr(0, name_end));
  absl::string_view rest = text.substr(name_end);
  if (!rest.empty()) {
    if (rest[0] != ':') return std::nullopt;
    rest.remove_prefix(1);
    if (rest.empty() || rest.size() > 5) return std::nullopt;
    for (char c : rest) {
      if (!absl::ascii_isdigit(static_cast<unsigned char>(c)))
        return std::nullopt;
    }
    out.port = 0;
    for (char c : rest) out.port = out.port * 10 + (c - '0');
  }
  if (out.name.empty()) return std::nullopt;
  return out;
}

bool IsLoopbackName(const std::string& name) {
  if (name == "localhost") return true;
  if (absl::StartsWith(name, "[") && absl::EndsWith(name, "]")) {
    std::string literal = name.substr(1, name.size() - 2);
    in6_addr v6;
    return inet_pton(AF_INET6, literal.c_str(), &v6) == 1 &&
           IN6_IS_ADDR_LOOPBACK(&v6);
  }
  // inet_pton takes only four decimal octets without leading zeros, the one
  // spelling browsers send; 0x7f.1 or 2130706433 are refused, not resolved.
  in_addr v4;
  return inet_pton(AF_INET, name.c_str(), &v4) == 1 &&
         (ntohl(v4.s_addr) >> 24) == 127;
}

// `value` quoted for a message: at most 64 bytes, non-printables escaped.
std::string Shown(absl::string_view value) {
  const bool cut = value.size() > 64;
  return absl::StrCat("'", absl::CHexEscape(value.substr(0, 64)),
                      cut ? "...'" : "'");
}

}  // namespace

bool IsLoopbackHost(absl::string_view host) {
  std::optional<Authority> authority = SplitAuthority(host);
  return authority.has_value() && IsLoopbackName(authority->name);
}

std::optional<OriginRefusal> CheckHostAndOrigin(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  const std::string* host = nullptr;
  const std::string* origin = nullptr;
  for (const auto& [name, value] : fields) {
    if (absl::EqualsIgnoreCase(name, "host")) {
      // CheckFraming already refuses a second Host.
      host = &value;
    } else if (absl::EqualsIgnoreCase(name, "origin")) {
      if (origin != nullptr) {
        return OriginRefusal{
            "foreign-origin",
            "the request carries more than one Origin; browsers send one"};
      }
      origin = &value;
    }
  }
  std::optional<Authority> own;
  if (host != nullptr) {
    absl::string_view value = absl::StripAsciiWhitespace(*host);
    own = SplitAuthority(value);
    if (!own.has_value() || !IsLoopbackName(own->name)) {
      return OriginRefusal{
          "foreign-host",
          absl::StrCat(
              "the request is addressed to ", Shown(value),
              ", not to this computer's loopback address, as a web page does "
              "through DNS rebinding: ",
              kOpenHint)};
    }
  }
  if (origin == nullptr) return std::nullopt;
  absl::string_view value = absl::StripAsciiWhitespace(*origin);
  bool same = false;
  if (absl::StartsWithIgnoreCase(value, "http://")) {
    std::optional<Authority> from = SplitAuthority(value.substr(7));
    if (from.has_value()) {
      if (own.has_value()) {
        auto port = [](const Authority& a) { return a.port < 0 ? 80 : a.port; };
        same = from->name == own->name && port(*from) == port(*own);
      } else {
        same = IsLoopbackName(from->name);
      }
    }
  }
  if (same) return std::nullopt;
  return OriginRefusal{
      "foreign-origin",
      absl::StrCat(
          "a page from ", Shown(value),
          " may not send requests to the printer; only the page the tunnel "
          "serves may: ",
          kOpenHint)};
}

}  // namespace bowden::guard
