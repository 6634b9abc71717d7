// CqBidiReactor against a real gRPC server on loopback (plaintext: the
// adapter does not care about credentials, and the end-to-end tests cover
// TLS).

#include "tunnel/cq_bidi_reactor.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "proto/tunnel.grpc.pb.h"
#include "tunnel/completion_thread.h"

namespace bowden::tunnel {
namespace {

using bowden::v1::AgentService;
using bowden::v1::Chunk;

// Carry echoes every Chunk until the client half-closes, unless the
// client's metadata asks it to refuse the call at once.
class EchoService final : public AgentService::Service {
 public:
  grpc::Status Carry(grpc::ServerContext* context,
                     grpc::ServerReaderWriter<Chunk, Chunk>* stream) override {
    if (context->client_metadata().count("refuse") > 0) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "refused");
    }
    Chunk chunk;
    while (stream->Read(&chunk)) stream->Write(chunk);
    return grpc::Status::OK;
  }
};

// Records its reactions in order; sends `to_send` one by one, then
// half-closes, and reads until the stream ends.
class Recorder final : public CqBidiReactor<Chunk, Chunk> {
 public:
  Recorder(CompletionThread* thread, AgentService::Stub* stub,
           std::vector<std::string> to_send, bool refuse)
      : to_send_(std::move(to_send)) {
    if (refuse) context_.AddMetadata("refuse", "1");
    BindCall(thread, &context_,
             [stub](grpc::ClientContext* context, grpc::CompletionQueue* cq) {
               return stub->PrepareAsyncCarry(context, cq);
             });
  }

  // Everything before StartCall is queued by the adapter.
  void Begin(bool read) {
    if (read) StartRead(&in_);
    SendNext();
    StartCall();
  }

  void OnReadDone(bool ok) override {
    Log(ok ? "read:" + in_.data() : "read-end");
    if (ok) StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    Log(ok ? "wrote" : "write-failed");
    if (ok) SendNext();
  }
  void OnWritesDoneDone(bool ok) override { Log(ok ? "writes-done" : "writes-done-failed"); }
  void OnDone(const grpc::Status& status) override {
    status_ = status;
    Log("done");
    done_.Notify();
  }

  grpc::Status Wait() {
    done_.WaitForNotification();
    return status_;
  }
  std::vector<std::string> log() {
    absl::MutexLock lock(&mu_);
    return log_;
  }

 private:
  void SendNext() {
    if (next_ < to_send_.size()) {
      out_.set_data(to_send_[next_++]);
      StartWrite(&out_);
    } else {
      StartWritesDone();
    }
  }
  void Log(std::string entry) {
    absl::MutexLock lock(&mu_);
    log_.push_back(std::move(entry));
  }

  grpc::ClientContext context_;
  std::vector<std::string> to_send_;
  size_t next_ = 0;
  Chunk in_;
  Chunk out_;
  grpc::Status status_;
  absl::Notification done_;
  absl::Mutex mu_;
  std::vector<std::string> log_ ABSL_GUARDED_BY(mu_);
};

class CqBidiReactorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    stub_ = AgentService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(); }

  EchoService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<AgentService::Stub> stub_;
  CompletionThread thread_;
};

TEST_F(CqBidiReactorTest, OperationsStartedBeforeTheCallGoOutInOrder) {
  Recorder recorder(&thread_, stub_.get(), {"one", "two", "three"}, /*refuse=*/false);
  recorder.Begin(/*read=*/true);
  EXPECT_TRUE(recorder.Wait().ok());
  std::vector<std::string> log = recorder.log();
  // Reads and writes interleave freely; each direction keeps its order and
  // OnDone comes last.
  std::vector<std::string> reads, writes;
  for (const std::string& entry : log) {
    if (entry.rfind("read", 0) == 0) reads.push_back(entry);
    if (entry.rfind("wr", 0) == 0) writes.push_back(entry);
  }
  EXPECT_EQ(reads, (std::vector<std::string>{"read:one", "read:two", "read:three", "read-end"}));
  EXPECT_EQ(writes, (std::vector<std::string>{"wrote", "wrote", "wrote", "writes-done"}));
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back(), "done");
}

TEST_F(CqBidiReactorTest, ACallTheServerEndsIsDoneWithoutAReadOutstanding) {
  // No read is ever started: only the status asked for at start-up can
  // bring OnDone.
  Recorder recorder(&thread_, stub_.get(), {}, /*refuse=*/true);
  recorder.Begin(/*read=*/false);
  grpc::Status status = recorder.Wait();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(), "refused");
  EXPECT_EQ(recorder.log().back(), "done");
}

TEST_F(CqBidiReactorTest, ACallThatCannotStartFailsItsOperationsThenIsDone) {
  server_->Shutdown();  // nothing listens on the port any more
  Recorder recorder(&thread_, stub_.get(), {"lost"}, /*refuse=*/false);
  recorder.Begin(/*read=*/true);
  EXPECT_EQ(recorder.Wait().error_code(), grpc::StatusCode::UNAVAILABLE);
  std::vector<std::string> log = recorder.log();
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log.back(), "done");
  // The two failed operations may react in either order.
  std::sort(log.begin(), log.end() - 1);
  EXPECT_EQ(log, (std::vector<std::string>{"read-end", "write-failed", "done"}));
}

}  // namespace
}  // namespace bowden::tunnel
