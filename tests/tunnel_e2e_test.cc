// End-to-end: real relay, agent and CLI processes on loopback carrying real
// TCP connections to in-process targets and to a real nginx.

#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

Farm::Options FarmWith(const std::vector<std::string>& targets) {
  Farm::Options options;
  options.relay_extra_flags = {"--allow", "alice=prusa-*"};
  options.targets = targets;
  return options;
}

TEST(TunnelTest, TenMebibytesBothWaysArriveIntact) {
  TcpTarget echo(EchoUntilEof);
  Farm farm(FarmWith({absl::StrCat("octoprint=127.0.0.1:", echo.port(), ",guard=none")}));
  ASSERT_TRUE(farm.WaitAttached());
  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);

  const std::string payload = RandomBytes(10 << 20);
  tunnel::UniqueFd socket = ConnectTo(port);
  std::thread writer([&] {
    EXPECT_TRUE(WriteAll(socket.get(), payload));
    shutdown(socket.get(), SHUT_WR);  // half-close: the echo must still come back
  });
  std::string echoed = ReadAll(socket.get());
  writer.join();
  EXPECT_EQ(echoed.size(), payload.size());
  EXPECT_EQ(Sha256Hex(echoed), Sha256Hex(payload));
}

TEST(TunnelTest, HalfCloseStillDeliversTheWholeResponse) {
  // The target answers only after it has seen EOF, so the response can only
  // arrive if the client's shutdown(SHUT_WR) passed through as a half-close
  // and the other direction kept flowing.
  TcpTarget target([](tunnel::UniqueFd s) { DigestAfterEof(std::move(s), 3 << 20); });
  Farm farm(FarmWith({absl::StrCat("octoprint=127.0.0.1:", target.port(), ",guard=none")}));
  ASSERT_TRUE(farm.WaitAttached());
  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);

  const std::string request = RandomBytes(200000);
  tunnel::UniqueFd socket = ConnectTo(port);
  ASSERT_TRUE(WriteAll(socket.get(), request));
  ASSERT_EQ(shutdown(socket.get(), SHUT_WR), 0);
  std::string response = ReadAll(socket.get());
  EXPECT_EQ(response, Sha256Hex(request) + "\n" + std::string(3 << 20, 'z'));
}

