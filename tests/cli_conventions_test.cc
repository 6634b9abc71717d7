// The CLI's conventions, checked on the real binary: exit codes (2 for a bad
// command line, 1 for a failed operation, 0 for help and for Ctrl-C in
// `audit --follow`), `bowden help WORDS` for every command, and the bash
// completion script sourced by a real bash.

#include <csignal>
#include <fstream>
#include <memory>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

int Bowden(const std::vector<std::string>& args, std::string* out) {
  std::vector<std::string> argv = {BinaryPath("cli/bowden")};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunToCompletion(argv, out);
}

TEST(CliConventionsTest, BadCommandLinesExitTwoFailedOperationsOne) {
  TempDir dir;
  std::string out;
  // Usage errors, each with one sentence on stderr.
  EXPECT_EQ(Bowden({}, &out), 2) << out;
  EXPECT_EQ(Bowden({"nosuch"}, &out), 2) << out;
  EXPECT_TRUE(absl::StrContains(out, "unknown command 'nosuch'")) << out;
  EXPECT_EQ(Bowden({"ls", "extra"}, &out), 2) << out;
  EXPECT_TRUE(absl::StrContains(out, "ls takes no arguments")) << out;
  EXPECT_EQ(Bowden({"ls", "--bogus"}, &out), 2) << out;
  EXPECT_TRUE(absl::StrContains(out, "unknown flag '--bogus'")) << out;
  EXPECT_EQ(Bowden({"audit", "--limit", "lots"}, &out), 2) << out;
  EXPECT_TRUE(absl::StrContains(out, "bad value 'lots' for --limit")) << out;
  EXPECT_EQ(Bowden({"audit", "--limit", "0"}, &out), 2) << out;
  EXPECT_EQ(Bowden({"ca", "issue", "--dir", dir.path(), "wizard", "x"}, &out),
            2)
      << out;
  EXPECT_EQ(Bowden({"kill"}, &out), 2) << out;
  EXPECT_EQ(Bowden({"doctor", "now"}, &out), 2) << out;
  EXPECT_EQ(Bowden({"completion", "zsh"}, &out), 2) << out;
  // Failed operations.
  EXPECT_EQ(Bowden({"ca", "rotate", "--dir", dir.File("no-ca")}, &out), 1)
      << out;
  EXPECT_EQ(Bowden({"ls", "--config", dir.File("missing.textproto")}, &out), 1)
      << out;
  Pki pki(dir.File("pki"), "farm.test");
  pki.Issue("user", "bob");
  identity::TlsFiles bob = pki.Files("bob");
  EXPECT_EQ(Bowden({"--relay", absl::StrCat("127.0.0.1:", ClosedPort()),
                    "--cert", bob.cert, "--key", bob.key, "--ca", bob.ca, "ls"},
                   &out),
            1)
      << out;
  // Success, help and the version.
  EXPECT_EQ(Bowden({"--version"}, &out), 0) << out;
  EXPECT_EQ(Bowden({"ls", "--help"}, &out), 0) << out;
}

