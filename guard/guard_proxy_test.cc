// GuardProxy on real sockets and a real event loop: one client cannot make
// the guard queue without bound, a client that leaves or stalls mid-request
// holds nothing open, and a refusal reaches a client that is still sending.

#include "guard/guard_proxy.h"

#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "guard/http_guard.h"
#include "tunnel/event_loop.h"
#include "tunnel/unique_fd.h"

namespace bowden::guard {
namespace {

using tunnel::UniqueFd;

constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
// Viewers may not download G-code: a tiny request the guard refuses itself.
constexpr char kDenied[] = "GET /downloads/files/local/a.gcode HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n";
constexpr char kAllowed[] = "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n";

std::pair<UniqueFd, UniqueFd> Pair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// Reads what is there within `timeout`: "" on EOF, or when nothing came.
// *eof is set on a clean EOF, *error to errno on a failed read.
std::string ReadSome(int fd, absl::Duration timeout, bool* eof = nullptr,
                     int* error = nullptr) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, absl::ToInt64Milliseconds(timeout)) <= 0) return "";
  char buffer[65536];
  ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
  if (n == 0 && eof != nullptr) *eof = true;
  if (n < 0 && error != nullptr) *error = errno;
  return n > 0 ? std::string(buffer, n) : "";
}

// Reads until `done(received)` or EOF or 20 s; returns what arrived.
std::string ReadUntil(int fd,
                      const std::function<bool(const std::string&)>& done,
                      bool* eof = nullptr) {
  std::string received;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  bool closed = false;
  while (!done(received) && !closed && absl::Now() < deadline) {
    received += ReadSome(fd, absl::Milliseconds(100), &closed);
  }
  if (eof != nullptr) *eof = closed;
  return received;
}

int Count(const std::string& text, const std::string& needle) {
  int count = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

GuardConfig Viewer() {
  GuardConfig config;
  config.kind = TargetKind::kOctoPrint;
  config.role = policy::Role::kViewer;
  config.user = "bob";
  return config;
}

// One guarded connection: the test holds the client's and the target's
// ends.
struct Connection {
  UniqueFd client;
  UniqueFd target;
  std::shared_ptr<absl::Notification> done =
      std::make_shared<absl::Notification>();
  std::shared_ptr<std::atomic<int>> events =
      std::make_shared<std::atomic<int>>(0);
};

Connection Guarded(tunnel::EventLoop* loop,
                   ProxyLimits limits = ProxyLimits()) {
  auto [client, client_proxy] = Pair();
  auto [target, target_proxy] = Pair();
  Connection c;
  c.client = std::move(client);
  c.target = std::move(target);
  auto done = c.done;
  auto events = c.events;
  GuardProxy::Start(
      loop, std::move(client_proxy), std::move(target_proxy),
      std::make_unique<HttpGuard>(Viewer()),
      [events](std::vector<GuardEvent> batch) { *events += batch.size(); },
      [done] { done->Notify(); }, limits);
  return c;
}

class GuardProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = tunnel::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = *std::move(loop);
  }
  std::unique_ptr<tunnel::EventLoop> loop_;
};

bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

bool Never(const std::string&) { return false; }

bool OneAnswer(const std::string& received) {
  return absl::StrContains(received, "\r\n\r\n") &&
         absl::EndsWith(received, "\n");
}

TEST_F(GuardProxyTest, AFloodBehindASlowRequestWaitsInTheClientsSocket) {
  Connection flood = Guarded(loop_.get());
  constexpr int kRequests = 100000;
  std::string requests = kAllowed;
  for (int i = 0; i < kRequests; ++i) requests += kDenied;
  // The target does not answer the first request yet: write until the proxy
  // takes no more.
  size_t written = 0;
  while (written < requests.size()) {
    ssize_t n = send(flood.client.get(), requests.data() + written,
                     requests.size() - written, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      written += n;
      continue;
    }
    ASSERT_EQ(errno, EAGAIN);
    pollfd p{flood.client.get(), POLLOUT, 0};
    if (poll(&p, 1, 1000) == 0) break;  // nothing taken for a second
  }
  // 64 answers owed, one read and the sockets' buffers: not 3.8 MB.
  EXPECT_LT(written, 1u << 20) << "of " << requests.size();
  EXPECT_EQ(flood.events->load(), 0);  // every answer waits for the first

  // Meanwhile the same loop answers another session.
  Connection other = Guarded(loop_.get());
  ASSERT_TRUE(WriteAll(other.client.get(), kDenied));
  std::string answer = ReadUntil(other.client.get(), OneAnswer);
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 403 Forbidden\r\n")) << answer;

  // The slow answer comes; then the whole flood is answered, in order.
  std::string seen = ReadUntil(flood.target.get(), [](const std::string& s) {
    return absl::StrContains(s, "\r\n\r\n");
  });
  EXPECT_EQ(Count(seen, "GET /api/version"), 1) << seen;
  ASSERT_TRUE(WriteAll(flood.target.get(), kOk));
  std::thread writer([&] {
    EXPECT_TRUE(WriteAll(flood.client.get(),
                         absl::string_view(requests).substr(written)));
  });
  std::string answers;
  int count = 0;
  size_t scanned = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (count < kRequests + 1 && absl::Now() < deadline) {
    answers += ReadSome(flood.client.get(), absl::Milliseconds(100));
    for (size_t at = answers.find("HTTP/1.1 ", scanned);
         at != std::string::npos; at = answers.find("HTTP/1.1 ", at + 1)) {
      ++count;
      scanned = at + 1;
    }
  }
  writer.join();
  EXPECT_EQ(count, kRequests + 1);
  EXPECT_TRUE(absl::StartsWith(answers, kOk));
  EXPECT_EQ(Count(answers, "HTTP/1.1 403 Forbidden\r\n"), kRequests);
  EXPECT_EQ(flood.events->load(), kRequests + 1);
}

