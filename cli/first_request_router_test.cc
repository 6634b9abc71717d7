#include "cli/first_request_router.h"

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace bowden::cli {
namespace {

TEST(ClassifyFirstBytesTest, OnlyTheWebcamsRequestLinesGoToTheWebcam) {
  EXPECT_EQ(ClassifyFirstBytes("GET /webcam/?action=stream HTTP/1.1\r\n"),
            FirstRoute::kWebcam);
  EXPECT_EQ(ClassifyFirstBytes("HEAD /webcam/snapshot HTTP/1.1\r\n"),
            FirstRoute::kWebcam);
  EXPECT_EQ(ClassifyFirstBytes("GET /webcam/"), FirstRoute::kWebcam);
  // Every proper prefix waits for more.
  for (absl::string_view line : {"GET /webcam/", "HEAD /webcam/"}) {
    for (size_t n = 0; n < line.size(); ++n) {
      EXPECT_EQ(ClassifyFirstBytes(line.substr(0, n)), FirstRoute::kUndecided)
          << n;
    }
  }
  for (absl::string_view other :
       {"GET / HTTP/1.1", "GET /api/version", "GET /webcam?action=stream",
        "GET /webcam HTTP", "GET /WEBCAM/", "get /webcam/", "POST /webcam/",
        "GET  /webcam/", "GET /webcam%2F", "HEAD /webcamx", "PRI * HTTP/2.0",
        "\x16\x03\x01", "G\r\n"}) {
    EXPECT_EQ(ClassifyFirstBytes(other), FirstRoute::kOctoPrint) << other;
  }
}

class FirstRequestRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loop = tunnel::EventLoop::Create();
    ASSERT_TRUE(loop.ok());
    loop_ = *std::move(loop);
  }
  void TearDown() override {
    OnLoop([&] { router_.reset(); });
  }

  void OnLoop(const std::function<void()>& task) {
    absl::Notification done;
    loop_->Post([&] {
      task();
      done.Notify();
    });
    done.WaitForNotification();
  }

  void MakeRouter(absl::Duration timeout) {
    OnLoop([&] {
      router_ = std::make_unique<FirstRequestRouter>(
          loop_.get(), timeout,
          [this](tunnel::UniqueFd socket, FirstRoute route) {
            absl::MutexLock lock(&mu_);
            routed_.push_back(Routed{std::move(socket), route});
          });
    });
  }

  // Returns the client's end of a new connection held by the router.
  tunnel::UniqueFd Connect() {
    int pair[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                         pair),
              0);
    tunnel::UniqueFd server(pair[1]);
    OnLoop([&] { router_->Add(std::move(server)); });
    return tunnel::UniqueFd(pair[0]);
  }

  // Every event the loop saw before this call has been handled: the loop
  // handles the readiness it already has before the second task runs.
  void Settle() {
    OnLoop([] {});
    OnLoop([] {});
  }

  bool WaitRouted(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&] { return routed_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
  }

  static void Send(int fd, absl::string_view bytes) {
    ASSERT_EQ(write(fd, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
  }

  static std::string ReadSome(int fd, size_t n) {
    std::string got(n, '\0');
    size_t have = 0;
    while (have < n) {
      ssize_t r = read(fd, got.data() + have, n - have);
      if (r <= 0) break;
      have += r;
    }
    got.resize(have);
    return got;
  }

  struct Routed {
    tunnel::UniqueFd socket;
    FirstRoute route;
  };
  std::unique_ptr<tunnel::EventLoop> loop_;
  std::unique_ptr<FirstRequestRouter> router_;
  absl::Mutex mu_;
  std::vector<Routed> routed_ ABSL_GUARDED_BY(mu_);
};

TEST_F(FirstRequestRouterTest, WaitsForEnoughBytesAndLeavesThemAllInTheSocket) {
  MakeRouter(absl::Hours(1));
  tunnel::UniqueFd client = Connect();
  Send(client.get(), "GET /web");
  Settle();
  {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(routed_.empty());
  }
  const std::string request =
      "GET /webcam/?action=stream HTTP/1.1\r\nHost: x\r\n\r\n";
  Send(client.get(), request.substr(8));
  ASSERT_TRUE(WaitRouted(1));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(routed_[0].route, FirstRoute::kWebcam);
  int fd = routed_[0].socket.get();
  // The router only peeked: the pump gets the whole request.
  EXPECT_EQ(ReadSome(fd, request.size()), request);
}

TEST_F(FirstRequestRouterTest, AnythingElseGoesToOctoPrintAtOnce) {
  MakeRouter(absl::Hours(1));
  tunnel::UniqueFd client = Connect();
  Send(client.get(), "GET /api/version HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(WaitRouted(1));
  tunnel::UniqueFd head = Connect();
  Send(head.get(), "HEAD /webcam/snapshot HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(WaitRouted(2));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(routed_[0].route, FirstRoute::kOctoPrint);
  EXPECT_EQ(routed_[1].route, FirstRoute::kWebcam);
  EXPECT_EQ(router_->waiting(), 0u);
}

TEST_F(FirstRequestRouterTest, SilentConnectionGoesToOctoPrintAfterTheTimeout) {
  MakeRouter(absl::Milliseconds(20));
  tunnel::UniqueFd client = Connect();
  Send(client.get(), "GE");
  ASSERT_TRUE(WaitRouted(1));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(routed_[0].route, FirstRoute::kOctoPrint);
  EXPECT_EQ(ReadSome(routed_[0].socket.get(), 2), "GE");
}

TEST_F(FirstRequestRouterTest, HalfClosedMidLineGoesToOctoPrint) {
  MakeRouter(absl::Hours(1));
  tunnel::UniqueFd client = Connect();
  Send(client.get(), "GET /webc");
  shutdown(client.get(), SHUT_WR);
  ASSERT_TRUE(WaitRouted(1));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(routed_[0].route, FirstRoute::kOctoPrint);
}

TEST_F(FirstRequestRouterTest, ConnectionClosedBeforeAnyByteIsDropped) {
  MakeRouter(absl::Hours(1));
  tunnel::UniqueFd client = Connect();
  client.reset();
  bool gone = false;
  for (int i = 0; i < 1000 && !gone; ++i) {
    Settle();
    OnLoop([&] { gone = router_->waiting() == 0; });
  }
  EXPECT_TRUE(gone);
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(routed_.empty());
}

TEST_F(FirstRequestRouterTest, TimerAfterTheRouterIsGoneDoesNothing) {
  MakeRouter(absl::Milliseconds(1));
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                       pair),
            0);
  tunnel::UniqueFd client(pair[0]);
  tunnel::UniqueFd server(pair[1]);
  // In one loop task, so the router is gone before its timer can run (with
  // the two in separate tasks, a loaded machine let the 1 ms timer run
  // between them, and the connection was routed).
  OnLoop([&] {
    router_->Add(std::move(server));
    router_.reset();
  });
  // A later timer runs after the router's own.
  absl::Notification later;
  loop_->RunAfter(absl::Milliseconds(20), [&] { later.Notify(); });
  later.WaitForNotification();
  absl::MutexLock lock(&mu_);
  EXPECT_TRUE(routed_.empty());
}

}  // namespace
}  // namespace bowden::cli
