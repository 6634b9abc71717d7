// Client certificates the relay refuses during the TLS handshake (another
// farm's CA, expired, self-signed, not for client authentication, a CA
// certificate) are refused as before, and each refusal leaves an audit row
// and a log line saying why; a flood of them leaves a bounded number of rows
// plus summaries that account for every one, and valid users keep working.

#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <fstream>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "certs/test_x509.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

namespace x509 = certs::test_x509;
using Extensions = std::vector<std::pair<int, std::string>>;

// Every client here connects from 127.0.0.1: the accept gate names it as the
// one source of connections that had not authenticated.
constexpr char kPeer[] = "127.0.0.1";

Extensions UserExtensions(const std::string& name,
                          const std::string& eku = "clientAuth") {
  return {{NID_basic_constraints, "critical,CA:FALSE"},
          {NID_key_usage, "critical,digitalSignature"},
          {NID_ext_key_usage, eku},
          {NID_subject_alt_name,
           absl::StrCat("URI:spiffe://farm.test/user/", name)}};
}

std::string SpiffeUser(const std::string& name) {
  return absl::StrCat("spiffe://farm.test/user/", name);
}

// One TLS handshake with the relay as `tls`'s holder, as a gRPC client makes
// it (ALPN h2), then reads until the relay closes the connection, which it
// does once it has judged the certificate. One handshake: one verdict.
// False if the connection could not even be opened.
bool HandshakeAndWaitForClose(int port, const identity::TlsFiles& tls) {
  std::unique_ptr<SSL_CTX, x509::Free<SSL_CTX, SSL_CTX_free>> ctx(
      SSL_CTX_new(TLS_client_method()));
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  if (!ctx ||
      SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof(kAlpn)) != 0) {
    ERR_clear_error();
    return false;
  }
  tunnel::UniqueFd socket = ConnectTo(port);
  if (!socket.valid()) return false;
  timeval timeout{20, 0};
  setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::unique_ptr<SSL, x509::Free<SSL, SSL_free>> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), socket.get());
  if (SSL_connect(ssl.get()) == 1) {
    char buffer[4096];
    while (SSL_read(ssl.get(), buffer, sizeof(buffer)) > 0) {
    }
  }
  ERR_clear_error();
  return true;
}

class TlsRefusalE2eTest : public ::testing::Test {
 protected:
  TlsRefusalE2eTest() : echo_(EchoUntilEof) {
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n";
  }

