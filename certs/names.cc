#include "certs/names.h"

#include <arpa/inet.h>

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace bowden::certs {
namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string Quote(absl::string_view s) {
  return absl::StrCat("\"", absl::CEscape(s), "\"");
}

absl::Status ValidateTrustDomain(absl::string_view domain) {
  bool ok = !domain.empty() && domain.size() <= kMaxTrustDomainLength &&
            IsLowerAlnum(domain.front()) && IsLowerAlnum(domain.back()) &&
            !absl::StrContains(domain, "..");
  for (char c : domain) ok = ok && (IsLowerAlnum(c) || c == '.' || c == '-');
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid trust domain ", Quote(domain), ": use up to ",
      kMaxTrustDomainLength,
      " lower-case letters, digits, '.' and '-', e.g. farm.example"));
}

absl::Status ValidateName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxNameLength &&
            IsLowerAlnum(name.front());
  for (char c : name) {
    ok = ok && (IsLowerAlnum(c) || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid name ", Quote(name), ": use 1 to ", kMaxNameLength,
        " of a-z, 0-9, '.', '_' and '-', starting with a letter or digit ",
        "(e.g. mk4-01)"));
  }
  if (name == "ca") {
    return absl::InvalidArgumentError(
        "the name \"ca\" is reserved for the CA's own files: pick another "
        "name");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseIpAddress(absl::string_view ip) {
  const std::string text(ip);  // inet_pton needs a NUL-terminated string.
  unsigned char buf[16];
  if (text.find('\0') == std::string::npos) {
    if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
      return std::string(reinterpret_cast<char*>(buf), 4);
    }
    if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
      return std::string(reinterpret_cast<char*>(buf), 16);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid IP address ", Quote(ip),
      " for a SAN: use an IPv4 or IPv6 literal such as 127.0.0.1 or ::1"));
}

absl::Status ValidateDnsName(absl::string_view dns) {
  if (ParseIpAddress(dns).ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        Quote(dns), " is an IP address, not a DNS name: pass it as an IP SAN"));
  }
  bool ok = !dns.empty() && dns.size() <= 253;
  for (absl::string_view label : absl::StrSplit(dns, '.')) {
    ok = ok && !label.empty() && label.size() <= 63 && label.front() != '-' &&
         label.back() != '-';
    for (char c : label) ok = ok && (absl::ascii_isalnum(c) || c == '-');
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid DNS name ", Quote(dns), " for a SAN: use dot-separated labels ",
      "of letters, digits and '-', e.g. relay.farm.example"));
}

}  // namespace bowden::certs
