// Fuzz target: the first reading of bowden's command line
// (cli/flag_scan.h). The input is argv after the program name, split at
// NUL bytes. Each is scanned on its own and as main() does it (repeated
// --dns/--ip taken out, dashed names underscored first). Nothing may crash;
// every word must be one of the arguments; a second scan of the same
// arguments must give the same answer (the flags it parses into do not
// change what it says).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/flag_scan.h"
#include "config/repeated_flag.h"

// One flag of each kind bowden defines (cli/main.cc).
ABSL_FLAG(std::string, relay, "", "relay HOST:PORT");
ABSL_FLAG(bool, no_browser, false, "open: do not start a browser");
ABSL_FLAG(int64_t, limit, 50, "audit: rows");
ABSL_FLAG(absl::Duration, since, absl::ZeroDuration(), "audit: window");

namespace {

using bowden::cli::ScanCommandLine;
using bowden::cli::ScannedCommandLine;

[[noreturn]] void Fail(const char* what, const std::string& input) {
  std::cerr << what << ": \"" << absl::CHexEscape(input) << "\"\n";
  std::abort();
}

void Check(const std::vector<char*>& args, const std::string& input) {
  ScannedCommandLine first = ScanCommandLine(args);
  ScannedCommandLine again = ScanCommandLine(args);
  if (first.words != again.words || first.help != again.help ||
      first.error != again.error) {
    Fail("a second scan disagrees", input);
  }
  if (first.words.size() + 1 > args.size())
    Fail("more words than arguments", input);
  for (const std::string& word : first.words) {
    bool found = false;
    for (size_t i = 1; i < args.size() && !found; ++i) found = word == args[i];
    if (!found) Fail("a word that is no argument", input);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> storage = {"bowden"};
  if (!input.empty()) {
    for (absl::string_view arg : absl::StrSplit(input, '\0'))
      storage.emplace_back(arg);
  }
  std::vector<char*> args;
  for (std::string& arg : storage) args.push_back(arg.data());
  Check(args, input);
  // As main() runs it; the conversion writes into `storage`.
  bowden::config::TakeRepeatedFlag(&args, "dns");
  bowden::config::TakeRepeatedFlag(&args, "ip");
  bowden::config::DashedFlagNamesToUnderscores(&args);
  Check(args, input);
  return 0;
}
