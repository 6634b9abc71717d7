// Fuzz target: reading OctoPrint's answers to the agent's login probe
// (agent/passive_login.h). The first line is a Set-Cookie value, the second
// an HTTP status, the rest the answer's body. Nothing may crash; a CSRF
// cookie the probe takes back is named csrf_token[_...] and holds nothing
// that could break the request head it goes into; a passive login answer is
// a user only for a 200.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "agent/passive_login.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& input) {
  std::cerr << what << ": \"" << absl::CHexEscape(input) << "\"\n";
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using bowden::agent::CsrfCookieFromSetCookie;
  using bowden::agent::PassiveLoginRequest;
  using bowden::agent::ReadPassiveLoginAnswer;
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t first = input.find('\n');
  std::string set_cookie = input.substr(0, first);
  std::string rest = first == std::string::npos ? "" : input.substr(first + 1);
  size_t second = rest.find('\n');
  int status = 0;
  if (!absl::SimpleAtoi(rest.substr(0, second), &status)) status = 200;
  std::string body = second == std::string::npos ? "" : rest.substr(second + 1);

  auto cookie = CsrfCookieFromSetCookie(set_cookie);
  if (cookie.has_value()) {
    if (!absl::StartsWith(cookie->first, "csrf_token")) {
      Fail("took a cookie that is not the CSRF cookie", input);
    }
    std::string request = PassiveLoginRequest("127.0.0.1:5000", cookie);
    // The head has exactly the 8 lines the probe wrote, no stray CR or LF.
    std::string head = request.substr(0, request.find("\r\n\r\n"));
    if (std::count(head.begin(), head.end(), '\n') != 7 ||
        std::count(head.begin(), head.end(), '\r') != 7 ||
        absl::StrContains(head, "\n\r") || absl::StrContains(head, "\r\r")) {
      Fail("the cookie broke the request head", input);
    }
  }
  auto user = ReadPassiveLoginAnswer(status, body);
  if (user.ok() && !user->empty() && status != 200) {
    Fail("a user from an answer other than 200", input);
  }
  return 0;
}
