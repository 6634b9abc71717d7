// bowden: the companion CLI for remote users and farm operators.
//
// Subcommands live in one table (as wireguard-tools' wg.c does); each has its
// own --help. Flags are defined here only and handed to the commands as
// CliOptions.

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "cli/commands.h"
#include "cli/completion.h"
#include "cli/flag_scan.h"
#include "cli/relay_session.h"
#include "config/repeated_flag.h"
#include "config/textproto.h"
#include "proto/config.pb.h"
#include "tunnel/malloc_tuning.h"
#include "version/version.h"

ABSL_FLAG(std::string, config, "",
          "CliConfig textproto (default ~/.config/bowden/cli.textproto)");
ABSL_FLAG(std::string, relay, "", "relay HOST:PORT");
ABSL_FLAG(std::string, cert, "", "your user certificate (PEM)");
ABSL_FLAG(std::string, key, "", "your private key (PEM)");
ABSL_FLAG(std::string, ca, "", "farm CA bundle (PEM)");
ABSL_FLAG(std::string, target, "octoprint", "open: the printer's target");
ABSL_FLAG(std::string, listen, "",
          "open: local loopback HOST:PORT, not remembered (default: the port "
          "the printer "
          "had last time)");
ABSL_FLAG(bool, no_browser, false, "open: do not start a browser");
ABSL_FLAG(std::string, reason, "", "kill: why, for the log");
ABSL_FLAG(std::string, printer, "", "audit: only this printer");
ABSL_FLAG(std::string, user, "", "audit: only this user");
ABSL_FLAG(absl::Duration, since, absl::ZeroDuration(),
          "audit: only the last DURATION, e.g. 1h");
ABSL_FLAG(bool, json, false,
          "ls, sessions, admin ls: one JSON document; audit: one JSON object "
          "per line");
ABSL_FLAG(bool, follow, false, "audit: keep printing new events until Ctrl-C");
ABSL_FLAG(int64_t, limit, 50,
          "audit: show this many rows (newest first unless --oldest-first)");
ABSL_FLAG(bool, all, false,
          "audit: show every matching row (fetched a page at a time)");
ABSL_FLAG(bool, oldest_first, false, "audit: start from the oldest row");
ABSL_FLAG(std::string, head, "",
          "audit verify: a head anchor kept from an earlier verify");
ABSL_FLAG(std::string, dir, "", "ca: the CA directory");
ABSL_FLAG(std::string, trust_domain, "", "ca init: e.g. farm.example");
ABSL_FLAG(absl::Duration, ttl, absl::ZeroDuration(),
          "ca issue: certificate lifetime (default 24h); token create: token "
          "lifetime "
          "(default 1h)");
ABSL_FLAG(std::string, token, "",
          "login: the join token from `bowden token create`");