TEST_F(GuardProxyTest, AClientThatLeavesMidRequestHoldsNothingOpen) {
  for (const std::string& cut :
       {std::string("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n"),
        std::string("POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Length: "
                    "100\r\n\r\n{\"a\"")}) {
    Connection c = Guarded(loop_.get());
    ASSERT_TRUE(WriteAll(c.client.get(), cut));
    shutdown(c.client.get(), SHUT_WR);
    bool client_eof = false, target_eof = false;
    EXPECT_EQ(ReadUntil(c.client.get(), Never, &client_eof), "");
    EXPECT_TRUE(client_eof) << cut;
    ReadUntil(c.target.get(), Never, &target_eof);
    EXPECT_TRUE(target_eof) << cut;
    EXPECT_TRUE(c.done->WaitForNotificationWithTimeout(absl::Seconds(20)))
        << cut;
  }
}

TEST_F(GuardProxyTest, AnswersOwedStillArriveWhenTheClientLeavesMidRequest) {
  Connection c = Guarded(loop_.get());
  ASSERT_TRUE(
      WriteAll(c.client.get(), absl::StrCat(kAllowed, "GET /api/job HTT")));
  shutdown(c.client.get(), SHUT_WR);
  std::string seen = ReadUntil(c.target.get(), [](const std::string& s) {
    return absl::StrContains(s, "\r\n\r\n");
  });
  EXPECT_TRUE(absl::StartsWith(seen, "GET /api/version HTTP/1.1\r\n")) << seen;
  ASSERT_TRUE(WriteAll(c.target.get(), kOk));
  bool eof = false;
  EXPECT_EQ(ReadUntil(c.client.get(), Never, &eof), kOk);
  EXPECT_TRUE(eof);
  EXPECT_TRUE(c.done->WaitForNotificationWithTimeout(absl::Seconds(20)));
}

TEST_F(GuardProxyTest, AHeadNotFinishedInTimeClosesTheConnection) {
  ProxyLimits limits;
  limits.header_timeout = absl::Milliseconds(200);
  Connection c = Guarded(loop_.get(), limits);
  ASSERT_TRUE(
      WriteAll(c.client.get(), "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n"));
  bool client_eof = false, target_eof = false;
  EXPECT_EQ(ReadUntil(c.client.get(), Never, &client_eof), "");
  EXPECT_TRUE(client_eof);
  ReadUntil(c.target.get(), Never, &target_eof);
  EXPECT_TRUE(target_eof);
  EXPECT_TRUE(c.done->WaitForNotificationWithTimeout(absl::Seconds(20)));
}

TEST_F(GuardProxyTest, AnIdleConnectionClosesAfterTheIdleTimeout) {
  ProxyLimits limits;
  limits.idle_timeout = absl::Milliseconds(200);
  Connection c = Guarded(loop_.get(), limits);
  ASSERT_TRUE(WriteAll(c.client.get(), kAllowed));
  ReadUntil(c.target.get(), [](const std::string& s) {
    return absl::StrContains(s, "\r\n\r\n");
  });
  ASSERT_TRUE(WriteAll(c.target.get(), kOk));
  bool eof = false;
  // The answer, then (idle) the end.
  EXPECT_EQ(ReadUntil(c.client.get(), Never, &eof), kOk);
  EXPECT_TRUE(eof);
  EXPECT_TRUE(c.done->WaitForNotificationWithTimeout(absl::Seconds(20)));
}

TEST_F(GuardProxyTest, ARefusalReachesAClientThatIsStillSending) {
  Connection c = Guarded(loop_.get());
  // Refused at the head (400, close) while the client keeps sending.
  std::string request =
      "POST /api/login%zz HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Length: "
      "10000000\r\n\r\n";
  ASSERT_TRUE(WriteAll(c.client.get(), request));
  std::string junk(4096, 'x');
  for (int i = 0; i < 16; ++i) {
    if (send(c.client.get(), junk.data(), junk.size(),
             MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
      break;
  }
  bool eof = false;
  std::string answer = ReadUntil(c.client.get(), Never, &eof);
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 400 Bad Request\r\n"))
      << answer;
  EXPECT_TRUE(eof);
  // The proxy still reads (and drops) what the client sends, so its close
  // after the answer is not a reset.
  EXPECT_EQ(send(c.client.get(), junk.data(), junk.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(junk.size()))
      << strerror(errno);
  EXPECT_FALSE(c.done->HasBeenNotified());
  c.client.reset();
  EXPECT_TRUE(c.done->WaitForNotificationWithTimeout(absl::Seconds(20)));
}

TEST_F(GuardProxyTest, ALingeringClientIsClosedAfterTheLingerTime) {
  ProxyLimits limits;
  limits.linger = absl::Milliseconds(200);
  Connection c = Guarded(loop_.get(), limits);
  ASSERT_TRUE(WriteAll(c.client.get(), "GET /%zz HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n"));
  bool eof = false;
  std::string answer = ReadUntil(c.client.get(), Never, &eof);
  EXPECT_TRUE(absl::StartsWith(answer, "HTTP/1.1 400 Bad Request\r\n"))
      << answer;
  EXPECT_TRUE(eof);
  EXPECT_TRUE(c.done->WaitForNotificationWithTimeout(absl::Seconds(20)));
}

}  // namespace
}  // namespace bowden::guard
