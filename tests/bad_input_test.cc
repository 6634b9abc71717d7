// Bad input at the relay: none of it may crash or stall the relay or disturb
// other sessions, and each gets a specific, explained status.

#include <openssl/obj_mac.h>
#include <sys/socket.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "certs/test_x509.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "proto/tunnel.grpc.pb.h"
#include "tests/harness.h"
#include "transport/relay_channel.h"

namespace bowden::testing {
namespace {

using bowden::v1::Chunk;

class BadInputTest : public ::testing::Test {
 protected:
  BadInputTest()
      : echo_(EchoUntilEof),
        quitter_([](tunnel::UniqueFd) {}),  // closes at once
        dead_port_(ClosedPort()),
        farm_(Options()) {}

  Farm::Options Options() {
    Farm::Options options;
    options.relay_extra_flags = {"--allow", "alice=prusa-*"};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none"),
                       absl::StrCat("quitter=127.0.0.1:", quitter_.port()),
                       absl::StrCat("dead=127.0.0.1:", dead_port_)};
    return options;
  }

  void SetUp() override { ASSERT_TRUE(farm_.WaitAttached()); }

  std::shared_ptr<grpc::Channel> ChannelAs(const std::string& name) {
    return transport::MakeRelayChannel(farm_.relay_address(), farm_.pki().Files(name));
  }

  // One Dial as `user` (see DialOnce).
  grpc::Status Dial(const std::string& user, const std::string& printer,
                    const std::string& target, const std::string& payload = "") {
    return DialOnce(farm_.relay_address(), farm_.pki().Files(user), printer, target,
                    payload);
  }

  // A session through the CLI still round-trips bytes.
  void ExpectServiceIntact() {
    int port = farm_.Open("alice", "prusa-01", "octoprint");
    ASSERT_NE(port, 0);
    tunnel::UniqueFd socket = ConnectTo(port);
    ASSERT_TRUE(WriteAll(socket.get(), "still serving"));
    shutdown(socket.get(), SHUT_WR);
    EXPECT_EQ(ReadAll(socket.get()), "still serving");
    EXPECT_TRUE(farm_.relay().running());
  }

  TcpTarget echo_;
  TcpTarget quitter_;
  int dead_port_;
  Farm farm_;
};

TEST_F(BadInputTest, GarbageAndPlainHttpOnTheRelayPortAreDropped) {
  for (const std::string& junk :
       {RandomBytes(64 * 1024),
        std::string("GET / HTTP/1.1\r\nHost: relay\r\n\r\n"),
        std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")}) {
    tunnel::UniqueFd socket = ConnectTo(farm_.relay_port());
    timeval timeout{10, 0};
    setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    WriteAll(socket.get(), junk);
    char buffer[4096];
    ssize_t n;
    while ((n = read(socket.get(), buffer, sizeof(buffer))) > 0) {
    }
    // Closed by the relay (EOF or reset), not a 10 s receive timeout.
    EXPECT_TRUE(n == 0 || errno == ECONNRESET) << "errno " << errno;
  }
  std::string out;
  EXPECT_NE(RunToCompletion({"/usr/bin/curl", "-sS", "--max-time", "10",
                             absl::StrCat("http://", farm_.relay_address(), "/")},
                            &out),
            0);
  ExpectServiceIntact();
}

TEST_F(BadInputTest, TlsWithoutAClientCertificateIsRefused) {
  grpc::SslCredentialsOptions ssl;
  std::ifstream ca(farm_.pki().Files("alice").ca);
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(ca), {});
  auto channel = grpc::CreateChannel(farm_.relay_address(), grpc::SslCredentials(ssl));
  auto stub = bowden::v1::UserService::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  bowden::v1::ListPrintersResponse response;
  grpc::Status status = stub->ListPrinters(&context, {}, &response);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(response.printers_size(), 0);
  ExpectServiceIntact();
}

TEST_F(BadInputTest, ACertificateFromAnotherCaIsRefused) {
  Pki other(farm_.dir().File("other-pki"), "farm.test");
  other.Issue("user", "alice");
  identity::TlsFiles stranger = other.Files("alice");
  std::string out;
  int code = RunToCompletion({BinaryPath("cli/bowden"), "--relay", farm_.relay_address(),
                              "--cert", stranger.cert, "--key", stranger.key, "--ca",
                              farm_.pki().Files("alice").ca, "ls"},
                             &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "TLS handshake")) << out;
  ExpectServiceIntact();
}

