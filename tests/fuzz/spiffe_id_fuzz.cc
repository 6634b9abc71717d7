// Fuzz target: SPIFFE id parsing. Every accepted id must print back to the
// exact input, so no two spellings name one identity.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"

#include "identity/spiffe_id.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto id = bowden::identity::ParseSpiffeId(input);
  if (id.ok() && id->ToString() != input) {
    std::cerr << "round trip broken for \"" << absl::CHexEscape(input) << "\"\n";
    std::abort();
  }
  bowden::identity::IsValidName(input);
  return 0;
}