TEST(TunnelTest, FiftyConcurrentSessions) {
  TcpTarget echo(EchoUntilEof);
  Farm farm(FarmWith({absl::StrCat("octoprint=127.0.0.1:", echo.port(), ",guard=none")}));
  ASSERT_TRUE(farm.WaitAttached());
  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);

  constexpr int kSessions = 50;
  std::atomic<int> intact{0};
  absl::Mutex mu;
  std::vector<std::string> broken;  // what went wrong, for the failure message
  std::vector<std::thread> clients;
  for (int i = 0; i < kSessions; ++i) {
    clients.emplace_back([&, i] {
      const std::string payload = RandomBytes(256 * 1024 + i);
      tunnel::UniqueFd socket = ConnectTo(port);
      std::thread writer([&] {
        WriteAll(socket.get(), payload);
        shutdown(socket.get(), SHUT_WR);
      });
      std::string echoed = ReadAll(socket.get());
      writer.join();
      if (echoed == payload) {
        ++intact;
        return;
      }
      size_t same = 0;
      while (same < echoed.size() && same < payload.size() && echoed[same] == payload[same]) {
        ++same;
      }
      absl::MutexLock lock(&mu);
      broken.push_back(absl::StrCat("session ", i, ": got ", echoed.size(), " of ",
                                    payload.size(), " bytes, first difference at ", same));
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_EQ(intact.load(), kSessions)
      << absl::StrJoin(broken, "\n") << "\nrelay:\n" << farm.relay().Stderr().substr(0, 20000)
      << "\nagent:\n" << farm.agent().Stderr().substr(0, 20000);
  EXPECT_EQ(echo.accepted(), kSessions);
}

TEST(TunnelTest, EndlessStreamCutByTheClientEndsTheTargetConnection) {
  // An MJPEG-like target that never stops sending; it records how its
  // connection ended.
  std::atomic<bool> target_saw_close{false};
  TcpTarget camera([&](tunnel::UniqueFd s) {
    std::string frame = "--frame\r\nContent-Type: image/jpeg\r\n\r\n" +
                        std::string(32 * 1024, 'j') + "\r\n";
    WriteAll(s.get(),
             "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; "
             "boundary=frame\r\n\r\n");
    while (WriteAll(s.get(), frame)) {
    }
    target_saw_close = true;
  });
  TcpTarget echo(EchoUntilEof);
  Farm farm(FarmWith({absl::StrCat("webcam=127.0.0.1:", camera.port(), ",guard=none"),
                      absl::StrCat("octoprint=127.0.0.1:", echo.port(), ",guard=none")}));
  ASSERT_TRUE(farm.WaitAttached());
  int cam_port = farm.Open("alice", "prusa-01", "webcam");
  ASSERT_NE(cam_port, 0);
  {
    tunnel::UniqueFd socket = ConnectTo(cam_port);
    ASSERT_TRUE(WriteAll(socket.get(), "GET /?action=stream HTTP/1.1\r\n\r\n"));
    size_t received = 0;
    char buffer[65536];
    while (received < (4u << 20)) {
      ssize_t n = read(socket.get(), buffer, sizeof(buffer));
      ASSERT_GT(n, 0);
      received += n;
    }
  }  // the client closes mid-stream
  EXPECT_TRUE(WaitFor([&] { return target_saw_close.load(); }))
      << "the target kept streaming after the client went away";

  // The relay and agent still serve new sessions.
  int port = farm.Open("alice", "prusa-01", "octoprint");
  tunnel::UniqueFd socket = ConnectTo(port);
  ASSERT_TRUE(WriteAll(socket.get(), "ping"));
  shutdown(socket.get(), SHUT_WR);
  EXPECT_EQ(ReadAll(socket.get()), "ping");
}

TEST(TunnelTest, CurlThroughTheTunnelToRealNginx) {
  TempDir web;
  const std::string body = RandomBytes(10 << 20);
  {
    std::ofstream(web.File("big.bin"), std::ios::binary) << body;
  }
  int nginx_port = ClosedPort();
  std::ofstream(web.File("nginx.conf"))
      << "daemon off; master_process off; worker_processes 1;\n"
      << "pid " << web.File("nginx.pid") << ";\nerror_log stderr;\n"
      << "events {}\nhttp {\n access_log off;\n"
      << " client_body_temp_path " << web.path() << ";\n"
      << " proxy_temp_path " << web.path() << ";\n"
      << " fastcgi_temp_path " << web.path() << ";\n"
      << " uwsgi_temp_path " << web.path() << ";\n"
      << " scgi_temp_path " << web.path() << ";\n"
      << " server { listen 127.0.0.1:" << nginx_port << "; root " << web.path()
      << "; }\n}\n";
  Process nginx({"/usr/sbin/nginx", "-p", web.path(), "-c", web.File("nginx.conf")},
                web.File("nginx"));
  ASSERT_TRUE(WaitFor([&] {
    std::string out;
    return RunToCompletion({"/usr/bin/curl", "-sf", "-o", "/dev/null",
                            absl::StrCat("http://127.0.0.1:", nginx_port, "/big.bin")},
                           &out) == 0;
  })) << nginx.Stderr();

  Farm farm(FarmWith({absl::StrCat("octoprint=127.0.0.1:", nginx_port, ",guard=none")}));
  ASSERT_TRUE(farm.WaitAttached());
  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);
  std::string out;
  // Two requests on one keep-alive connection, then a fresh one.
  std::string url = absl::StrCat("http://127.0.0.1:", port, "/big.bin");
  ASSERT_EQ(RunToCompletion({"/usr/bin/curl", "-sSf", "-o", web.File("a"), url, "-o",
                             web.File("b"), url},
                            &out),
            0)
      << out;
  std::ifstream a(web.File("a"), std::ios::binary), b(web.File("b"), std::ios::binary);
  std::string got_a((std::istreambuf_iterator<char>(a)), {});
  std::string got_b((std::istreambuf_iterator<char>(b)), {});
  EXPECT_EQ(Sha256Hex(got_a), Sha256Hex(body));
  EXPECT_EQ(Sha256Hex(got_b), Sha256Hex(body));
  ASSERT_EQ(RunToCompletion({"/usr/bin/curl", "-sSf", "-o", "/dev/null", "-w",
                             "%{http_code}", url.substr(0, url.size() - 7) + "missing"},
                            &out),
            22)  // curl -f: HTTP 404 passes through as an HTTP error
      << out;
}

}  // namespace
}  // namespace bowden::testing
