#ifndef BOWDEN_CLI_FLAG_SCAN_H_
#define BOWDEN_CLI_FLAG_SCAN_H_

#include <string>
#include <vector>

namespace bowden::cli {

// The command line as `bowden` reads it before Abseil's ParseCommandLine
// (which would exit 1 on a bad flag; a bad command line exits 2): the words
// that are not flags or flag values, whether help was asked for, and the
// first flag error (an unknown flag or a bad value), one sentence, with
// control characters escaped (terminal/terminal_text.h).
struct ScannedCommandLine {
  std::vector<std::string> words;
  bool help = false;
  std::string error;
};

// Scans `args` (argv, args[0] the program; repeated flags already taken out
// and names underscored, config/repeated_flag.h) against the flags linked
// into the binary. "--" ends the flags; "help", "--help" and "-h" anywhere
// ask for help; Abseil's own flags (--version, --flagfile ...) are skipped
// for ParseCommandLine. A value is parsed into its flag to check it, which
// is harmless: ParseCommandLine sets it again. Not thread-safe: it writes
// Abseil's flags, so call it from main() before other threads run.
ScannedCommandLine ScanCommandLine(const std::vector<char*>& args);

// True when the flag `name` (underscored, without dashes) is followed by a
// value unless written --name=value: every flag but the booleans, and the
// repeated --dns and --ip. Unknown names are false. Thread-safe.
bool FlagTakesValue(const std::string& name);

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_FLAG_SCAN_H_
