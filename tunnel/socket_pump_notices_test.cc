// SocketPump's notices against a real gRPC server on loopback: notices
// posted to a session's outbox reach the far end, with the bytes they
// precede at the latest and on their own when no bytes follow, and received
// notices reach the callback. NoticeMailbox's bounds. (And, with the same
// harness, the pump's reads: the bound on the bytes one Chunk carries, and
// no edge lost when a short read ends a round.)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/tunnel.grpc.pb.h"
#include "tunnel/completion_thread.h"
#include "tunnel/event_loop.h"
#include "tunnel/notice_mailbox.h"
#include "tunnel/socket_pump.h"

namespace bowden::tunnel {
namespace {

using bowden::v1::AgentService;
using bowden::v1::Chunk;
using bowden::v1::Notice;

Notice Refusal(const std::string& path) {
  Notice notice;
  notice.set_method("POST");
  notice.set_path(path);
  notice.set_rule("octoprint.printer.command");
  notice.set_reason("viewers may not send G-code");
  notice.set_role("viewer");
  notice.set_status(403);
  notice.set_verdict("deny");
  return notice;
}

// Records every Chunk it receives (the stream's order) until the client
// half-closes; then, if asked, answers with one Chunk carrying notices.
class RecordingService final : public AgentService::Service {
 public:
  grpc::Status Carry(grpc::ServerContext* /*context*/,
                     grpc::ServerReaderWriter<Chunk, Chunk>* stream) override {
    Chunk chunk;
    while (stream->Read(&chunk)) {
      absl::MutexLock lock(&mu_);
      chunks_.push_back(chunk);
    }
    Chunk answer;
    answer.set_data("bye");
    *answer.add_notices() = Refusal("/api/answer");
    answer.set_fin(true);
    stream->Write(answer);
    return grpc::Status::OK;
  }

  std::vector<Chunk> chunks() {
    absl::MutexLock lock(&mu_);
    return chunks_;
  }
  // Waits until the notices received so far satisfy `done`.
  bool WaitFor(const std::function<bool(const std::vector<Chunk>&)>& done) {
    absl::MutexLock lock(&mu_);
    auto ready = [&] {
      mu_.AssertHeld();
      return done(chunks_);
    };
    return mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Seconds(20));
  }

