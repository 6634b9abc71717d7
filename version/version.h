#ifndef BOWDEN_VERSION_VERSION_H_
#define BOWDEN_VERSION_VERSION_H_

// The release number and git revision a binary was built from, for
// `--version` (set through absl::FlagsUsageConfig::version_string).
// All functions are thread-safe: they read constants.

#include <string>

#include "absl/strings/string_view.h"

namespace bowden::version {

// "0.1.0", from //:VERSION.
absl::string_view Number();

// "51c2b8d85c3f" (or "51c2b8d85c3f-dirty" if the tree had uncommitted
// changes) in stamped builds; empty in unstamped ones.
absl::string_view Revision();

// The line `PROGRAM --version` prints, e.g.
//   "bowden-relay 0.1.0 (git 51c2b8d85c3f)"
//   "bowden-relay 0.1.0 (git revision unknown: unstamped build)"
std::string Line(absl::string_view program);

}  // namespace bowden::version

#endif  // BOWDEN_VERSION_VERSION_H_