TEST_F(BadInputTest, AnAgentCertificateCannotActAsAUser) {
  auto stub = bowden::v1::UserService::NewStub(ChannelAs("prusa-01"));
  grpc::ClientContext context;
  bowden::v1::ListPrintersResponse response;
  grpc::Status status = stub->ListPrinters(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << status.error_message();
  EXPECT_EQ(Dial("prusa-01", "prusa-01", "octoprint").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  std::vector<std::string> cli = farm_.CliAs("prusa-01");
  cli.push_back("ls");
  std::string out;
  EXPECT_EQ(RunToCompletion(cli, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "needs a user certificate")) << out;
  ExpectServiceIntact();
}

// A CA certificate the farm CA signed chains like a leaf; it must still not
// pass as a user (or any peer).
TEST_F(BadInputTest, ACaCertificateFromTheFarmCaIsNoPeer) {
  namespace x509 = certs::test_x509;
  x509::X509Ptr ca = x509::ParseCert(ReadFileOrEmpty(farm_.pki().dir() + "/ca.crt"));
  x509::KeyPtr ca_key = x509::ParseKey(ReadFileOrEmpty(farm_.pki().dir() + "/ca.key"));
  x509::KeyPtr key = x509::GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
  ASSERT_TRUE(ca != nullptr && ca_key != nullptr && key != nullptr);
  TempDir files;
  identity::TlsFiles tls{files.File("alice-ca.crt"), files.File("alice-ca.key"),
                         farm_.pki().Files("alice").ca};
  std::ofstream(tls.cert) << x509::IssueCert(
      ca.get(), ca_key.get(), key.get(), "alice",
      {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
       {NID_key_usage, "critical,digitalSignature,keyCertSign"},
       {NID_ext_key_usage, "clientAuth,serverAuth"},
       {NID_subject_alt_name, "URI:spiffe://farm.test/user/alice"}});
  std::ofstream(tls.key) << x509::PrivateKeyPem(key.get());

  // Refused in the TLS handshake, with the reason in the relay's log (and
  // its audit log, see tls_refusal_e2e_test); identity/peer.cc would refuse
  // it again on every call.
  auto stub = bowden::v1::UserService::NewStub(
      transport::MakeRelayChannel(farm_.relay_address(), tls));
  grpc::ClientContext context;
  bowden::v1::ListPrintersResponse response;
  grpc::Status status = stub->ListPrinters(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(DialOnce(farm_.relay_address(), tls, "prusa-01", "octoprint").error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(farm_.relay().WaitForOutput(
      "is a CA certificate (basicConstraints CA:TRUE and keyUsage keyCertSign), not a leaf"))
      << farm_.relay().Stderr();
  ExpectServiceIntact();
}

TEST_F(BadInputTest, AUserCertificateCannotAttachAsAnAgent) {
  auto stub = bowden::v1::AgentService::NewStub(ChannelAs("alice"));
  grpc::ClientContext context;
  auto stream = stub->Attach(&context);
  bowden::v1::AgentMessage hello;
  hello.mutable_hello()->add_targets("octoprint");
  stream->Write(hello);
  bowden::v1::RelayMessage reply;
  EXPECT_FALSE(stream->Read(&reply));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << status.error_message();

  identity::TlsFiles alice = farm_.pki().Files("alice");
  std::string out;
  EXPECT_EQ(RunToCompletion({BinaryPath("agent/bowden-agent"), "--relay",
                             farm_.relay_address(), "--cert", alice.cert, "--key",
                             alice.key, "--ca", alice.ca, "--target",
                             "octoprint=127.0.0.1:1"},
                            &out),
            1);
  EXPECT_TRUE(absl::StrContains(out, "not an agent")) << out;
  ExpectServiceIntact();
}

TEST_F(BadInputTest, ASecondAgentWithTheSamePrinterIdWaitsForTheFirstToGo) {
  identity::TlsFiles tls = farm_.pki().Files("prusa-01");
  Process second({BinaryPath("agent/bowden-agent"), "--relay", farm_.relay_address(),
                  "--cert", tls.cert, "--key", tls.key, "--ca", tls.ca, "--target",
                  absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")},
                 farm_.dir().File("second-agent"));
  ASSERT_TRUE(second.WaitForOutput("is already attached")) << second.Stderr();
  ExpectServiceIntact();  // the first agent's sessions are untouched

  farm_.agent().Signal(SIGKILL);
  ASSERT_TRUE(second.WaitForOutput("attached as printer", 1, absl::Seconds(45)))
      << second.Stderr();
  ExpectServiceIntact();  // now through the second agent
}

// An agent that attaches and then never opens the sessions it is sent (hung,
// or a bug): each session fails once the relay's open timeout (15 s) has
// passed, saying so, and the rest of the farm is served meanwhile.
TEST_F(BadInputTest, ASessionItsPrinterNeverOpensFailsAfterTheOpenTimeout) {
  farm_.pki().Issue("agent", "prusa-02");
  auto stub = bowden::v1::AgentService::NewStub(ChannelAs("prusa-02"));
  grpc::ClientContext attach_context;
  auto attach = stub->Attach(&attach_context);
  bowden::v1::AgentMessage hello;
  hello.mutable_hello()->add_targets("octoprint");
  ASSERT_TRUE(attach->Write(hello));
  bowden::v1::RelayMessage message;
  ASSERT_TRUE(attach->Read(&message));
  ASSERT_TRUE(message.has_attached()) << message.DebugString();

  grpc::Status dialled;
  std::thread dial([&] { dialled = Dial("alice", "prusa-02", "octoprint"); });
  ASSERT_TRUE(attach->Read(&message));  // the relay asks; nobody answers
  EXPECT_TRUE(message.has_open_session()) << message.DebugString();
  ExpectServiceIntact();
  dial.join();
  EXPECT_EQ(dialled.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED)
      << dialled.error_message();
  EXPECT_EQ(dialled.error_message(),
            "printer 'prusa-02' did not open the session within 15s");
  ExpectServiceIntact();
  attach_context.TryCancel();
}

// A client whose certificate is valid but of the wrong kind calls in a loop:
// each call is refused, but the audit log and the relay's log get a bounded
// number of rows (burst 20, then one a second per actor) and a summary that
// counts the rest, so the count stays whole and the disk does not fill.
TEST_F(BadInputTest, AFloodOfRefusedCallsIsAuditedWithinABound) {
  auto stub = bowden::v1::UserService::NewStub(ChannelAs("prusa-01"));
  const int kCalls = 300;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kCalls; ++i) {
    grpc::ClientContext context;
    bowden::v1::ListPrintersRequest request;
    bowden::v1::ListPrintersResponse response;
    grpc::Status status = stub->ListPrinters(&context, request, &response);
    ASSERT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << status.error_message();
  }
  ExpectServiceIntact();
  farm_.relay().Signal(SIGTERM);  // writes the summary
  ASSERT_EQ(farm_.relay().Wait(absl::Seconds(60)), 0) << farm_.relay().Stderr();
  // The bucket: 20 at once, then one a second.
  const int64_t bound = 20 + absl::ToInt64Seconds(absl::Now() - start) + 1;

  auto log = audit::AuditLog::Open(farm_.dir().File("state/audit.db"));
  ASSERT_TRUE(log.ok()) << log.status();
  bowden::v1::AuditQuery query;
  query.set_kind("auth");
  query.set_user("spiffe://farm.test/agent/prusa-01");
  query.set_limit(10000);
  auto rows = (*log)->Query(query);
  ASSERT_TRUE(rows.ok()) << rows.status();
  int64_t individual = 0, suppressed = 0;
  for (const bowden::v1::AuditEvent& row : *rows) {
    if (row.outcome() != "denied") continue;
    auto it = row.fields().find("suppressed");
    if (it == row.fields().end()) {
      ++individual;
    } else {
      int64_t n = 0;
      ASSERT_TRUE(absl::SimpleAtoi(it->second, &n)) << it->second;
      suppressed += n;
    }
  }
  EXPECT_LE(individual, bound);
  EXPECT_EQ(individual + suppressed, kCalls);
  EXPECT_LE(CountOccurrences(farm_.relay().Stderr(), "refused user call from"),
            bound);
}

TEST_F(BadInputTest, AnOversizedMessageIsRefused) {
  grpc::Status status = Dial("alice", "prusa-01", "octoprint", RandomBytes(2 << 20));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  ExpectServiceIntact();
}

TEST_F(BadInputTest, AnUnknownSessionIdOnADataStreamIsRefused) {
  auto stub = bowden::v1::AgentService::NewStub(ChannelAs("prusa-01"));
  grpc::ClientContext context;
  context.AddMetadata("bowden-session-id", "0123456789abcdef01234567");
  auto stream = stub->Carry(&context);
  Chunk chunk;
  chunk.set_data("smuggled bytes");
  stream->Write(chunk);
  stream->WritesDone();
  while (stream->Read(&chunk)) {
  }
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  ExpectServiceIntact();
}

TEST_F(BadInputTest, ATargetThatRefusesGivesAClearError) {
  grpc::Status status = Dial("alice", "prusa-01", "dead", "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "refused the connection"))
      << status.error_message();

  int port = farm_.Open("alice", "prusa-01", "dead");
  ASSERT_NE(port, 0);
  tunnel::UniqueFd socket = ConnectTo(port);
  EXPECT_EQ(ReadAll(socket.get()), "");
  // The user is told what refused: the printer's service, not the relay.
  Process& open = farm_.last_open();
  EXPECT_TRUE(open.WaitForOutput(absl::StrCat(
      "the printer's local service 'dead' (127.0.0.1:", dead_port_,
      ") refused the connection (Connection refused): is it running on the printer host?")))
      << open.Stderr();
  EXPECT_FALSE(absl::StrContains(open.Stderr(), "unreachable")) << open.Stderr();
  ExpectServiceIntact();
}

TEST_F(BadInputTest, ARelayCertificateForAnotherNameIsNamedAsSuch) {
  farm_.pki().Issue("relay", "elsewhere", {"--dns", "relay.farm.example"});
  identity::TlsFiles tls = farm_.pki().Files("elsewhere");
  TempDir other;
  int port = ClosedPort();
  Process relay({BinaryPath("relay/bowden-relay"), "--listen", absl::StrCat("127.0.0.1:", port),
                 "--cert", tls.cert, "--key", tls.key, "--ca", tls.ca, "--state-dir",
                 other.File("state"), "--allow", "alice=prusa-*"},
                other.File("relay"));
  ASSERT_TRUE(relay.WaitForOutput("listening on port")) << relay.Stderr();
  std::vector<std::string> cli = farm_.CliAs("alice");
  cli[2] = absl::StrCat("127.0.0.1:", port);  // --relay value
  cli.push_back("ls");
  std::string out;
  EXPECT_EQ(RunToCompletion(cli, &out), 1);
  EXPECT_TRUE(absl::StrContains(out,
                                "bowden: the relay's certificate is not for 127.0.0.1 (it names "
                                "relay.farm.example): use --relay with a name in its certificate"))
      << out;
  EXPECT_FALSE(absl::StrContains(out, "unreachable")) << out;
}

TEST_F(BadInputTest, ATargetThatClosesAtOnceEndsTheSessionCleanly) {
  int port = farm_.Open("alice", "prusa-01", "quitter");
  ASSERT_NE(port, 0);
  tunnel::UniqueFd socket = ConnectTo(port);
  EXPECT_EQ(ReadAll(socket.get()), "");
  EXPECT_TRUE(Dial("alice", "prusa-01", "quitter").ok());
  ExpectServiceIntact();
}

TEST_F(BadInputTest, EachRefusalSaysWhy) {
  grpc::Status unknown = Dial("alice", "prusa-99", "octoprint");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StrContains(unknown.error_message(), "unknown")) << unknown.error_message();

  grpc::Status forbidden = Dial("alice", "mk4-01", "octoprint");
  EXPECT_EQ(forbidden.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(absl::StrContains(forbidden.error_message(), "not permitted"));

  grpc::Status no_target = Dial("alice", "prusa-01", "webcam");
  EXPECT_EQ(no_target.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(absl::StrContains(no_target.error_message(), "it offers"))
      << no_target.error_message();

  std::vector<std::string> cli = farm_.CliAs("alice");
  cli.insert(cli.end(), {"open", "--no-browser", "prusa-99"});
  std::string out;
  EXPECT_EQ(RunToCompletion(cli, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "unknown or you are not permitted")) << out;

  farm_.agent().Signal(SIGKILL);
  ASSERT_TRUE(farm_.relay().WaitForOutput("agent prusa-01 detached"));
  grpc::Status offline = Dial("alice", "prusa-01", "octoprint");
  EXPECT_EQ(offline.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(offline.error_message(), "offline"))
      << offline.error_message();

  std::vector<std::string> ls = farm_.CliAs("alice");
  ls.push_back("ls");
  EXPECT_EQ(RunToCompletion(ls, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "offline")) << out;
}

// gRPC's SO_REUSEPORT would let a second relay share the port and take
// some of the connections: it must fail to start, saying why, and the
// first must keep serving.
TEST_F(BadInputTest, ASecondRelayOnTheSamePortExitsAndTheFirstKeepsServing) {
  TempDir other;
  identity::TlsFiles tls = farm_.pki().Files("relay");
  Process second({BinaryPath("relay/bowden-relay"), "--listen", farm_.relay_address(), "--cert",
                  tls.cert, "--key", tls.key, "--ca", tls.ca, "--state-dir",
                  other.File("state"), "--allow", "alice=prusa-*"},
                 other.File("relay"));
  EXPECT_EQ(second.Wait(), 1);
  EXPECT_TRUE(absl::StrContains(
      second.Stderr(),
      absl::StrCat("port ", farm_.relay_port(), " is in use: is another relay running?")))
      << second.Stderr();
  EXPECT_FALSE(absl::StrContains(second.Stdout(), "listening")) << second.Stdout();
  // Every new connection reaches the first relay (the agent is attached
  // only there): a share going to a second one would fail as offline.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Dial("alice", "prusa-01", "octoprint", "hi").ok());
  ExpectServiceIntact();
}

TEST_F(BadInputTest, AnUnreachableRelayIsNamedAsSuch) {
  std::vector<std::string> cli = farm_.CliAs("alice");
  cli[2] = absl::StrCat("127.0.0.1:", ClosedPort());  // --relay value
  cli.push_back("ls");
  std::string out;
  EXPECT_EQ(RunToCompletion(cli, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "refused the connection: nothing listens there")) << out;
}

}  // namespace
}  // namespace bowden::testing
