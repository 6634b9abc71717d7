// The relay under a descriptor limit and a flood of connections that never
// authenticate (issue: one flood at the fd limit used to close gRPC's
// listener for good). Real relay, agent and CLI processes; the relay runs
// under prlimit like a systemd service with LimitNOFILE=1024.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

// An idle TCP connection from `source` (a loopback address) to the relay,
// or an invalid fd.
tunnel::UniqueFd IdleConnection(int port, const char* source) {
  tunnel::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in from = {};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) return {};
  sockaddr_in to = {};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) return {};
  return fd;
}

// Whether the relay has closed this connection (EOF or reset), without
// waiting.
bool ClosedByRelay(int fd) {
  pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 0) != 1) return false;
  char byte;
  return recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

// A session through the tunnel still echoes.
bool Echoes(int fd, const std::string& text) {
  if (!WriteAll(fd, text)) return false;
  std::string got(text.size(), '\0');
  size_t have = 0;
  while (have < got.size()) {
    ssize_t n = read(fd, &got[have], got.size() - have);
    if (n <= 0) return false;
    have += n;
  }
  return got == text;
}

void RaiseOwnDescriptorLimit() {
  rlimit limit;
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}

class FdExhaustionTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> relay_flags) {
    RaiseOwnDescriptorLimit();
    Farm::Options options;
    options.relay_prefix = {"/usr/bin/prlimit", "--nofile=1024:1024", "--"};
    options.relay_extra_flags = {"--allow", "alice=*"};
    options.relay_extra_flags.insert(options.relay_extra_flags.end(), relay_flags.begin(),
                                     relay_flags.end());
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")};
    farm_ = std::make_unique<Farm>(options);
    ASSERT_TRUE(farm_->WaitAttached());
    const int port = farm_->Open("alice", "prusa-01", "octoprint");
    ASSERT_NE(port, 0);
    session_ = ConnectTo(port);
    ASSERT_TRUE(Echoes(session_.get(), "before"));
  }

  // A new CLI process: a new TCP connection and TLS handshake to the relay.
  bool NewUserGetsIn() {
    std::vector<std::string> argv = farm_->CliAs("alice");
    argv.push_back("ls");
    std::string out;
    return RunToCompletion(argv, &out, absl::Seconds(10)) == 0 &&
           absl::StrContains(out, "prusa-01");
  }

  TcpTarget echo_{EchoUntilEof};
  std::unique_ptr<Farm> farm_;
  tunnel::UniqueFd session_;
};

TEST_F(FdExhaustionTest, AFloodAtTheDescriptorLimitNeverClosesTheListener) {
  // Caps far above the limit, so the flood reaches EMFILE.
  ASSERT_NO_FATAL_FAILURE(Start({"--max-unauthenticated-per-source", "5000",
                                 "--max-unauthenticated", "5000", "--handshake-timeout", "120s"}));
  EXPECT_TRUE(farm_->relay().WaitForOutput("open-file limit 1024 (the hard limit)"))
      << farm_->relay().Stderr();

  std::vector<tunnel::UniqueFd> flood;
  for (int i = 0; i < 1100; ++i) {
    tunnel::UniqueFd fd = IdleConnection(farm_->relay_port(), "127.0.0.2");
    if (fd.get() >= 0) flood.push_back(std::move(fd));
  }
  EXPECT_TRUE(farm_->relay().WaitForOutput("out of file descriptors"))
      << farm_->relay().Stderr();
  // The established session never notices.
  EXPECT_TRUE(Echoes(session_.get(), "during the flood"));

  flood.clear();  // the flood ends
  EXPECT_TRUE(WaitFor([&] { return NewUserGetsIn(); }))
      << "no new client got in after the flood\n" << farm_->relay().Stderr();
  EXPECT_TRUE(Echoes(session_.get(), "after"));
}

TEST_F(FdExhaustionTest, ConnectionsThatDoNotAuthenticateAreCappedAndTimedOut) {
  ASSERT_NO_FATAL_FAILURE(
      Start({"--max-unauthenticated-per-source", "20", "--handshake-timeout", "1s"}));
  std::vector<tunnel::UniqueFd> flood;
  for (int i = 0; i < 50; ++i) {
    tunnel::UniqueFd fd = IdleConnection(farm_->relay_port(), "127.0.0.2");
    ASSERT_GE(fd.get(), 0);
    flood.push_back(std::move(fd));
  }
  // Past the cap, connections from that source are closed at once...
  EXPECT_TRUE(farm_->relay().WaitForOutput("refused a connection from 127.0.0.2"))
      << farm_->relay().Stderr();
  // ...while another source still gets in.
  EXPECT_TRUE(NewUserGetsIn()) << farm_->relay().Stderr();
  // And the ones within the cap are dropped at the handshake deadline.
  EXPECT_TRUE(WaitFor([&] {
    for (const tunnel::UniqueFd& fd : flood) {
      if (!ClosedByRelay(fd.get())) return false;
    }
    return true;
  })) << "idle connections outlived the handshake deadline";
  EXPECT_TRUE(Echoes(session_.get(), "after"));
}

}  // namespace
}  // namespace bowden::testing