TEST(CliConventionsTest, HelpWordsPrintThatCommand) {
  std::string out;
  EXPECT_EQ(Bowden({"help", "ca", "issue"}, &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "usage: bowden ca issue --dir DIR")) << out;
  EXPECT_EQ(Bowden({"help", "audit", "verify"}, &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "usage: bowden audit verify")) << out;
  EXPECT_EQ(Bowden({"help", "admin", "ls"}, &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "usage: bowden admin ls")) << out;
  // A flag's value is not a command word.
  EXPECT_EQ(Bowden({"--dir", "D", "ca", "issue", "--help"}, &out), 0) << out;
  EXPECT_TRUE(absl::StartsWith(out, "usage: bowden ca issue")) << out;
  // A group lists its commands.
  EXPECT_EQ(Bowden({"help", "ca"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "bowden ca init")) << out;
  EXPECT_TRUE(absl::StrContains(out, "bowden ca retire")) << out;
  EXPECT_FALSE(absl::StrContains(out, "bowden ls")) << out;
  EXPECT_EQ(Bowden({"help", "nosuch"}, &out), 2) << out;
  EXPECT_TRUE(absl::StrContains(out, "no command 'nosuch'")) << out;
  EXPECT_EQ(Bowden({"help"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "Commands:")) << out;
}

// What bash completes for `line` (the last word being completed) after
// sourcing `bowden completion bash`, one candidate per line.
std::string Complete(const TempDir& dir, const std::string& line) {
  std::string script;
  EXPECT_EQ(Bowden({"completion", "bash"}, &script), 0) << script;
  std::ofstream(dir.File("bowden.bash")) << script;
  std::string out;
  int code = RunToCompletion(
      {"/bin/bash", "--norc", "--noprofile", "-c",
       absl::StrCat(
           "source ", dir.File("bowden.bash"),
           " && complete -p bowden >/dev/null"
           " && read -ra COMP_WORDS <<< \"$1\""
           " && if [[ \"$1\" == *' ' ]]; then COMP_WORDS+=(''); fi"
           " && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && { _bowden; true; }"
           " && for c in \"${COMPREPLY[@]}\"; do echo \"$c\"; done"),
       "complete", line},
      &out);
  EXPECT_EQ(code, 0) << out;
  return out;
}

TEST(CliConventionsTest, BashCompletesCommandWordsAndFlags) {
  TempDir dir;
  EXPECT_EQ(Complete(dir, "bowden ca i"), "init\nissue\n");
  EXPECT_EQ(Complete(dir, "bowden ca is"), "issue\n");
  EXPECT_EQ(Complete(dir, "bowden se"), "sessions\n");
  EXPECT_EQ(Complete(dir, "bowden admin "), "ls\n");
  EXPECT_EQ(Complete(dir, "bowden audit v"), "verify\n");
  EXPECT_EQ(Complete(dir, "bowden open --no"), "--no-browser\n");
  EXPECT_EQ(Complete(dir, "bowden audit --fo"), "--follow\n");
  EXPECT_EQ(Complete(dir, "bowden ca issue --dir /tmp user bob --t"),
            "--ttl\n");
  // A flag's value is not taken for a command word.
  EXPECT_EQ(Complete(dir, "bowden --relay r:1 ca re"), "retire\n");
  // No command words after a whole command.
  EXPECT_EQ(Complete(dir, "bowden ls "), "");
}

// A farm whose audit log has rows about prusa-01; alice is a relay admin.
class CliAuditTest : public ::testing::Test {
 protected:
  CliAuditTest() : echo_(EchoUntilEof) {
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n";
    Farm::Options options;
    options.relay_extra_flags = {"--policy",
                                 policy_dir_.File("policy.textproto")};
    options.targets = {
        absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")};
    farm_ = std::make_unique<Farm>(options);
  }

  void SetUp() override {
    ASSERT_TRUE(farm_->WaitAttached());
    ASSERT_TRUE(DialOnce(farm_->relay_address(), farm_->pki().Files("alice"),
                         "prusa-01", "octoprint", "ping")
                    .ok());
  }

  TempDir policy_dir_;
  TcpTarget echo_;
  std::unique_ptr<Farm> farm_;
};

TEST_F(CliAuditTest, CtrlCEndsAuditFollowWithZero) {
  Farm& farm = *farm_;
  std::vector<std::string> argv = farm.CliAs("alice");
  argv.insert(argv.end(), {"audit", "--follow"});
  TempDir logs;
  Process follow(argv, logs.File("follow"));
  // Rows printed: the command is following.
  ASSERT_TRUE(follow.WaitForOutput("prusa-01")) << follow.Stderr();
  follow.Signal(SIGINT);
  EXPECT_EQ(follow.Wait(), 0) << follow.Stderr();
}

TEST_F(CliAuditTest, AnExportShowsProgressOnlyOnATerminal) {
  TempDir dir;
  std::vector<std::string> argv = farm_->CliAs("alice");
  argv.insert(argv.end(), {"audit", "--all", "--json"});
  // stderr on a terminal (script(1) gives the command a pty), stdout to a
  // file: the progress line is drawn on the terminal and wiped.
  std::string command;
  for (const std::string& arg : argv) absl::StrAppend(&command, "'", arg, "' ");
  absl::StrAppend(&command, "> ", dir.File("export.jsonl"));
  std::string terminal;
  ASSERT_EQ(RunToCompletion({"/usr/bin/script", "--quiet", "--return",
                             "--command", command, "/dev/null"},
                            &terminal),
            0)
      << terminal;
  EXPECT_TRUE(std::regex_search(
      terminal, std::regex("\r\x1b\\[K[0-9]+ rows, [0-9.]+ (B|KiB)")))
      << terminal;
  std::string exported = ReadFileOrEmpty(dir.File("export.jsonl"));
  EXPECT_TRUE(absl::StrContains(exported, "\"printer\":\"prusa-01\""))
      << exported;
  EXPECT_FALSE(absl::StrContains(exported, "rows,")) << exported;
  // Neither stream on a terminal: no progress.
  std::string plain;
  ASSERT_EQ(RunToCompletion(argv, &plain), 0) << plain;
  EXPECT_FALSE(absl::StrContains(plain, " rows, ")) << plain;
}

}  // namespace
}  // namespace bowden::testing
