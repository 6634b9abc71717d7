// `bowden-agent doctor` on a printer host with real processes: a relay and
// agent (tests/harness.h), an nginx standing in for OctoPrint 1.10's passive
// login (as in octoprint_login_e2e_test.cc) and for a webcam's snapshot.
// A healthy host exits 0; a dead target and an OctoPrint that logs tunnel
// sessions in get their FAIL lines and exit 1. The relay's own certificate:
// one minted with `bowden ca issue --ttl 240h` is a WARN (exit 3), a CA
// certificate minted with openssl from the farm's CA is a FAIL.

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

class AgentDoctorE2eTest : public ::testing::Test {
 protected:
  // Starts the stand-ins, then a farm serving them; `relay_cert_ttl` is the
  // relay certificate's --ttl ("" = a year).
  void Start(bool tunnel_autologin, const std::string& relay_cert_ttl = "") {
    octoprint_port_ = ClosedPort();
    webcam_port_ = ClosedPort();
    const std::string csrf = absl::StrCat("csrf_token_P", octoprint_port_);
    std::string servers = absl::StrCat(
        // OctoPrint signs its CSRF token; the stand-in's is fixed.
        " map \"$http_x_csrf_token:$cookie_", csrf, "\" $csrf_ok {\n",
        "  \"signed-token:signed-token\" 1; default 0; }\n",
        " map $http_x_forwarded_for $autologin {\n",
        tunnel_autologin ? "  \"~^198\\.1[89]\\.\" 1;\n" : "",
        "  default 0; }\n", " server { listen 127.0.0.1:", octoprint_port_,
        ";\n", "  location = /login/ { add_header Set-Cookie \"", csrf,
        "=signed-token; Path=/; SameSite=Lax\";\n",
        "   default_type text/html; return 200 '<html>login</html>'; }\n",
        "  location = /api/login { default_type application/json;\n",
        "   if ($csrf_ok = 0) { return 400 'CSRF validation failed'; }\n",
        "   if ($autologin) { return 200 "
        "'{\"name\":\"admin\",\"admin\":true,\"_login_mechanism\":"
        "\"autologin\"}'; }\n",
        "   return 200 "
        "'{\"needs\":{\"role\":[]},\"_is_external_client\":false}'; }\n",
        "  location / { return 404; }\n }\n",
        " server { listen 127.0.0.1:", webcam_port_, ";\n",
        "  location = / { default_type image/jpeg; return 200 'not really a "
        "jpeg'; }\n }\n");
    nginx_ = StartNginx(web_, servers, {octoprint_port_, webcam_port_});
    Farm::Options options;
    options.relay_extra_flags = {"--allow", "alice=*"};
    options.relay_cert_ttl = relay_cert_ttl;
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", octoprint_port_),
                       absl::StrCat("webcam=127.0.0.1:", webcam_port_)};
    farm_ = std::make_unique<Farm>(options);
    ASSERT_TRUE(farm_->WaitAttached()) << farm_->agent().Stderr();
  }

  // `bowden-agent ... doctor` with the farm agent's files and targets, and
  // `relay` (default: the farm's).
  int Doctor(std::string* out, const std::string& relay = "") {
    identity::TlsFiles tls = farm_->agent_files();
    std::vector<std::string> argv = {
        BinaryPath("agent/bowden-agent"),
        "--relay",
        relay.empty() ? farm_->relay_address() : relay,
        "--cert",
        tls.cert,
        "--key",
        tls.key,
        "--ca",
        tls.ca};
    for (const std::string& t : targets_) {
      argv.push_back("--target");
      argv.push_back(t);
    }
    argv.push_back("doctor");
    return RunToCompletion(argv, out);
  }

  TempDir web_;
  int octoprint_port_ = 0;
  int webcam_port_ = 0;
  std::unique_ptr<Process> nginx_;
  std::unique_ptr<Farm> farm_;
  std::vector<std::string> targets_;
};

TEST_F(AgentDoctorE2eTest, AHealthyPrinterHostPassesEveryCheck) {
  Start(/*tunnel_autologin=*/false);
  targets_ = {absl::StrCat("octoprint=127.0.0.1:", octoprint_port_),
              absl::StrCat("webcam=127.0.0.1:", webcam_port_)};
  std::string out;
  EXPECT_EQ(Doctor(&out), 0) << out;
  EXPECT_FALSE(absl::StrContains(out, "FAIL")) << out;
  EXPECT_FALSE(absl::StrContains(out, "WARN")) << out;
  EXPECT_TRUE(
      absl::StrContains(out, "identity spiffe://farm.test/agent/prusa-01"))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("ok   relay ", farm_->relay_address(),
                        " answered over mutual TLS and accepted "
                        "this agent's certificate")))
      << out;
  EXPECT_TRUE(
      absl::StrContains(out, "ok   the relay's certificate is valid until "))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "OctoPrint answers and logs nobody in"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "serves a snapshot (image/jpeg)")) << out;
  // The doctor did not displace the running agent.
  EXPECT_TRUE(farm_->agent().running());
}

