// Fuzz target: the guard's Host and Origin checks. The input is a Host
// value and an Origin value separated by a newline (no newline: Host only).
// Nothing may crash; an accepted Host is accepted in any case and passes
// with its own origin; a refused Host refuses the request whatever the
// Origin says; a request with an Origin passes only if it is the Host's own.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "guard/origin_check.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& host,
                       const std::string& origin) {
  std::cerr << what << ": Host \"" << absl::CHexEscape(host) << "\" Origin \""
            << absl::CHexEscape(origin) << "\"\n";
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using bowden::guard::CheckHostAndOrigin;
  using bowden::guard::IsLoopbackHost;
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string host = input.substr(0, newline);
  std::string origin =
      newline == std::string::npos ? "" : input.substr(newline + 1);

  const bool loopback = IsLoopbackHost(host);
  if (loopback != IsLoopbackHost(absl::AsciiStrToUpper(host))) {
    Fail("the case of a Host changed the verdict", host, origin);
  }
  auto alone = CheckHostAndOrigin({{"Host", host}});
  if (alone.has_value() == loopback &&
      absl::StripAsciiWhitespace(host) == host) {
    Fail("Host verdicts disagree", host, origin);
  }
  if (loopback &&
      CheckHostAndOrigin({{"Host", host}, {"Origin", "http://" + host}})) {
    Fail("a loopback Host refused its own origin", host, origin);
  }
  if (newline == std::string::npos) return 0;
  auto both = CheckHostAndOrigin({{"Host", host}, {"Origin", origin}});
  if (alone.has_value() && !both.has_value()) {
    Fail("an Origin made a refused Host pass", host, origin);
  }
  if (!both.has_value() && !absl::StartsWithIgnoreCase(
                               absl::StripAsciiWhitespace(origin), "http://")) {
    Fail("an origin that is not http:// passed", host, origin);
  }
  return 0;
}
