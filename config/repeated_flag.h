#ifndef BOWDEN_CONFIG_REPEATED_FLAG_H_
#define BOWDEN_CONFIG_REPEATED_FLAG_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace bowden::config {

// Removes every `--NAME VALUE` and `--NAME=VALUE` from `args` and returns the
// values in order. Abseil flags keep only the last value of a repeated flag;
// Bowden's --allow and --target are meant to be repeated.
std::vector<std::string> TakeRepeatedFlag(std::vector<char*>* args,
                                          absl::string_view name);

// Rewrites flag names in place from the documented dashed form to Abseil's
// underscores: "--state-dir=x" becomes "--state_dir=x". Values and
// positional arguments are untouched; so is everything after "--".
void DashedFlagNamesToUnderscores(std::vector<char*>* args);

}  // namespace bowden::config

#endif  // BOWDEN_CONFIG_REPEATED_FLAG_H_
