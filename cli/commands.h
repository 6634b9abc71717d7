#ifndef BOWDEN_CLI_COMMANDS_H_
#define BOWDEN_CLI_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "identity/credentials.h"

namespace bowden::cli {

// Everything the command line said, gathered by main.cc (the only place that
// defines flags). A plain value; thread-compatible.
struct CliOptions {
  // How to reach the relay, after merging cli.textproto and the flags.
  std::string relay;
  identity::TlsFiles tls;
  // open
  std::string target = "octoprint";
  // Empty: the port this printer and target had last time (cli/port_memory.h).
  std::string listen;
  bool no_browser = false;
  // kill
  std::string reason;
  // audit
  std::string printer_filter;
  std::string user_filter;
  absl::Duration since = absl::ZeroDuration();
  bool json = false;
  bool follow = false;
  int64_t limit = 50;         // rows; ignored with `all`
  bool all = false;           // every matching row, a page at a time
  bool oldest_first = false;  // default: newest first
  std::string head;
  // login
  std::string token;
  // ca
  std::string dir;
  std::string trust_domain;
  absl::Duration ttl = absl::ZeroDuration();  // 0: the command's default
  std::vector<std::string> dns;
  std::vector<std::string> ips;
};

// Each command gets its positional arguments after the command words and
// returns the process exit code (docs/cli.md#exit-codes): UsageError's 2
// for wrong arguments, Fail's 1 when the operation fails. Errors are printed
// as one sentence on stderr, prefixed with "bowden: ".
int RunLs(const CliOptions& options, const std::vector<std::string>& args);
// Exits 0 when every check passed, 1 when one failed, 3 with warnings only.
int RunDoctor(const CliOptions& options, const std::vector<std::string>& args);
int RunOpen(const CliOptions& options, const std::vector<std::string>& args);
int RunSessions(const CliOptions& options,
                const std::vector<std::string>& args);
int RunKill(const CliOptions& options, const std::vector<std::string>& args);
int RunAudit(const CliOptions& options, const std::vector<std::string>& args);
int RunAuditVerify(const CliOptions& options,
                   const std::vector<std::string>& args);
int RunRevoke(const CliOptions& options, const std::vector<std::string>& args);
int RunUnrevoke(const CliOptions& options,
                const std::vector<std::string>& args);
int RunAdminLs(const CliOptions& options, const std::vector<std::string>& args);
int RunTokenCreate(const CliOptions& options,
                   const std::vector<std::string>& args);
int RunLogin(const CliOptions& options, const std::vector<std::string>& args);
int RunCaInit(const CliOptions& options, const std::vector<std::string>& args);
int RunCaIssue(const CliOptions& options, const std::vector<std::string>& args);
int RunCaRotate(const CliOptions& options,
                const std::vector<std::string>& args);
int RunCaRetire(const CliOptions& options,
                const std::vector<std::string>& args);

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_COMMANDS_H_
