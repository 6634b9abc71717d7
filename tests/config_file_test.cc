// The three programs read their settings from textproto files (flags
// override them), `bowden open` stops cleanly on Ctrl-C, and a half-written
// config file is refused with its line number.

#include <sys/socket.h>

#include <csignal>
#include <fstream>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

TEST(ConfigFileTest, RelayAgentAndCliRunFromConfigFiles) {
  TempDir dir;
  Pki pki(dir.File("pki"), "farm.test");
  pki.Issue("relay", "relay", {"--ip", "127.0.0.1"});
  pki.Issue("agent", "mk4-01");
  pki.Issue("user", "bob");
  TcpTarget echo(EchoUntilEof);

  identity::TlsFiles relay_tls = pki.Files("relay");
  std::ofstream(dir.File("relay.textproto"))
      << "listen: \"127.0.0.1:0\"\ncert: \"" << relay_tls.cert << "\"\nkey: \""
      << relay_tls.key << "\"\nca: \"" << relay_tls.ca << "\"\nstate_dir: \""
      << dir.File("state") << "\"\npolicy: \"" << dir.File("policy.textproto") << "\"\n";
  std::ofstream(dir.File("policy.textproto"))
      << "grant { user: \"bob\" printers: \"mk4-*\" targets: \"octoprint\" }\n";
  Process relay({BinaryPath("relay/bowden-relay"), "--config", dir.File("relay.textproto")},
                dir.File("relay"));
  ASSERT_TRUE(relay.WaitForOutput("listening on port")) << relay.Stderr();
  std::smatch match;
  std::string out = relay.Stdout();
  ASSERT_TRUE(std::regex_search(out, match, std::regex("on port (\\d+)")));
  std::string relay_address = absl::StrCat("127.0.0.1:", match[1].str());

  identity::TlsFiles agent_tls = pki.Files("mk4-01");
  std::ofstream(dir.File("agent.textproto"))
      << "relay: \"" << relay_address << "\"\ncert: \"" << agent_tls.cert
      << "\"\nkey: \"" << agent_tls.key << "\"\nca: \"" << agent_tls.ca
      << "\"\ntarget: \"octoprint=127.0.0.1:" << echo.port() << ",guard=none\"\n"
      << "allow_octoprint_autologin: true\n";
  Process agent({BinaryPath("agent/bowden-agent"), "--config", dir.File("agent.textproto")},
                dir.File("agent"));
  ASSERT_TRUE(agent.WaitForOutput("attached as printer 'mk4-01'")) << agent.Stderr();
  // The override is loud wherever it is set.
  EXPECT_TRUE(absl::StrContains(agent.Stderr(), "--allow-octoprint-autologin: ")) << agent.Stderr();

  identity::TlsFiles bob = pki.Files("bob");
  std::ofstream(dir.File("cli.textproto"))
      << "relay: \"" << relay_address << "\"\ncert: \"" << bob.cert << "\"\nkey: \""
      << bob.key << "\"\nca: \"" << bob.ca << "\"\n";
  std::string listing;
  ASSERT_EQ(RunToCompletion({BinaryPath("cli/bowden"), "--config",
                             dir.File("cli.textproto"), "ls"},
                            &listing),
            0)
      << listing;
  EXPECT_TRUE(absl::StrContains(listing, "mk4-01")) << listing;
  EXPECT_TRUE(absl::StrContains(listing, "online")) << listing;

  Process open({BinaryPath("cli/bowden"), "--config", dir.File("cli.textproto"), "open",
                "mk4-01", "--no-browser"},
               dir.File("open"));
  ASSERT_TRUE(open.WaitForOutput("Forwarding http://127.0.0.1:")) << open.Stderr();
  out = open.Stdout();
  ASSERT_TRUE(std::regex_search(out, match, std::regex("127\\.0\\.0\\.1:(\\d+)/")));
  tunnel::UniqueFd socket = ConnectTo(std::stoi(match[1]));
  ASSERT_TRUE(WriteAll(socket.get(), "configured"));
  shutdown(socket.get(), SHUT_WR);
  EXPECT_EQ(ReadAll(socket.get()), "configured");

  // Ctrl-C stops `bowden open` cleanly.
  open.Signal(SIGINT);
  EXPECT_EQ(open.Wait(), 0);
  EXPECT_TRUE(absl::StrContains(open.Stdout(), "Stopped.")) << open.Stdout();
}

TEST(ConfigFileTest, AHalfWrittenConfigIsRefusedWithItsLine) {
  TempDir dir;
  std::ofstream(dir.File("relay.textproto")) << "listen: \"127.0.0.1:0\"\ncert: \"/x";
  std::string out;
  EXPECT_EQ(RunToCompletion({BinaryPath("relay/bowden-relay"), "--config",
                             dir.File("relay.textproto")},
                            &out),
            1);
  EXPECT_TRUE(absl::StrContains(out, "relay.textproto:2:")) << out;

  std::ofstream(dir.File("policy.textproto")) << "grant { user: \"bob\" printers: }\n";
  EXPECT_EQ(RunToCompletion({BinaryPath("relay/bowden-relay"), "--listen", "127.0.0.1:0",
                             "--cert", "c", "--key", "k", "--ca", "a", "--state-dir",
                             dir.File("s"), "--policy", dir.File("policy.textproto")},
                            &out),
            1);
  EXPECT_TRUE(absl::StrContains(out, "policy.textproto:1:")) << out;
}

TEST(ConfigFileTest, MissingRequiredSettingsAreNamed) {
  std::string out;
  EXPECT_EQ(RunToCompletion({BinaryPath("relay/bowden-relay"), "--listen", "127.0.0.1:0"},
                            &out),
            1);
  EXPECT_TRUE(absl::StrContains(out, "--cert is required")) << out;
  EXPECT_EQ(RunToCompletion({BinaryPath("agent/bowden-agent"), "--relay", "127.0.0.1:1"},
                            &out),
            1);
  EXPECT_TRUE(absl::StrContains(out, "--cert is required")) << out;
}

TEST(ConfigFileTest, BadSigningSettingsAreRefusedWithWhatToDo) {
  TempDir dir;
  Pki pki(dir.File("pki"), "farm.test");
  pki.Issue("relay", "relay", {"--ip", "127.0.0.1"});
  identity::TlsFiles tls = pki.Files("relay");
  std::vector<std::string> relay = {BinaryPath("relay/bowden-relay"), "--cert", tls.cert,
                                    "--key", tls.key, "--ca", tls.ca, "--state-dir",
                                    dir.File("state")};
  auto run = [&](std::vector<std::string> extra, std::string* out) {
    std::vector<std::string> argv = relay;
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunToCompletion(argv, out);
  };
  std::string out;
  // Tokens must name a reachable address, not a wildcard.
  EXPECT_EQ(run({"--listen", "0.0.0.0:0", "--ca-dir", pki.dir(), "--enroll-listen",
                 "127.0.0.1:0"},
                &out),
            1);
  EXPECT_TRUE(absl::StrContains(out, "needs --public-host NAME")) << out;
  EXPECT_EQ(run({"--listen", "127.0.0.1:0", "--enroll-listen", "127.0.0.1:0"}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "needs --ca-dir")) << out;
  EXPECT_EQ(run({"--listen", "127.0.0.1:0", "--agent-cert-ttl", "3s"}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "--agent-cert-ttl '3s' is not a lifetime of at least 10s"))
      << out;
  EXPECT_EQ(run({"--listen", "127.0.0.1:0", "--user-cert-ttl", "soon"}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "--user-cert-ttl 'soon'")) << out;
}

}  // namespace
}  // namespace bowden::testing
