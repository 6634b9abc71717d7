#ifndef BOWDEN_CLI_COMPLETION_H_
#define BOWDEN_CLI_COMPLETION_H_

#include <functional>
#include <string>
#include <vector>

namespace bowden::cli {

// What completion needs to know of one command in main.cc's table.
struct CompletionEntry {
  std::vector<std::string> words;  // e.g. {"ca", "issue"}
  std::vector<std::string>
      flags;  // dashed names without "--", e.g. "no-browser"
};

// A bash completion script for `bowden`, generated from the command table so
// it cannot drift from it: command words after the words typed so far, each
// command's flags (and `global_flags`) after "-", files after --cert, --key,
// --ca and --config, directories after --dir, nothing after other flags that
// take a value (`takes_value` says which; it gets the dashed name). Pure;
// thread-safe if `takes_value` is.
std::string BashCompletion(
    const std::vector<CompletionEntry>& commands,
    const std::vector<std::string>& global_flags,
    const std::function<bool(const std::string&)>& takes_value);

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_COMPLETION_H_
