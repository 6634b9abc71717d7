// Join tokens: an admin creates one, a new host enrolls with it (its key
// never leaves it), and reuse, expiry, a wrong CA pin and a bad CSR are each
// refused with a clear message.

#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "grpcpp/create_channel.h"

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "certs/ca.h"
#include "gtest/gtest.h"
#include "proto/tunnel.grpc.pb.h"
#include "tests/harness.h"
#include "transport/relay_channel.h"

namespace bowden::testing {
namespace {

class EnrollTest : public ::testing::Test {
 protected:
  EnrollTest() : echo_(EchoUntilEof) {
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"carol\" printers: \"*\" }\n";
    Farm::Options options;
    options.relay_extra_flags = {"--policy", policy_dir_.File("policy.textproto")};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")};
    options.enrollment = true;
    farm_ = std::make_unique<Farm>(options);
  }

  std::string CreateToken(const std::string& kind, const std::string& name,
                          const std::string& ttl = "10m") {
    std::vector<std::string> argv = farm_->CliAs("alice");
    argv.insert(argv.end(), {"token", "create", kind, name, "--ttl", ttl});
    std::string out;
    EXPECT_EQ(RunToCompletion(argv, &out), 0) << out;
    size_t start = out.find("bwj1_");
    EXPECT_NE(start, std::string::npos) << out;
    return out.substr(start, out.find('\n', start) - start);
  }

  int Login(const std::string& token, const std::string& dir, std::string* out) {
    return RunToCompletion({BinaryPath("cli/bowden"), "login", "--token", token, "--dir", dir},
                           out);
  }

  static bowden::v1::JoinToken Parse(const std::string& token) {
    std::string raw;
    bowden::v1::JoinToken parsed;
    EXPECT_TRUE(absl::WebSafeBase64Unescape(absl::StripPrefix(token, "bwj1_"), &raw));
    EXPECT_TRUE(parsed.ParseFromString(raw));
    return parsed;
  }

  // Straight to the enrollment port, trusting the farm CA from the test's PKI.
  std::unique_ptr<bowden::v1::EnrollService::Stub> EnrollStub(
      const bowden::v1::JoinToken& token) {
    grpc::SslCredentialsOptions ssl;
    std::ifstream ca(farm_->pki().Files("alice").ca);
    ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(ca), {});
    return bowden::v1::EnrollService::NewStub(
        grpc::CreateChannel(token.enroll_address(), grpc::SslCredentials(ssl)));
  }