  Farm::Options Options() {
    Farm::Options options;
    options.relay_extra_flags = {"--policy",
                                 policy_dir_.File("policy.textproto")};
    options.targets = {
        absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")};
    return options;
  }

  // A key and a certificate for it, minted by `issuer` (nullptr:
  // self-signed), in files whose CA is the farm's (so the client trusts the
  // relay).
  identity::TlsFiles Mint(Farm& farm, const std::string& file_name,
                          X509* issuer, EVP_PKEY* issuer_key,
                          const std::string& cn, long not_before,
                          long not_after, const Extensions& extensions) {
    x509::KeyPtr key = x509::GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
    EXPECT_NE(key, nullptr);
    identity::TlsFiles tls{files_.File(file_name + ".crt"),
                           files_.File(file_name + ".key"),
                           farm.pki().Files("alice").ca};
    std::string pem = x509::IssueCertValid(
        issuer, issuer_key == nullptr ? key.get() : issuer_key, key.get(), cn,
        not_before, not_after, extensions);
    EXPECT_NE(pem, "") << file_name;
    std::ofstream(tls.cert) << pem;
    std::ofstream(tls.key) << x509::PrivateKeyPem(key.get());
    return tls;
  }

  // `bowden ls` with `tls`: refused, and told it was the TLS handshake.
  void ExpectCliRefused(Farm& farm, const identity::TlsFiles& tls) {
    std::string out;
    EXPECT_EQ(RunToCompletion(
                  {BinaryPath("cli/bowden"), "--relay", farm.relay_address(),
                   "--cert", tls.cert, "--key", tls.key, "--ca", tls.ca, "ls"},
                  &out),
              1)
        << out;
    EXPECT_TRUE(absl::StrContains(out, "TLS handshake")) << out;
  }

  // The relay's TLS-stage audit rows, read from its own database.
  std::vector<bowden::v1::AuditEvent> TlsRows(Farm& farm) {
    auto log = audit::AuditLog::Open(farm.dir().File("state/audit.db"));
    EXPECT_TRUE(log.ok()) << log.status();
    if (!log.ok()) return {};
    bowden::v1::AuditQuery query;
    query.set_kind("auth");
    query.set_limit(10000);
    auto rows = (*log)->Query(query);
    EXPECT_TRUE(rows.ok()) << rows.status();
    std::vector<bowden::v1::AuditEvent> out;
    for (bowden::v1::AuditEvent& row : rows.ok() ? *rows : out) {
      auto stage = row.fields().find("stage");
      if (stage != row.fields().end() && stage->second == "tls")
        out.push_back(std::move(row));
    }
    return out;
  }

  std::vector<bowden::v1::AuditEvent> RowsOf(Farm& farm,
                                             const std::string& actor) {
    std::vector<bowden::v1::AuditEvent> out;
    for (bowden::v1::AuditEvent& row : TlsRows(farm)) {
      if (row.actor() == actor) out.push_back(std::move(row));
    }
    return out;
  }

  // Waits for the row of `actor` and checks it says `reason` and names the
  // certificate.
  void ExpectRow(Farm& farm, const std::string& actor,
                 const std::string& reason) {
    ASSERT_TRUE(WaitFor([&] { return !RowsOf(farm, actor).empty(); }))
        << "no TLS refusal row for " << actor << "; relay log:\n"
        << farm.relay().Stderr();
    bowden::v1::AuditEvent row = RowsOf(farm, actor)[0];
    EXPECT_EQ(row.kind(), "auth");
    EXPECT_EQ(row.outcome(), "denied");
    EXPECT_TRUE(absl::StrContains(row.detail(), reason)) << row.detail();
    for (const char* field :
         {"subject", "issuer", "serial", "not_after", "code"}) {
      EXPECT_NE(row.fields().at(field), "") << field << " of " << actor;
    }
    EXPECT_EQ(row.fields().at("peer"), kPeer);
    EXPECT_TRUE(farm.relay().WaitForOutput(reason)) << farm.relay().Stderr();
  }

  TempDir policy_dir_;
  TempDir files_;
  TcpTarget echo_;
};

TEST_F(TlsRefusalE2eTest, EachRefusalIsAuditedWithItsReason) {
  Farm farm(Options());
  ASSERT_TRUE(farm.WaitAttached());
  x509::X509Ptr ca =
      x509::ParseCert(ReadFileOrEmpty(farm.pki().dir() + "/ca.crt"));
  x509::KeyPtr ca_key =
      x509::ParseKey(ReadFileOrEmpty(farm.pki().dir() + "/ca.key"));
  ASSERT_TRUE(ca != nullptr && ca_key != nullptr);

  // (a) Another farm's CA, made by the real `bowden ca`, with this farm's
  // trust domain and so the same CA name.
  Pki other(farm.dir().File("other-pki"), "farm.test");
  other.Issue("user", "mallory");
  identity::TlsFiles mallory = other.Files("mallory");
  mallory.ca = farm.pki().Files("alice").ca;  // she knows which relay she calls
  ExpectCliRefused(farm, mallory);
  ExpectRow(farm, SpiffeUser("mallory"),
            "the client certificate is signed by a CA this farm does not trust "
            "(issuer: "
            "CN=Bowden CA farm.test)");

  // (b) Issued by this farm's CA, expired an hour ago. The CLI will not
  // even try with it, so another client presents it.
  identity::TlsFiles expired =
      Mint(farm, "erin", ca.get(), ca_key.get(), "erin", -7200, -3600,
           UserExtensions("erin"));
  ASSERT_TRUE(HandshakeAndWaitForClose(farm.relay_port(), expired));
  ExpectRow(farm, SpiffeUser("erin"), "the client certificate expired on ");

  // (c) Self-signed.
  identity::TlsFiles self_signed = Mint(farm, "sam", nullptr, nullptr, "sam",
                                        -3600, 3600, UserExtensions("sam"));
  ExpectCliRefused(farm, self_signed);
  ExpectRow(farm, SpiffeUser("sam"),
            "the client certificate is self-signed (CN=sam), not issued by "
            "this farm's CA");

  // (d) Issued by this farm's CA for servers only.
  identity::TlsFiles server_only =
      Mint(farm, "sid", ca.get(), ca_key.get(), "sid", -3600, 3600,
           UserExtensions("sid", "serverAuth"));
  ExpectCliRefused(farm, server_only);
  ExpectRow(farm, SpiffeUser("sid"),
            "the client certificate is not for client authentication (its "
            "extendedKeyUsage "
            "lacks clientAuth)");

  // (e) A CA certificate this farm's CA signed.
  identity::TlsFiles ca_cert =
      Mint(farm, "carl", ca.get(), ca_key.get(), "carl", -3600, 3600,
           {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
            {NID_key_usage, "critical,digitalSignature,keyCertSign"},
            {NID_ext_key_usage, "clientAuth"},
            {NID_subject_alt_name, "URI:spiffe://farm.test/user/carl"}});
  ExpectCliRefused(farm, ca_cert);
  ExpectRow(farm, SpiffeUser("carl"),
            "the client certificate is a CA certificate (basicConstraints "
            "CA:TRUE and keyUsage "
            "keyCertSign), not a leaf");

  // One handshake, one row.
  const size_t before = RowsOf(farm, SpiffeUser("erin")).size();
  ASSERT_TRUE(HandshakeAndWaitForClose(farm.relay_port(), expired));
  EXPECT_TRUE(WaitFor(
      [&] { return RowsOf(farm, SpiffeUser("erin")).size() == before + 1; }));

  // A valid user still gets in, sees the rows, and the log is whole.
  std::string echoed;
  EXPECT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("alice"),
                       "prusa-01", "octoprint", "still serving", &echoed)
                  .ok());
  EXPECT_EQ(echoed, "still serving");
  std::vector<std::string> audit = farm.CliAs("alice");
  audit.insert(audit.end(), {"audit", "--user", SpiffeUser("sam")});
  std::string out;
  ASSERT_EQ(RunToCompletion(audit, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "self-signed (CN=sam)")) << out;
  EXPECT_TRUE(absl::StrContains(out, "peer=127.0.0.1"))
      << out;
  audit = farm.CliAs("alice");
  audit.insert(audit.end(), {"audit", "verify"});
  ASSERT_EQ(RunToCompletion(audit, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "intact")) << out;
}

