#include "relay/accept_gate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

// A non-blocking listener on 127.0.0.1, as gRPC makes them.
int Listen(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(listen(fd, 128), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

// A blocking client from `source` (a loopback address).
int Connect(int port, const char* source = "127.0.0.1") {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from = {};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0);
  sockaddr_in to = {};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  return fd;
}

// Whether the server closed the client's connection (EOF or reset within
// a few seconds).
bool ClosedByServer(int client) {
  pollfd p = {client, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) return false;
  char byte;
  return read(client, &byte, 1) <= 0;
}

// Everything the gate lets through, until accept4 would block.
std::vector<int> AcceptAll(int listener) {
  std::vector<int> accepted;
  for (;;) {
    sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int fd = accept4(listener, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    if (fd < 0) {
      EXPECT_EQ(errno, EAGAIN);
      return accepted;
    }
    EXPECT_EQ(len, sizeof(addr));
    EXPECT_EQ(addr.sin_family, AF_INET);
    accepted.push_back(fd);
  }
}

// One test: the gate is process-wide and cannot be uninstalled.
TEST(AcceptGateTest, CapsUnauthenticatedConnectionsAndSurvivesDescriptorExhaustion) {
  AcceptGate::Install({/*per_source=*/3, /*total=*/5});
  int port = 0;
  const int listener = Listen(&port);

  // Per source: the fourth connection from 127.0.0.1 is closed at once.
  std::vector<int> clients;
  for (int i = 0; i < 4; ++i) clients.push_back(Connect(port));
  std::vector<int> accepted = AcceptAll(listener);
  EXPECT_EQ(accepted.size(), 3u);
  EXPECT_TRUE(ClosedByServer(clients[3]));
  EXPECT_EQ(AcceptGate::stats().refused_per_source, 1u);
  EXPECT_EQ(AcceptGate::PendingSources(), "127.0.0.1");

  // Another source still gets in, up to the total of 5.
  for (int i = 0; i < 3; ++i) clients.push_back(Connect(port, "127.0.0.2"));
  std::vector<int> more = AcceptAll(listener);
  EXPECT_EQ(more.size(), 2u);
  EXPECT_TRUE(ClosedByServer(clients.back()));
  EXPECT_EQ(AcceptGate::stats().refused_total, 1u);
  EXPECT_EQ(AcceptGate::PendingSources(),
            "one of 127.0.0.1, 127.0.0.2 (5 connections not yet authenticated)");

  // An authenticated connection no longer counts; a closed one is forgotten.
  sockaddr_in local;
  socklen_t len = sizeof(local);
  getsockname(clients[0], reinterpret_cast<sockaddr*>(&local), &len);
  AcceptGate::MarkAuthenticated(absl::StrCat("ipv4:127.0.0.1:", ntohs(local.sin_port)));
  close(accepted[1]);
  clients.push_back(Connect(port));
  clients.push_back(Connect(port));
  EXPECT_EQ(AcceptAll(listener).size(), 2u);

  // Out of descriptors: waiting connections are dropped and accept4 says
  // EAGAIN (gRPC re-arms on that), instead of EMFILE (gRPC gives up).
  AcceptGate::Install({1000, 1000});
  rlimit saved;
  getrlimit(RLIMIT_NOFILE, &saved);
  const int waiting_a = Connect(port, "127.0.0.3");
  const int waiting_b = Connect(port, "127.0.0.3");
  std::vector<int> filler;
  for (;;) {  // use up every descriptor under a low limit
    rlimit low = saved;
    low.rlim_cur = 64;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
    int fd = dup(0);
    if (fd < 0) break;
    filler.push_back(fd);
  }
  errno = 0;
  EXPECT_EQ(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(AcceptGate::stats().dropped_out_of_descriptors, 2u);
  for (int fd : filler) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_TRUE(ClosedByServer(waiting_a));
  EXPECT_TRUE(ClosedByServer(waiting_b));
  // And the listener still works.
  clients.push_back(Connect(port, "127.0.0.4"));
  EXPECT_EQ(AcceptAll(listener).size(), 1u);
}

TEST(AcceptGateTest, RaisesTheSoftLimitToTheHardLimit) {
  rlimit limit;
  getrlimit(RLIMIT_NOFILE, &limit);
  rlimit lowered = limit;
  lowered.rlim_cur = 256;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const std::string said = RaiseOpenFileLimit();
  EXPECT_NE(said.find("raised the open-file limit from 256"), std::string::npos) << said;
  getrlimit(RLIMIT_NOFILE, &lowered);
  EXPECT_EQ(lowered.rlim_cur, limit.rlim_max == RLIM_INFINITY ? lowered.rlim_cur : limit.rlim_max);
}

}  // namespace
}  // namespace bowden::relay