namespace {

using bowden::cli::CliOptions;

struct Command {
  std::vector<std::string> words;  // e.g. {"ca", "issue"}
  const char* usage;
  const char* summary;
  int (*run)(const CliOptions&, const std::vector<std::string>&);
  // The command's own flags, dashed, without "--" (for completion; the
  // connection flags go with every command).
  std::vector<std::string> flags;
};

int RunCompletion(const CliOptions& options,
                  const std::vector<std::string>& args);

const std::vector<Command>& Commands() {
  static const auto* commands = new std::vector<Command>{
      {{"ls"},
       "bowden [--relay H:P --cert F --key F --ca F] ls [--json]",
       "List the printers you may reach, online or offline, with their "
       "targets.",
       bowden::cli::RunLs,
       {"json"}},
      {{"doctor"},
       "bowden doctor",
       "Check your certificate and key (readable, 0600, matching, expiry, "
       "identity, chain), "
       "the relay (reachable, TLS, accepts you), clock skew against it and "
       "what the policy "
       "lets you reach; one line per finding with its fix. Exits 0 when all "
       "passed, 1 when "
       "something failed, 3 with warnings only.",
       bowden::cli::RunDoctor,
       {}},
      {{"open"},
       "bowden open PRINTER [--target octoprint] [--listen 127.0.0.1:PORT] "
       "[--no-browser]",
       "Forward a local loopback port to PRINTER's target through the relay "
       "and "
       "print its URL; runs until Ctrl-C. One URL per printer, as on OctoPi: "
       "on the "
       "octoprint target, /webcam/ goes to the printer's webcam target if you "
       "may reach "
       "it, so OctoPrint's default stream URL works unchanged. The printer "
       "gets the same "
       "port every time (remembered in $XDG_STATE_HOME/bowden/ports, else "
       "~/.local/state/bowden/ports), so OctoPrint's login and your bookmarks "
       "survive a "
       "restart; if that port is taken, another is chosen and remembered, and "
       "it says "
       "so. --listen picks the address and is not remembered.",
       bowden::cli::RunOpen,
       {"target", "listen", "no-browser"}},
      {{"sessions"},
       "bowden sessions [--json]",
       "List live sessions: every session for relay admins, your own "
       "otherwise.",
       bowden::cli::RunSessions,
       {"json"}},
      {{"kill"},
       "bowden kill SESSION [--reason TEXT]",
       "End a live session at once (relay admins only); both ends see it "
       "reset.",
       bowden::cli::RunKill,
       {"reason"}},
      {{"audit", "verify"},
       "bowden audit verify [--head SEQ:HASH]",
       "Check the audit log's hash chain (relay admins only); exits 3 when it "
       "is broken.",
       bowden::cli::RunAuditVerify,
       {"head"}},
      {{"audit"},
       "bowden audit [--printer P] [--user U] [--since 1h] [--limit N | --all] "
       "[--oldest-first] [--json] [--follow]",
       "Show the relay's audit log, newest 50 rows first (relay admins only); "
       "text from "
       "requests is printed with control characters escaped.",
       bowden::cli::RunAudit,
       {"printer", "user", "since", "limit", "all", "oldest-first", "json",
        "follow"}},
      {{"revoke"},
       "bowden revoke {agent PRINTER-ID | user NAME | serial HEX} [--reason "
       "TEXT]",
       "Revoke an identity (all its certificates) or one certificate (relay "
       "admins only); "
       "its live sessions end at once.",
       bowden::cli::RunRevoke,
       {"reason"}},
      {{"unrevoke"},
       "bowden unrevoke {agent PRINTER-ID | user NAME | serial HEX}",
       "Lift a revocation (relay admins only).",
       bowden::cli::RunUnrevoke,
       {}},
      {{"admin", "ls"},
       "bowden admin ls [--json]",
       "List the certificates the relay has seen, their expiry, and "
       "revocations "
       "(relay admins only).",
       bowden::cli::RunAdminLs,
       {"json"}},
      {{"token", "create"},
       "bowden token create {agent PRINTER-ID | user NAME} [--ttl 1h]",
       "Print a single-use join token for a new printer host or user (relay "
       "admins only).",
       bowden::cli::RunTokenCreate,
       {"ttl"}},
      {{"login"},
       "bowden login --token TOKEN [--dir ~/.config/bowden]",
       "Join a farm: make a key here, get a certificate for it with the token, "
       "and write "
       "cli.textproto so plain `bowden ls` works.",
       bowden::cli::RunLogin,
       {"token", "dir"}},
      {{"ca", "init"},
       "bowden ca init --dir DIR --trust-domain DOMAIN",
       "Create the farm's certificate authority: DIR/ca.crt and DIR/ca.key.",
       bowden::cli::RunCaInit,
       {"dir", "trust-domain"}},
      {{"ca", "issue"},
       "bowden ca issue --dir DIR {relay|agent|user} NAME "
       "[--ttl 24h; a relay's: 8760h] [--dns NAME] [--ip ADDR]",
       "Issue a certificate: DIR/NAME.crt and DIR/NAME.key (0600). An agent's "
       "NAME "
       "is its printer id.",
       bowden::cli::RunCaIssue,
       {"dir", "ttl", "dns", "ip"}},
      {{"ca", "rotate"},
       "bowden ca rotate --dir DIR",
       "Start a CA rotation: a new CA signs from now on, DIR/bundle.crt trusts "
       "the new and "
       "the previous CA until `ca retire` (see docs/identity.md).",
       bowden::cli::RunCaRotate,
       {"dir"}},
      {{"ca", "retire"},
       "bowden ca retire --dir DIR",
       "End a CA rotation: DIR/bundle.crt trusts only the current CA.",
       bowden::cli::RunCaRetire,
       {"dir"}},
      {{"completion"},
       "bowden completion bash",
       "Print a bash completion script (command words and flags); the bowden "
       "package "
       "installs it as /usr/share/bash-completion/completions/bowden.",
       RunCompletion,
       {}},
  };
  return *commands;
}

void PrintOverview() {
  std::cout
      << "bowden: reach your printers through a Bowden relay.\n\nCommands:\n";
  for (const Command& command : Commands()) {
    std::cout << "  " << command.usage << "\n      " << command.summary << "\n";
  }
  std::cout
      << "\nConnection flags (or ~/.config/bowden/cli.textproto): --relay "
         "HOST:PORT --cert F --key F --ca F [--config F]\n"
         "Run `bowden help COMMAND` (or `bowden COMMAND --help`) for one "
         "command.\n";
}

// The command whose words start `positional`, or nullptr.
const Command* FindCommand(const std::vector<std::string>& positional) {
  for (const Command& command : Commands()) {
    if (positional.size() < command.words.size()) continue;
    if (std::equal(command.words.begin(), command.words.end(),
                   positional.begin())) {
      return &command;
    }
  }
  return nullptr;
}

// `bowden help WORDS`: the command's usage, or the commands that start with
// WORDS (`bowden help ca`); unknown WORDS are a usage error.
int PrintHelp(const std::vector<std::string>& words) {
  if (words.empty()) {
    PrintOverview();
    return 0;
  }
  if (const Command* command = FindCommand(words)) {
    std::cout << "usage: " << command->usage << "\n\n"
              << command->summary << "\n";
    return 0;
  }
  bool any = false;
  for (const Command& command : Commands()) {
    if (command.words.size() > words.size() &&
        std::equal(words.begin(), words.end(), command.words.begin())) {
      std::cout << (any ? "" : "Commands:\n") << "  " << command.usage
                << "\n      " << command.summary << "\n";
      any = true;
    }
  }
  if (any) return 0;
  return bowden::cli::UsageError(
      absl::StrCat("no command '", absl::StrJoin(words, " "),
                   "'; run `bowden help` for the list"));
}

int RunCompletion(const CliOptions&, const std::vector<std::string>& args) {
  if (args.size() != 1 || args[0] != "bash") {
    return bowden::cli::UsageError("usage: bowden completion bash");
  }
  std::vector<bowden::cli::CompletionEntry> entries;
  for (const Command& command : Commands())
    entries.push_back({command.words, command.flags});
  std::cout << bowden::cli::BashCompletion(
      entries, {"relay", "cert", "key", "ca", "config", "help", "version"},
      [](const std::string& dashed) {
        std::string name = dashed;
        std::replace(name.begin(), name.end(), '-', '_');
        return bowden::cli::FlagTakesValue(name);
      });
  return 0;
}

// Fills the connection settings: cli.textproto first, flags over it.
bool LoadConnection(CliOptions* options) {
  bowden::v1::CliConfig config;
  std::string path = absl::GetFlag(FLAGS_config);
  bool explicit_path = !path.empty();
  if (!explicit_path && std::getenv("HOME") != nullptr) {
    path = absl::StrCat(std::getenv("HOME"), "/.config/bowden/cli.textproto");
  }
  if (!path.empty()) {
    absl::Status loaded = bowden::config::LoadTextProto(path, &config);
    if (!loaded.ok() && (explicit_path || !absl::IsNotFound(loaded))) {
      std::cerr << "bowden: " << loaded.message() << std::endl;
      return false;
    }
  }
  auto pick = [](const std::string& flag, const std::string& file) {
    return flag.empty() ? file : flag;
  };
  options->relay = pick(absl::GetFlag(FLAGS_relay), config.relay());
  options->tls.cert = pick(absl::GetFlag(FLAGS_cert), config.cert());
  options->tls.key = pick(absl::GetFlag(FLAGS_key), config.key());
  options->tls.ca = pick(absl::GetFlag(FLAGS_ca), config.ca());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bowden::tunnel::ReturnFreedMemory();
  absl::SetProgramUsageMessage("bowden COMMAND [flags]; run `bowden --help`");
  absl::FlagsUsageConfig usage;
  usage.version_string = [] { return bowden::version::Line("bowden"); };
  absl::SetFlagsUsageConfig(usage);
  std::vector<char*> args(argv, argv + argc);
  // Debian's Abseil checks every lock for deadlock cycles, which costs a few
  // percent on the data path; the lock order is fixed by design instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CliOptions options;
  options.dns = bowden::config::TakeRepeatedFlag(&args, "dns");
  options.ips = bowden::config::TakeRepeatedFlag(&args, "ip");
  bowden::config::DashedFlagNamesToUnderscores(&args);
  bowden::cli::ScannedCommandLine scanned = bowden::cli::ScanCommandLine(args);
  if (scanned.help) return PrintHelp(scanned.words);
  // Abseil would exit 1 on these; a bad command line exits 2.
  if (!scanned.error.empty()) return bowden::cli::UsageError(scanned.error);
  int count = static_cast<int>(args.size());
  std::vector<char*> positional_args =
      absl::ParseCommandLine(count, args.data());
  std::vector<std::string> positional(positional_args.begin() + 1,
                                      positional_args.end());

  const Command* command = FindCommand(positional);
  if (command == nullptr) {
    if (positional.empty()) {
      PrintOverview();
      return bowden::cli::kExitUsage;
    }
    return bowden::cli::UsageError(
        absl::StrCat("unknown command '", positional[0],
                     "'; run `bowden help` for the list"));
  }
  if (!LoadConnection(&options)) return bowden::cli::kExitFailed;
  options.target = absl::GetFlag(FLAGS_target);
  options.listen = absl::GetFlag(FLAGS_listen);
  options.no_browser = absl::GetFlag(FLAGS_no_browser);
  options.reason = absl::GetFlag(FLAGS_reason);
  options.printer_filter = absl::GetFlag(FLAGS_printer);
  options.user_filter = absl::GetFlag(FLAGS_user);
  options.since = absl::GetFlag(FLAGS_since);
  options.json = absl::GetFlag(FLAGS_json);
  options.follow = absl::GetFlag(FLAGS_follow);
  options.limit = absl::GetFlag(FLAGS_limit);
  options.all = absl::GetFlag(FLAGS_all);
  options.oldest_first = absl::GetFlag(FLAGS_oldest_first);
  options.head = absl::GetFlag(FLAGS_head);
  options.token = absl::GetFlag(FLAGS_token);
  options.dir = absl::GetFlag(FLAGS_dir);
  options.trust_domain = absl::GetFlag(FLAGS_trust_domain);
  options.ttl = absl::GetFlag(FLAGS_ttl);
  std::vector<std::string> rest(positional.begin() + command->words.size(),
                                positional.end());
  return command->run(options, rest);
}
