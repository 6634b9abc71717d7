#include "version/version.h"

#include "absl/strings/str_cat.h"

namespace bowden::version {
namespace internal {
// Defined in the generated build_info.cc (see BUILD.bazel).
extern const char kNumber[];
extern const char kRevision[];
}  // namespace internal

absl::string_view Number() { return internal::kNumber; }

absl::string_view Revision() { return internal::kRevision; }

std::string Line(absl::string_view program) {
  if (Revision().empty()) {
    return absl::StrCat(program, " ", Number(),
                        " (git revision unknown: unstamped build)\n");
  }
  return absl::StrCat(program, " ", Number(), " (git ", Revision(), ")\n");
}

}  // namespace bowden::version