TEST_F(TlsRefusalE2eTest, AFloodOfBadHandshakesLeavesBoundedRowsAndASummary) {
  Farm farm(Options());
  ASSERT_TRUE(farm.WaitAttached());
  identity::TlsFiles self_signed =
      Mint(farm, "flood", nullptr, nullptr, "flood", -3600, 3600,
           UserExtensions("flood"));
  constexpr int kHandshakes = 200;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kHandshakes; ++i) {
    ASSERT_TRUE(HandshakeAndWaitForClose(farm.relay_port(), self_signed)) << i;
  }
  const int64_t flood_ms = absl::ToInt64Milliseconds(absl::Now() - start);
  const int64_t seconds = flood_ms / 1000 + 1;

  // Individual rows plus the summaries' counts account for every handshake
  // (the summary is written every 10 s).
  int64_t individual = 0, summarised = 0;
  auto count = [&] {
    individual = summarised = 0;
    for (const bowden::v1::AuditEvent& row : TlsRows(farm)) {
      auto suppressed = row.fields().find("suppressed");
      int64_t n = 0;
      if (suppressed == row.fields().end()) {
        ++individual;
      } else if (absl::SimpleAtoi(suppressed->second, &n)) {
        summarised += n;
        EXPECT_TRUE(absl::StrContains(
            row.detail(), "more TLS refusals not recorded individually since"))
            << row.detail();
        EXPECT_TRUE(absl::StrContains(row.fields().at("codes"), "self_signed="))
            << row.detail();
      }
    }
    return individual + summarised == kHandshakes;
  };
  EXPECT_TRUE(WaitFor(count, absl::Seconds(40)))
      << individual << " rows + " << summarised << " summarised";
  std::cout << kHandshakes << " refused handshakes in " << flood_ms
            << " ms: " << individual << " rows, " << summarised
            << " summarised\n";
  EXPECT_GT(summarised, 0);
  // A burst of 20, then at most one a second.
  EXPECT_LE(individual, 20 + seconds) << "in " << seconds << " s";

  // The relay's log is bounded the same way.
  std::string log = farm.relay().Stderr();
  int lines = 0;
  for (size_t at = log.find("refused a TLS client certificate of");
       at != std::string::npos;
       at = log.find("refused a TLS client certificate of", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, individual);

  // And the relay still serves everyone else.
  std::string echoed;
  EXPECT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("alice"),
                       "prusa-01", "octoprint", "after the flood", &echoed)
                  .ok());
  EXPECT_EQ(echoed, "after the flood");
}

}  // namespace
}  // namespace bowden::testing