  TempDir policy_dir_;
  TcpTarget echo_;
  std::unique_ptr<Farm> farm_;
};

TEST_F(EnrollTest, AUserLogsInWithATokenAndTheTokenWorksOnce) {
  ASSERT_TRUE(farm_->WaitAttached());
  std::string token = CreateToken("user", "carol");
  std::string dir = farm_->dir().File("carol");
  std::string out;
  ASSERT_EQ(Login(token, dir, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "spiffe://farm.test/user/carol")) << out;
  struct stat st;
  ASSERT_EQ(stat((dir + "/user.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);

  ASSERT_EQ(RunToCompletion({BinaryPath("cli/bowden"), "--config", dir + "/cli.textproto", "ls"},
                            &out),
            0)
      << out;
  EXPECT_TRUE(absl::StrContains(out, "prusa-01")) << out;

  EXPECT_EQ(Login(token, farm_->dir().File("again"), &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "already used")) << out;
}

TEST_F(EnrollTest, ExpiredTokensAndForeignCaPinsAreRefused) {
  ASSERT_TRUE(farm_->WaitAttached());
  std::string out;
  std::string short_lived = CreateToken("user", "carol", "1s");
  // The relay keeps expiry in whole seconds: wait out the lifetime on the
  // clock (asking the relay in a loop would trip its rate limit).
  absl::Time expired = absl::Now() + absl::Milliseconds(1100);
  ASSERT_TRUE(WaitFor([&] { return absl::Now() > expired; }, absl::Seconds(5)));
  EXPECT_EQ(Login(short_lived, farm_->dir().File("late"), &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "expired")) << out;

  // The same token with the CA fingerprint of another farm.
  std::string token = CreateToken("user", "carol");
  bowden::v1::JoinToken parsed = Parse(token);
  parsed.set_ca_sha256(std::string(64, 'a'));
  std::string forged;
  absl::WebSafeBase64Escape(parsed.SerializeAsString(), &forged);
  EXPECT_EQ(Login("bwj1_" + forged, farm_->dir().File("forged"), &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "does not match the token's fingerprint")) << out;
  // Nothing was written, and the real token still works.
  struct stat st;
  EXPECT_NE(stat(farm_->dir().File("forged/user.key").c_str(), &st), 0);
  EXPECT_EQ(Login(token, farm_->dir().File("carol"), &out), 0) << out;

  EXPECT_EQ(Login("bwj1_garbage!", farm_->dir().File("x"), &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "not a Bowden join token")) << out;
}

TEST_F(EnrollTest, ABadCsrIsRefusedWithoutBurningTheToken) {
  ASSERT_TRUE(farm_->WaitAttached());
  std::string token = CreateToken("user", "carol");
  bowden::v1::JoinToken parsed = Parse(token);
  auto stub = EnrollStub(parsed);
  grpc::ClientContext context;
  bowden::v1::EnrollRequest request;
  request.set_secret(parsed.secret());
  request.set_kind("user");
  request.set_csr_pem("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
  bowden::v1::EnrollResponse response;
  grpc::Status status = stub->Enroll(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  std::string out;
  EXPECT_EQ(Login(token, farm_->dir().File("carol"), &out), 0) << out;
  std::vector<std::string> audit = farm_->CliAs("alice");
  audit.push_back("audit");
  ASSERT_EQ(RunToCompletion(audit, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "enrollment refused")) << out;
  EXPECT_TRUE(absl::StrContains(out, "enrolled with a join token from alice")) << out;
}

TEST_F(EnrollTest, ACsrAskingForAnotherIdentityIsRefusedAndAudited) {
  ASSERT_TRUE(farm_->WaitAttached());
  std::string token = CreateToken("user", "carol");
  // A CSR made with the real openssl tool, asking to be the admin.
  std::string out;
  ASSERT_EQ(RunToCompletion({"/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                             "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                             farm_->dir().File("evil.key"), "-out", farm_->dir().File("evil.csr"),
                             "-subj", "/CN=carol", "-addext",
                             "subjectAltName=URI:spiffe://farm.test/user/alice"},
                            &out),
            0)
      << out;
  std::ifstream csr(farm_->dir().File("evil.csr"));
  bowden::v1::EnrollRequest request;
  request.set_secret(Parse(token).secret());
  request.set_kind("user");
  request.set_csr_pem(std::string(std::istreambuf_iterator<char>(csr), {}));
  auto stub = EnrollStub(Parse(token));
  grpc::ClientContext context;
  bowden::v1::EnrollResponse response;
  grpc::Status status = stub->Enroll(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED) << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "spiffe://farm.test/user/alice"))
      << status.error_message();
  EXPECT_TRUE(response.certificate_pem().empty());
  // Not burned: carol's own login still works, and the refusal is audited.
  EXPECT_EQ(Login(token, farm_->dir().File("carol"), &out), 0) << out;
  std::vector<std::string> audit = farm_->CliAs("alice");
  audit.push_back("audit");
  ASSERT_EQ(RunToCompletion(audit, &out), 0);
  EXPECT_TRUE(absl::StrContains(out, "the CSR asks for")) << out;
}

TEST_F(EnrollTest, EnrollmentAttemptsAreRateLimitedPerAddress) {
  ASSERT_TRUE(farm_->WaitAttached());
  std::string token = CreateToken("user", "carol");
  bowden::v1::JoinToken parsed = Parse(token);
  auto stub = EnrollStub(parsed);
  // Guessing secrets: five attempts pass to the token check, then the
  // address has to wait.
  std::vector<grpc::StatusCode> codes;
  for (int i = 0; i < 6; ++i) {
    grpc::ClientContext context;
    bowden::v1::EnrollRequest request;
    request.set_secret(absl::StrCat("guess-", i, "-0123456789abcdef"));
    bowden::v1::EnrollResponse response;
    codes.push_back(stub->Enroll(&context, request, &response).error_code());
  }
  EXPECT_EQ(codes, (std::vector<grpc::StatusCode>{
                       grpc::StatusCode::NOT_FOUND, grpc::StatusCode::NOT_FOUND,
                       grpc::StatusCode::NOT_FOUND, grpc::StatusCode::NOT_FOUND,
                       grpc::StatusCode::NOT_FOUND, grpc::StatusCode::RESOURCE_EXHAUSTED}));
  // The relay still serves everyone else.
  std::string echoed;
  EXPECT_TRUE(DialOnce(farm_->relay_address(), farm_->pki().Files("alice"), "prusa-01",
                       "octoprint", "still here", &echoed)
                  .ok());
  EXPECT_EQ(echoed, "still here");
}

TEST_F(EnrollTest, TokensLiveAtMostSevenDays) {
  std::vector<std::string> argv = farm_->CliAs("alice");
  argv.insert(argv.end(), {"token", "create", "user", "dave", "--ttl", "169h"});
  std::string out;
  EXPECT_EQ(RunToCompletion(argv, &out), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, "a join token may be valid for at most 7 days (168h)"))
      << out;
  EXPECT_FALSE(absl::StrContains(out, "bwj1_")) << out;
  EXPECT_NE(CreateToken("user", "dave", "168h"), "");
}

// The kind inside the token is a hint anyone can edit: the relay holds the
// kind it made the token for, and refuses the wrong command without
// spending the token.
TEST_F(EnrollTest, ATokenWithATamperedKindIsNotSpentByTheWrongCommand) {
  ASSERT_TRUE(farm_->WaitAttached());
  std::string token = CreateToken("agent", "mk4-08");
  bowden::v1::JoinToken tampered = Parse(token);
  tampered.set_kind("user");
  std::string encoded;
  absl::WebSafeBase64Escape(tampered.SerializeAsString(), &encoded);
  std::string out;
  EXPECT_EQ(Login("bwj1_" + encoded, farm_->dir().File("mallory"), &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "this join token is for a printer host")) << out;
  EXPECT_TRUE(absl::StrContains(out, "the token was not used")) << out;
  struct stat st;
  EXPECT_NE(stat(farm_->dir().File("mallory/user.crt").c_str(), &st), 0);

  // The other way round, and the real token still enrolls its printer.
  std::string user_token = CreateToken("user", "erin");
  tampered = Parse(user_token);
  tampered.set_kind("agent");
  absl::WebSafeBase64Escape(tampered.SerializeAsString(), &encoded);
  EXPECT_EQ(RunToCompletion({BinaryPath("agent/bowden-agent"), "enroll", "--token",
                             "bwj1_" + encoded, "--state-dir", farm_->dir().File("erin-agent")},
                            &out),
            1);
  EXPECT_TRUE(absl::StrContains(out, "this join token is for a user")) << out;
  EXPECT_EQ(RunToCompletion({BinaryPath("agent/bowden-agent"), "enroll", "--token", token,
                             "--state-dir", farm_->dir().File("mk4-08")},
                            &out),
            0)
      << out;
  EXPECT_EQ(Login(user_token, farm_->dir().File("erin"), &out), 0) << out;
}

TEST_F(EnrollTest, ATruncatedTokenIsCalledIncomplete) {
  std::string token = CreateToken("user", "dave");
  std::string out;
  EXPECT_EQ(Login(token.substr(0, token.size() - 7), farm_->dir().File("dave"), &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "the token is incomplete: copy all of it")) << out;
  // Not spent by the attempt.
  EXPECT_EQ(Login(token, farm_->dir().File("dave"), &out), 0) << out;
}

// docs/identity.md: renewal keeps the key. A CSR for any other key is
// refused, so a new key only ever comes with a new enrollment.
TEST_F(EnrollTest, RenewalKeepsTheKey) {
  identity::TlsFiles alice = farm_->pki().Files("alice");
  auto stub = bowden::v1::IdentityService::NewStub(
      transport::MakeRelayChannel(farm_->relay_address(), alice));
  absl::StatusOr<std::pair<std::string, std::string>> other = certs::NewKeyAndCsr();
  ASSERT_TRUE(other.ok()) << other.status();
  bowden::v1::RenewRequest request;
  request.set_csr_pem(other->second);
  bowden::v1::RenewResponse response;
  {
    grpc::ClientContext context;
    grpc::Status status = stub->Renew(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << status.error_message();
    EXPECT_TRUE(absl::StrContains(status.error_message(), "renewal keeps the key"))
        << status.error_message();
    EXPECT_TRUE(response.certificate_pem().empty());
  }
  absl::StatusOr<std::string> own = certs::CsrForKey(ReadFileOrEmpty(alice.key));
  ASSERT_TRUE(own.ok()) << own.status();
  request.set_csr_pem(*own);
  grpc::ClientContext context;
  grpc::Status status = stub->Renew(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(response.certificate_pem(), "");
}

TEST_F(EnrollTest, APrinterHostEnrollsAndAttaches) {
  ASSERT_TRUE(farm_->WaitAttached());
  std::string out;
  std::string user_token = CreateToken("user", "dave");
  std::string state = farm_->dir().File("mk4-07");
  EXPECT_EQ(RunToCompletion({BinaryPath("agent/bowden-agent"), "enroll", "--token", user_token,
                             "--state-dir", farm_->dir().File("wrong")},
                            &out),
            1);
  EXPECT_TRUE(absl::StrContains(out, "for a user, not a printer")) << out;
  // Refused before it reached the relay: the token still works for a login.
  EXPECT_EQ(Login(user_token, farm_->dir().File("dave"), &out), 0) << out;

  std::string token = CreateToken("agent", "mk4-07");
  ASSERT_EQ(RunToCompletion({BinaryPath("agent/bowden-agent"), "enroll", "--token", token,
                             "--state-dir", state},
                            &out),
            0)
      << out;
  Process agent({BinaryPath("agent/bowden-agent"), "--config", state + "/agent.textproto",
                 "--target", absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")},
                farm_->dir().File("mk4-agent"));
  ASSERT_TRUE(agent.WaitForOutput("attached as printer 'mk4-07'")) << agent.Stderr();
  std::string echoed;
  EXPECT_TRUE(DialOnce(farm_->relay_address(), farm_->pki().Files("alice"), "mk4-07",
                       "octoprint", "hello mk4", &echoed)
                  .ok());
  EXPECT_EQ(echoed, "hello mk4");
}

}  // namespace
}  // namespace bowden::testing
