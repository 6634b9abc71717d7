#include "guard/forwarding.h"

#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bowden::guard {
namespace {

std::string Lower(absl::string_view name) { return absl::AsciiStrToLower(name); }

}  // namespace

absl::Status CheckFraming(const RequestParser& request, absl::string_view raw_header) {
  auto bad = [](absl::string_view why) {
    return absl::InvalidArgumentError(std::string(why));
  };
  if (request.version != 10 && request.version != 11) {
    return bad("only HTTP/1.0 and HTTP/1.1 are accepted");
  }
  // An obs-fold continuation line starts with a space or tab.
  if (absl::StrContains(raw_header, "\n ") || absl::StrContains(raw_header, "\n\t")) {
    return bad("obsolete line folding in a header is not accepted");
  }
  if (raw_header.find('\0') != absl::string_view::npos) {
    return bad("a NUL byte in the header is not accepted");
  }
  int content_lengths = 0, transfer_encodings = 0, hosts = 0;
  for (const auto& [name, value] : request.fields) {
    for (char c : name + value) {
      if (c == '\0' || c == '\r' || c == '\n') return bad("a control character in a header");
    }
    std::string lower = Lower(name);
    if (lower == "content-length") ++content_lengths;
    if (lower == "host") ++hosts;
    if (lower == "transfer-encoding") {
      ++transfer_encodings;
      if (Lower(absl::StripAsciiWhitespace(value)) != "chunked") {
        return bad("Transfer-Encoding must be exactly \"chunked\"");
      }
    }
  }
  if (content_lengths > 1) return bad("more than one Content-Length");
  if (transfer_encodings > 1) return bad("more than one Transfer-Encoding");
  if (content_lengths > 0 && transfer_encodings > 0) {
    return bad("both Content-Length and Transfer-Encoding");
  }
  if (request.version == 11 && hosts != 1) return bad("HTTP/1.1 needs exactly one Host");
  return absl::OkStatus();
}

bool IsProxyOwnedHeader(absl::string_view name) {
  std::string canonical = CanonicalizeHeaderName(name);
  if (absl::StartsWith(canonical, "x-forwarded-") || absl::StartsWith(canonical, "proxy-")) {
    return true;
  }
  static constexpr absl::string_view kOwned[] = {
      "forwarded",       "x-real-ip",       "x-script-name",    "x-scheme",
      "remote-user",     "remote-groups",   "x-remote-user",    "x-remote-groups",
      "x-client-ip",     "true-client-ip",  "cf-connecting-ip", "x-original-url",
      "x-rewrite-url",   "x-http-method-override", "x-method-override",
      "x-original-forwarded-for", "client-ip", "x-cluster-client-ip",
  };
  for (absl::string_view owned : kOwned) {
    if (canonical == owned) return true;
  }
  return false;
}

std::string ForwardedForAddress(absl::string_view user) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(user.data()), user.size(), digest);
  // 100.64.0.0/10: the top two bits of the second octet are 01.
  int second = 64 | (digest[0] & 0x3f);
  int third = digest[1];
  int fourth = 1 + digest[2] % 254;  // neither .0 nor .255
  return absl::StrFormat("100.%d.%d.%d", second, third, fourth);
}

absl::StatusOr<std::string> RemoteUserHeaderName(absl::string_view setting) {
  std::string name;
  bool upper = true;
  for (char c : setting) {
    if (c == '_' || c == '-') {
      name += '-';
      upper = true;
    } else if (absl::ascii_isalnum(static_cast<unsigned char>(c))) {
      name += upper ? absl::ascii_toupper(c) : absl::ascii_tolower(c);
      upper = false;
    } else {
      name.clear();
      break;
    }
  }
  if (name.empty() || name.front() == '-' || name.back() == '-') {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", setting, "' is not a header name: use OctoPrint's accessControl.remoteUserHeader, "
        "e.g. REMOTE_USER"));
  }
  return name;
}

std::string BuildForwardedHead(const RequestParser& request, const CanonicalTarget& target,
                               const ProxyIdentity& proxy, bool drop_expect,
                               std::optional<size_t> body_length, bool plain_response) {
  const std::string sso_header = Lower(proxy.remote_user_header);
  // The canonical target, so the backend routes on exactly what was judged.
  std::string head = absl::StrCat(request.method, " ", OriginForm(target));
  absl::StrAppend(&head, request.version == 10 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
  std::string host;
  for (const auto& [name, value] : request.fields) {
    if (name.find('_') != std::string::npos || IsProxyOwnedHeader(name)) continue;
    std::string lower = Lower(name);
    if (!sso_header.empty() && lower == sso_header) continue;
    if (drop_expect && lower == "expect") continue;
    if (plain_response &&
        (lower == "accept-encoding" || lower == "te" || lower == "range" ||
         lower == "if-range")) {
      continue;
    }
    if (body_length.has_value() &&
        (lower == "content-length" || lower == "transfer-encoding")) {
      continue;
    }
    if (lower == "host") host = value;
    absl::StrAppend(&head, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&head, "X-Forwarded-For: ", proxy.forwarded_for, "\r\n",
                  "X-Forwarded-Proto: http\r\n");
  if (!host.empty()) absl::StrAppend(&head, "X-Forwarded-Host: ", host, "\r\n");
  if (body_length.has_value()) absl::StrAppend(&head, "Content-Length: ", *body_length, "\r\n");
  if (plain_response) absl::StrAppend(&head, "Accept-Encoding: identity\r\n");
  if (!proxy.remote_user_header.empty() && !proxy.remote_user.empty()) {
    absl::StrAppend(&head, proxy.remote_user_header, ": ", proxy.remote_user, "\r\n");
  }
  absl::StrAppend(&head, "\r\n");
  return head;
}

std::string JsonEscape(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  return out;
}

}  // namespace bowden::guard