 private:
  absl::Mutex mu_;
  std::vector<Chunk> chunks_ ABSL_GUARDED_BY(mu_);
};

int CountNotices(const std::vector<Chunk>& chunks) {
  int count = 0;
  for (const Chunk& chunk : chunks) count += chunk.notices_size();
  return count;
}

class SocketPumpNoticesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = AgentService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                            grpc::InsecureChannelCredentials()));
    auto loop = EventLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
  }
  void TearDown() override { server_->Shutdown(); }

  // Pumps one end of a socketpair; returns the other end.
  UniqueFd StartPump(PumpNotices notices) {
    int pair[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    StartPumpOn(UniqueFd(pair[0]), std::move(notices));
    return UniqueFd(pair[1]);
  }

  // A connected pair of TCP sockets on loopback, as the pump sees in use:
  // {the pump's end, the user's end}.
  static std::pair<UniqueFd, UniqueFd> TcpPair() {
    UniqueFd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    auto* any = reinterpret_cast<sockaddr*>(&address);
    EXPECT_EQ(bind(listener.get(), any, length), 0);
    EXPECT_EQ(listen(listener.get(), 1), 0);
    EXPECT_EQ(getsockname(listener.get(), any, &length), 0);
    UniqueFd user(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    EXPECT_EQ(connect(user.get(), any, length), 0);
    UniqueFd pumped(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return {std::move(pumped), std::move(user)};
  }

  // What the far end writes to `user` until it closes it.
  static std::string ReadToEnd(int user) {
    std::string bytes;
    char buffer[64];
    for (ssize_t n; (n = recv(user, buffer, sizeof(buffer), 0)) > 0;)
      bytes.append(buffer, n);
    return bytes;
  }

  // Waits until the server has received the fin Chunk.
  bool WaitForFin() {
    return service_.WaitFor([](const auto& chunks) {
      return !chunks.empty() && chunks.back().fin();
    });
  }

  // The bytes the server has received, in order.
  std::string BytesUp() {
    std::string bytes;
    for (const Chunk& chunk : service_.chunks()) bytes += chunk.data();
    return bytes;
  }

  void StartPumpOn(UniqueFd socket, PumpNotices notices) {
    AgentService::Stub* stub = stub_.get();
    SocketPump::Start(
        loop_.get(), &calls_, std::move(socket),
        std::make_unique<grpc::ClientContext>(),
        [stub](grpc::ClientContext* context, grpc::CompletionQueue* cq) {
          return stub->PrepareAsyncCarry(context, cq);
        },
        [this](const PumpResult& result) {
          status_ = result.status;
          done_.Notify();
        },
        std::move(notices));
  }

  RecordingService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<AgentService::Stub> stub_;
  CompletionThread calls_;
  std::unique_ptr<EventLoop> loop_;
  grpc::Status status_;
  absl::Notification done_;
};

// The refusal is the last thing on the connection: no bytes follow the
// notice, and it still arrives (in a Chunk without data).
TEST_F(SocketPumpNoticesTest, ANoticeNothingFollowsStillGoesUp) {
  auto outbox = std::make_shared<NoticeMailbox>();
  UniqueFd user = StartPump({outbox, nullptr});
  loop_->Post([outbox] { outbox->Post(Refusal("/api/printer/command")); });
  ASSERT_TRUE(service_.WaitFor(
      [](const auto& chunks) { return CountNotices(chunks) == 1; }));
  std::vector<Chunk> chunks = service_.chunks();
  EXPECT_EQ(chunks.back().data(), "");
  EXPECT_FALSE(chunks.back().fin());
  EXPECT_EQ(chunks.back().notices(0).path(), "/api/printer/command");
  EXPECT_EQ(chunks.back().notices(0).reason(), "viewers may not send G-code");
  // Half-close, not close: the server's answer still has to reach this
  // socket, and a closed one would make the pump's write fail and cancel
  // the call (a race with the server's OK status, seen in CI).
  ASSERT_EQ(shutdown(user.get(), SHUT_WR), 0);  // the fin ends the call
  EXPECT_EQ(ReadToEnd(user.get()), "bye");
  done_.WaitForNotification();
  EXPECT_TRUE(status_.ok()) << status_.error_message();
}

// Notice i is posted before bytes "i;" are written to the socket, from
// another thread than the pump's, while the pump may be busy writing: each
// notice must travel in the Chunk holding "i;" or an earlier one, never
// later and never twice.
TEST_F(SocketPumpNoticesTest, NoticesTravelNoLaterThanTheBytesAfterThem) {
  auto outbox = std::make_shared<NoticeMailbox>();
  UniqueFd user = StartPump({outbox, nullptr});
  constexpr int kRounds = 300;
  for (int i = 0; i < kRounds; ++i) {
    outbox->Post(Refusal(absl::StrCat("/", i)));
    std::string bytes = absl::StrCat(i, ";");
    ASSERT_EQ(send(user.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    // Fewer than kMaxPending wait at once: none is dropped.
    if (i % 50 == 49) {
      ASSERT_TRUE(service_.WaitFor(
          [i](const auto& chunks) { return CountNotices(chunks) == i + 1; }));
    }
  }
  // Every notice and every byte: the last notice may travel alone, ahead of
  // the last bytes.
  const std::string last = absl::StrCat(kRounds - 1, ";");
  ASSERT_TRUE(service_.WaitFor([&last](const auto& chunks) {
    std::string data;
    for (const Chunk& chunk : chunks) data += chunk.data();
    return CountNotices(chunks) == kRounds && absl::EndsWith(data, last);
  }));
  std::vector<int> notice_chunk(kRounds, -1);
  std::vector<int> bytes_chunk(kRounds, -1);
  std::string data;
  std::vector<Chunk> chunks = service_.chunks();
  for (size_t c = 0; c < chunks.size(); ++c) {
    for (const Notice& notice : chunks[c].notices()) {
      int i = 0;
      ASSERT_TRUE(absl::SimpleAtoi(notice.path().substr(1), &i))
          << notice.path();
      EXPECT_EQ(notice_chunk[i], -1) << "notice " << i << " came twice";
      notice_chunk[i] = c;
    }
    // Which rounds' bytes are complete once this Chunk is in.
    data += chunks[c].data();
    std::vector<std::string> parts = absl::StrSplit(data, ';');
    for (size_t p = 0; p + 1 < parts.size(); ++p) {
      if (bytes_chunk[p] == -1) bytes_chunk[p] = c;
    }
  }
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_NE(bytes_chunk[i], -1) << i;
    EXPECT_LE(notice_chunk[i], bytes_chunk[i])
        << "notice " << i << " came after its bytes";
  }
  user.reset();
  done_.WaitForNotification();
}

TEST_F(SocketPumpNoticesTest, ReceivedNoticesGoToTheCallback) {
  absl::Mutex mu;
  std::vector<Notice> received;
  UniqueFd user = StartPump(
      {nullptr, [&](const google::protobuf::RepeatedPtrField<Notice>& notices) {
         absl::MutexLock lock(&mu);
         received.assign(notices.begin(), notices.end());
       }});
  shutdown(user.get(), SHUT_WR);  // the server answers once we are done
  EXPECT_EQ(ReadToEnd(user.get()), "bye");
  done_.WaitForNotification();
  absl::MutexLock lock(&mu);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].path(), "/api/answer");
}

// A stalled session's buffers are counted in Chunks (docs/architecture.md),
// so a Chunk never carries more than kMaxChunkBytes, however much the socket
// has ready; and all the bytes arrive, in order.
TEST_F(SocketPumpNoticesTest, AChunkCarriesAtMostMaxChunkBytes) {
  UniqueFd user = StartPump({});
  std::string sent;
  for (int i = 0; sent.size() < (1 << 20); ++i) absl::StrAppend(&sent, i, ",");
  // Blocking writes of 256 KiB: the socketpair holds more than a Chunk at a
  // time, so the pump's reads could take more than one Chunk's worth.
  for (size_t at = 0; at < sent.size();) {
    ssize_t n =
        send(user.get(), sent.data() + at,
             std::min<size_t>(256 << 10, sent.size() - at), MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    at += n;
  }
  ASSERT_EQ(shutdown(user.get(), SHUT_WR), 0);
  ASSERT_TRUE(WaitForFin());
  std::string received;
  for (const Chunk& chunk : service_.chunks()) {
    EXPECT_LE(chunk.data().size(), SocketPump::kMaxChunkBytes);
    received += chunk.data();
  }
  EXPECT_EQ(received, sent);
  user.reset();
  done_.WaitForNotification();
}

// Bytes and the FIN are both queued when the pump first looks, so one edge
// announces both. The first read returns the bytes only, short of a Chunk;
// the pump must still read on and find the FIN, though no edge follows
// (a short read otherwise ends the round without another recv).
TEST_F(SocketPumpNoticesTest, BytesAndFinBehindOneEdgeBothGoUp) {
  auto [pumped, user] = TcpPair();
  ASSERT_EQ(send(user.get(), "hello", 5, MSG_NOSIGNAL), 5);
  ASSERT_EQ(shutdown(user.get(), SHUT_WR), 0);
  StartPumpOn(std::move(pumped), {});
  ASSERT_TRUE(WaitForFin());
  EXPECT_EQ(BytesUp(), "hello");
  EXPECT_EQ(ReadToEnd(user.get()), "bye");
  done_.WaitForNotification();
  EXPECT_TRUE(status_.ok()) << status_.error_message();
}

// Request-sized writes, each sent when the last has gone up (the pump idle
// with the token at the loop) or at once (the pump busy writing): a round
// that ends on a short read without a second recv must not lose an edge.
TEST_F(SocketPumpNoticesTest, SmallWritesAllGoUpWhetherThePumpIsIdleOrBusy) {
  auto [pumped, user] = TcpPair();
  StartPumpOn(std::move(pumped), {});
  std::string sent;
  for (int i = 0; i < 400; ++i) {
    std::string bytes = absl::StrCat(i, ";");
    ASSERT_EQ(send(user.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
    sent += bytes;
    if (i % 2 == 1) continue;  // odd rounds follow at once
    ASSERT_TRUE(service_.WaitFor([&sent](const auto& chunks) {
      size_t size = 0;
      for (const Chunk& chunk : chunks) size += chunk.data().size();
      return size == sent.size();
    })) << "round " << i;
  }
  ASSERT_EQ(shutdown(user.get(), SHUT_WR), 0);
  ASSERT_TRUE(WaitForFin());
  EXPECT_EQ(BytesUp(), sent);
  EXPECT_EQ(ReadToEnd(user.get()), "bye");
  done_.WaitForNotification();
}

TEST(NoticeMailboxTest, AFullMailboxCountsInsteadOfKeeping) {
  NoticeMailbox mailbox;
  EXPECT_FALSE(mailbox.pending());
  Notice big = Refusal(std::string(100000, 'p'));
  mailbox.Post(big);
  for (size_t i = 1; i < NoticeMailbox::kMaxPending + 36; ++i)
    mailbox.Post(Refusal("/x"));
  EXPECT_TRUE(mailbox.pending());
  Chunk chunk;
  ASSERT_TRUE(mailbox.TakeInto(&chunk));
  EXPECT_FALSE(mailbox.pending());
  ASSERT_EQ(chunk.notices_size(), static_cast<int>(NoticeMailbox::kMaxPending));
  EXPECT_EQ(chunk.notices(0).path().size(), NoticeMailbox::kMaxFieldBytes);
  EXPECT_EQ(chunk.notices(chunk.notices_size() - 1).dropped_after(), 36u);
  EXPECT_FALSE(mailbox.TakeInto(&chunk));
}

}  // namespace
}  // namespace bowden::tunnel
