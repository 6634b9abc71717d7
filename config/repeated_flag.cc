#include "config/repeated_flag.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace bowden::config {

std::vector<std::string> TakeRepeatedFlag(std::vector<char*>* args,
                                          absl::string_view name) {
  const std::string bare = absl::StrCat("--", name);
  const std::string with_value = absl::StrCat(bare, "=");
  std::vector<std::string> values;
  std::vector<char*> kept;
  for (size_t i = 0; i < args->size(); ++i) {
    absl::string_view arg = (*args)[i];
    if (arg == "--") {  // everything after "--" is positional
      kept.insert(kept.end(), args->begin() + i, args->end());
      break;
    }
    if (absl::StartsWith(arg, with_value)) {
      values.emplace_back(arg.substr(with_value.size()));
    } else if (arg == bare && i + 1 < args->size()) {
      values.emplace_back((*args)[++i]);
    } else {
      kept.push_back((*args)[i]);
    }
  }
  *args = std::move(kept);
  return values;
}

void DashedFlagNamesToUnderscores(std::vector<char*>* args) {
  for (char* arg : *args) {
    if (arg[0] != '-' || arg[1] != '-') continue;
    if (arg[2] == '\0') break;  // "--": the rest is positional
    for (char* c = arg + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

}  // namespace bowden::config
