// Fuzz target: HOST:PORT parsing. An accepted value must survive a round trip.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"

#include "tunnel/net.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto parsed = bowden::tunnel::ParseHostPort(input);
  if (!parsed.ok()) return 0;
  auto again = bowden::tunnel::ParseHostPort(parsed->ToString());
  if (!again.ok() || again->host != parsed->host || again->port != parsed->port) {
    {
    std::cerr << "round trip broken for \"" << absl::CHexEscape(input) << "\"\n";
    std::abort();
  }
  }
  return 0;
}