TEST_F(AgentDoctorE2eTest, ADeadTargetAndTunnelAutologinFail) {
  Start(/*tunnel_autologin=*/true);
  int dead = ClosedPort();
  targets_ = {absl::StrCat("octoprint=127.0.0.1:", octoprint_port_),
              absl::StrCat("webcam=127.0.0.1:", webcam_port_),
              absl::StrCat("printer-serial=127.0.0.1:", dead)};
  std::string out;
  EXPECT_EQ(Doctor(&out), 1) << out;
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("FAIL target printer-serial (127.0.0.1:", dead,
                        ") cannot be reached (Connection refused): "
                        "start the service")))
      << out;
  EXPECT_TRUE(
      absl::StrContains(out,
                        "FAIL the printer's OctoPrint ('octoprint') logs every "
                        "tunnel session in as 'admin' without a password"))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out, "turn off OctoPrint's accessControl.autologinLocal"))
      << out;
  // The other checks still ran.
  EXPECT_TRUE(absl::StrContains(out, "serves a snapshot (image/jpeg)")) << out;
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("ok   relay ", farm_->relay_address())))
      << out;
}

TEST_F(AgentDoctorE2eTest, ARelayThatIsDownFailsWithTheReason) {
  Start(/*tunnel_autologin=*/false);
  targets_ = {absl::StrCat("octoprint=127.0.0.1:", octoprint_port_)};
  std::string closed = absl::StrCat("127.0.0.1:", ClosedPort());
  std::string out;
  EXPECT_EQ(Doctor(&out, closed), 1) << out;
  EXPECT_TRUE(absl::StrContains(out, absl::StrCat("FAIL relay ", closed)))
      << out;
  EXPECT_TRUE(
      absl::StrContains(out, "refused the connection: nothing listens there"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "OctoPrint answers and logs nobody in"))
      << out;
}

TEST_F(AgentDoctorE2eTest, ARelayCertificateNearItsEndIsAWarningWithTheFix) {
  Start(/*tunnel_autologin=*/false, /*relay_cert_ttl=*/"240h");
  targets_ = {absl::StrCat("octoprint=127.0.0.1:", octoprint_port_)};
  std::string out;
  EXPECT_EQ(Doctor(&out), 3) << out;
  EXPECT_TRUE(
      absl::StrContains(out, "WARN the relay's certificate is valid until "))
      << out;
  EXPECT_TRUE(absl::StrContains(out,
                                "left): nothing renews it: on the CA host run "
                                "`bowden ca issue --dir DIR relay NAME "
                                "--dns HOST` again"))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "the relay uses the new files")) << out;
}

TEST_F(AgentDoctorE2eTest, ARelayWithACaCertificateFails) {
  Start(/*tunnel_autologin=*/false);
  targets_ = {absl::StrCat("octoprint=127.0.0.1:", octoprint_port_)};
  // A CA certificate the farm CA signed, fit for a TLS server otherwise (its
  // names, digitalSignature): TLS verification alone accepts it. The relay
  // restarts on it on the same port.
  const std::string pki = farm_->pki().dir();
  identity::TlsFiles relay = farm_->pki().Files("relay");
  std::string minted;
  ASSERT_EQ(
      RunToCompletion(
          {"/usr/bin/openssl",
           "req",
           "-x509",
           "-newkey",
           "ec",
           "-pkeyopt",
           "ec_paramgen_curve:prime256v1",
           "-nodes",
           "-keyout",
           relay.key,
           "-out",
           relay.cert,
           "-CA",
           pki + "/ca.crt",
           "-CAkey",
           pki + "/ca.key",
           "-days",
           "365",
           "-subj",
           "/CN=relay as a CA",
           "-addext",
           "basicConstraints=critical,CA:TRUE",
           "-addext",
           "keyUsage=critical,digitalSignature,keyCertSign",
           "-addext",
           "extendedKeyUsage=serverAuth",
           "-addext",
           "subjectAltName=URI:spiffe://farm.test/relay,DNS:localhost,IP:127.0."
           "0.1"},
          &minted),
      0)
      << minted;
  farm_->StartRelay();
  std::string out;
  EXPECT_EQ(Doctor(&out), 1) << out;
  EXPECT_TRUE(
      absl::StrContains(out, absl::StrCat("ok   relay ", farm_->relay_address(),
                                          " answered over mutual TLS")))
      << out;
  EXPECT_TRUE(absl::StrContains(out, "FAIL the relay's certificate (serial "))
      << out;
  EXPECT_TRUE(absl::StrContains(
      out,
      "is a CA certificate (basicConstraints CA:TRUE and keyUsage "
      "keyCertSign), not a leaf"))
      << out;
  EXPECT_TRUE(absl::StrContains(out,
                                "issue the relay a leaf: on the CA host run "
                                "`bowden ca issue --dir DIR relay"))
      << out;
}

}  // namespace
}  // namespace bowden::testing
