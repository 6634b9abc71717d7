#include "agent/passive_login.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace bowden::agent {
namespace {

constexpr absl::string_view kCsrfCookie = "csrf_token";
constexpr absl::string_view kPassiveBody = "{\"passive\":true}";

// A cookie value may hold no separators, whitespace or controls (RFC 6265
// cookie-octet): nothing OctoPrint sends needs them, and the value goes
// into a request head.
bool IsCookieOctets(absl::string_view value) {
  for (unsigned char c : value) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\')
      return false;
  }
  return true;
}

bool IsTokenChars(absl::string_view name) {
  for (unsigned char c : name) {
    if (!absl::ascii_isalnum(c) &&
        absl::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) ==
            absl::string_view::npos) {
      return false;
    }
  }
  return !name.empty();
}

}  // namespace

std::string CsrfPageRequest(absl::string_view host) {
  return absl::StrCat("GET /login/ HTTP/1.1\r\nHost: ", host,
                      "\r\nAccept: text/html\r\nConnection: close\r\n\r\n");
}

std::optional<Cookie> CsrfCookieFromSetCookie(absl::string_view set_cookie) {
  absl::string_view pair = set_cookie.substr(0, set_cookie.find(';'));
  size_t equals = pair.find('=');
  if (equals == absl::string_view::npos) return std::nullopt;
  absl::string_view name = absl::StripAsciiWhitespace(pair.substr(0, equals));
  absl::string_view value = absl::StripAsciiWhitespace(pair.substr(equals + 1));
  if (absl::StartsWith(value, "\"") && absl::EndsWith(value, "\"") &&
      value.size() >= 2) {
    value = value.substr(1, value.size() - 2);
  }
  // OctoPrint appends _P<port> (and _R<root>) to the name it reads back.
  if (!(name == kCsrfCookie ||
        absl::StartsWith(name, absl::StrCat(kCsrfCookie, "_")))) {
    return std::nullopt;
  }
  if (!IsTokenChars(name) || value.empty() || !IsCookieOctets(value))
    return std::nullopt;
  return Cookie{std::string(name), std::string(value)};
}

std::string PassiveLoginRequest(absl::string_view host,
                                const std::optional<Cookie>& csrf) {
  std::string request = absl::StrCat("POST /api/login HTTP/1.1\r\nHost: ", host,
                                     "\r\nContent-Type: application/json\r\n"
                                     "X-Requested-With: XMLHttpRequest\r\n");
  if (csrf.has_value()) {
    absl::StrAppend(&request, "Cookie: ", csrf->first, "=", csrf->second,
                    "\r\nX-CSRF-Token: ", csrf->second, "\r\n");
  }
  absl::StrAppend(&request, "Content-Length: ", kPassiveBody.size(),
                  "\r\nConnection: close\r\n\r\n", kPassiveBody);
  return request;
}

absl::StatusOr<std::string> ReadPassiveLoginAnswer(int status,
                                                   absl::string_view body) {
  if (status == 204) return std::string();  // OctoPrint < 1.4: nobody
  if (status == 400 || status == 401 || status == 403) {
    return absl::FailedPreconditionError(
        absl::StrCat("OctoPrint refused the passive login with HTTP ", status,
                     status == 400 ? " (its CSRF check?)" : ""));
  }
  google::protobuf::Struct json;
  if (status != 200 ||
      !google::protobuf::util::JsonStringToMessage(std::string(body), &json)
           .ok()) {
    return absl::UnavailableError(
        absl::StrCat("the answer to POST /api/login (HTTP ", status,
                     ") is not OctoPrint's passive login"));
  }
  auto name = json.fields().find("name");
  if (name == json.fields().end() || !name->second.has_string_value())
    return std::string();
  return name->second.string_value();
}

}  // namespace bowden::agent
