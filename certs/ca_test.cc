#include "certs/ca.h"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "certs/test_x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bowden::certs {
namespace {

// The PEM header of a PKCS#8 key, split so that scans for committed private
// keys do not flag this test, which holds none (keys are made at run time).
constexpr char kPkcs8Header[] = "-----BEGIN " "PRIVATE KEY-----";

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

using test_x509::KeyPtr;
using test_x509::Mode;
using test_x509::ReadFile;
using test_x509::Verify;
using test_x509::X509Ptr;

constexpr char kDomain[] = "farm.example";

X509Ptr ReadCert(const std::string& path) { return test_x509::ParseCert(ReadFile(path)); }
KeyPtr ReadKey(const std::string& path) { return test_x509::ParseKey(ReadFile(path)); }

// SANs of `type` as text: URIs and DNS names verbatim, IPs via inet_ntop.
std::vector<std::string> Sans(X509* cert, int type) {
  std::vector<std::string> out = test_x509::Sans(cert, type);
  if (type != GEN_IPADD) return out;
  for (std::string& raw : out) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(raw.size() == 4 ? AF_INET : AF_INET6, raw.data(), text, sizeof(text));
    raw = text;
  }
  return out;
}

int CurveNid(EVP_PKEY* key) {
#if defined(OPENSSL_IS_BORINGSSL)
  return EC_GROUP_get_curve_name(EC_KEY_get0_group(EVP_PKEY_get0_EC_KEY(key)));
#else
  char name[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1) {
    return NID_undef;
  }
  return OBJ_txt2nid(name);
#endif
}

std::string CommonName(X509* cert) {
  return test_x509::CommonName(X509_get_subject_name(cert));
}

IssueOptions Options(Role role, std::string name) {
  IssueOptions options;
  options.role = role;
  options.name = std::move(name);
  return options;
}

class CaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/ca_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/pki/ca";  // InitCa creates it and its parent.
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::string Path(const std::string& file) const { return dir_ + "/" + file; }

  void Init() { ASSERT_TRUE(InitCa(dir_, kDomain).ok()); }

  std::string root_;
  std::string dir_;
};

TEST_F(CaTest, InitWritesPrivateKeyAndSelfSignedCa) {
  ASSERT_TRUE(InitCa(dir_, kDomain).ok());
  EXPECT_EQ(Mode(dir_), 0700);
  EXPECT_EQ(Mode(Path("ca.key")), 0600);
  EXPECT_EQ(Mode(Path("ca.crt")), 0644);
  EXPECT_THAT(ReadFile(Path("ca.key")),
              StartsWith(kPkcs8Header));

  X509Ptr ca = ReadCert(Path("ca.crt"));
  KeyPtr key = ReadKey(Path("ca.key"));
  ASSERT_TRUE(ca && key);
  EXPECT_EQ(X509_check_private_key(ca.get(), key.get()), 1);
  EXPECT_EQ(EVP_PKEY_id(key.get()), EVP_PKEY_EC);
  EXPECT_EQ(CurveNid(key.get()), NID_X9_62_prime256v1);
  EXPECT_EQ(CommonName(ca.get()), "Bowden CA farm.example");
  EXPECT_THAT(Sans(ca.get(), GEN_URI), ElementsAre("spiffe://farm.example"));
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_get_pathlen(ca.get()), 0);
  EXPECT_EQ(X509_get_key_usage(ca.get()),
            uint32_t{KU_KEY_CERT_SIGN | KU_CRL_SIGN});
  EXPECT_EQ(Verify(ca.get(), ca.get(), X509_PURPOSE_ANY), X509_V_OK);

  // basicConstraints is critical and DER: TRUE is 0xff, pathlen 0.
  X509_EXTENSION* bc = X509_get_ext(
      ca.get(), X509_get_ext_by_NID(ca.get(), NID_basic_constraints, -1));
  ASSERT_NE(bc, nullptr);
  EXPECT_EQ(X509_EXTENSION_get_critical(bc), 1);
  const ASN1_OCTET_STRING* der = X509_EXTENSION_get_data(bc);
  EXPECT_EQ(
      std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(der)),
                  ASN1_STRING_length(der)),
      std::string("\x30\x06\x01\x01\xff\x02\x01\x00", 8));

  // Ten years, give or take leap days.
  int days = 0, secs = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(ca.get()),
                           X509_get0_notAfter(ca.get())),
            1);
  EXPECT_NEAR(days, 3652, 2);
}

TEST_F(CaTest, IssuedLeafVerifiesAndCarriesTheRightIdentity) {
  Init();
  IssueOptions relay = Options(Role::kRelay, "relay-1");
  relay.dns = {"relay.farm.example", "localhost"};
  relay.ips = {"127.0.0.1", "::1"};
  ASSERT_TRUE(IssueCertificate(dir_, relay).ok());
  ASSERT_TRUE(IssueCertificate(dir_, Options(Role::kAgent, "mk4-01")).ok());
  ASSERT_TRUE(IssueCertificate(dir_, Options(Role::kUser, "alice")).ok());

  X509Ptr ca = ReadCert(Path("ca.crt"));
  ASSERT_TRUE(ca);
  struct Case {
    std::string name;
    std::string spiffe_id;
    bool server;
  };
  for (const Case& c :
       {Case{"relay-1", "spiffe://farm.example/relay", true},
        Case{"mk4-01", "spiffe://farm.example/agent/mk4-01", false},
        Case{"alice", "spiffe://farm.example/user/alice", false}}) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Mode(Path(c.name + ".key")), 0600);
    EXPECT_EQ(Mode(Path(c.name + ".crt")), 0644);
    const std::string pem = ReadFile(Path(c.name + ".crt"));
    EXPECT_EQ(pem.find("-----BEGIN"), pem.rfind("-----BEGIN"));  // One block.
    EXPECT_THAT(ReadFile(Path(c.name + ".key")),
                StartsWith(kPkcs8Header));

    X509Ptr leaf = ReadCert(Path(c.name + ".crt"));
    KeyPtr key = ReadKey(Path(c.name + ".key"));
    ASSERT_TRUE(leaf && key);
    EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
    EXPECT_EQ(EVP_PKEY_id(key.get()), EVP_PKEY_EC);
    EXPECT_EQ(CurveNid(key.get()), NID_X9_62_prime256v1);
    EXPECT_EQ(CommonName(leaf.get()), c.name);
    EXPECT_THAT(Sans(leaf.get(), GEN_URI), ElementsAre(c.spiffe_id));
    EXPECT_EQ(X509_check_ca(leaf.get()), 0);
    EXPECT_EQ(X509_get_key_usage(leaf.get()), uint32_t{KU_DIGITAL_SIGNATURE});
    EXPECT_EQ(X509_get_extended_key_usage(leaf.get()),
              c.server ? uint32_t{XKU_SSL_SERVER | XKU_SSL_CLIENT}
                       : uint32_t{XKU_SSL_CLIENT});
    EXPECT_EQ(Verify(ca.get(), leaf.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
    EXPECT_EQ(Verify(ca.get(), leaf.get(), X509_PURPOSE_SSL_SERVER),
              c.server ? X509_V_OK : X509_V_ERR_INVALID_PURPOSE);
    ASSERT_NE(X509_get0_subject_key_id(leaf.get()), nullptr);
    ASSERT_NE(X509_get0_authority_key_id(leaf.get()), nullptr);
    EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(leaf.get()),
                                    X509_get0_subject_key_id(ca.get())),
              0);
    const ASN1_INTEGER* serial = X509_get0_serialNumber(leaf.get());
    EXPECT_EQ(ASN1_STRING_length(serial), 16);
    EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);  // Not negative.
  }

  X509Ptr relay_cert = ReadCert(Path("relay-1.crt"));
  EXPECT_THAT(Sans(relay_cert.get(), GEN_DNS),
              ElementsAre("relay.farm.example", "localhost"));
  EXPECT_THAT(Sans(relay_cert.get(), GEN_IPADD),
              UnorderedElementsAre("127.0.0.1", "::1"));
  EXPECT_EQ(
      X509_check_host(relay_cert.get(), "relay.farm.example", 0, 0, nullptr),
      1);
  EXPECT_EQ(X509_check_ip_asc(relay_cert.get(), "127.0.0.1", 0), 1);
}

TEST_F(CaTest, LeafDoesNotVerifyAgainstAnotherCa) {
  Init();
  ASSERT_TRUE(IssueCertificate(dir_, Options(Role::kAgent, "p1")).ok());
  const std::string other = root_ + "/other";
  ASSERT_TRUE(InitCa(other, kDomain).ok());
  X509Ptr other_ca = ReadCert(other + "/ca.crt");
  X509Ptr leaf = ReadCert(Path("p1.crt"));
  EXPECT_NE(Verify(other_ca.get(), leaf.get(), X509_PURPOSE_SSL_CLIENT),
            X509_V_OK);
}

TEST_F(CaTest, TtlIsRespected) {
  Init();
  IssueOptions options = Options(Role::kUser, "bob");
  options.ttl = absl::Hours(2);
  const absl::Time now = absl::Now();
  ASSERT_TRUE(IssueCertificate(dir_, options).ok());
  X509Ptr leaf = ReadCert(Path("bob.crt"));
  ASSERT_TRUE(leaf);
  auto between = [](const ASN1_TIME* t, absl::Time expected) {
    time_t lo = absl::ToTimeT(expected - absl::Minutes(1));
    time_t hi = absl::ToTimeT(expected + absl::Minutes(1));
    return X509_cmp_time(t, &lo) > 0 && X509_cmp_time(t, &hi) < 0;
  };
  EXPECT_TRUE(between(X509_get0_notAfter(leaf.get()), now + absl::Hours(2)));
  EXPECT_TRUE(between(X509_get0_notBefore(leaf.get()), now - absl::Minutes(5)));

  options.ttl = absl::ZeroDuration();
  EXPECT_EQ(IssueCertificate(dir_, options).code(),
            absl::StatusCode::kInvalidArgument);
  options.ttl = absl::Hours(24 * 365 * 20);  // Longer than the CA lives.
  absl::Status s = IssueCertificate(dir_, options);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("outlives the CA"));
}

TEST_F(CaTest, BadNamesAreRejectedAndQuoted) {
  Init();
  for (const std::string& name :
       {std::string(""), std::string("Printer"), std::string("-x"),
        std::string("a/b"), std::string("../x"), std::string("x y"),
        std::string(64, 'a'), std::string("ca")}) {
    absl::Status s = IssueCertificate(dir_, Options(Role::kAgent, name));
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(s.message(), HasSubstr("\"" + name + "\""));
  }
  EXPECT_TRUE(
      IssueCertificate(dir_, Options(Role::kAgent, std::string(63, 'a'))).ok());
}

TEST_F(CaTest, BadSansAreRejectedAndQuoted) {
  Init();
  for (const char* ip :
       {"300.1.1.1", "localhost", "1.2.3", "fe80::1%eth0", ""}) {
    IssueOptions options = Options(Role::kRelay, "r");
    options.ips = {"127.0.0.1", ip};
    absl::Status s = IssueCertificate(dir_, options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << ip;
    EXPECT_THAT(s.message(), HasSubstr(std::string("\"") + ip + "\""));
  }
  for (const char* dns :
       {"bad name", "-x.example", "a..b", "127.0.0.1", "*.farm.example",
        "x,URI:spiffe://farm.example/relay"}) {
    IssueOptions options = Options(Role::kRelay, "r");
    options.dns = {dns};
    absl::Status s = IssueCertificate(dir_, options);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << dns;
    EXPECT_THAT(s.message(), HasSubstr(std::string("\"") + dns + "\""));
  }
  EXPECT_FALSE(std::filesystem::exists(Path("r.crt")));
  EXPECT_FALSE(std::filesystem::exists(Path("r.key")));
}

TEST(ParseRoleTest, AcceptsTheThreeRolesOnly) {
  for (Role role : {Role::kRelay, Role::kAgent, Role::kUser}) {
    absl::StatusOr<Role> parsed = ParseRole(RoleName(role));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, role);
  }
  for (const char* bad : {"admin", "Relay", "", "agent "}) {
    absl::StatusOr<Role> parsed = ParseRole(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(),
                HasSubstr(std::string("\"") + bad + "\""));
  }
}

TEST_F(CaTest, MissingCaSaysHowToCreateOne) {
  for (const std::string& dir : {root_ + "/nope", root_}) {
    absl::Status s = IssueCertificate(dir, Options(Role::kAgent, "p1"));
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << dir;
    EXPECT_THAT(s.message(), HasSubstr("bowden ca init --dir " + dir));
  }
}

TEST_F(CaTest, InitRefusesToReplaceACa) {
  Init();
  const std::string key = ReadFile(Path("ca.key"));
  const std::string cert = ReadFile(Path("ca.crt"));
  absl::Status s = InitCa(dir_, "other.example");
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr(Path("ca.key")));
  EXPECT_EQ(ReadFile(Path("ca.key")), key);
  EXPECT_EQ(ReadFile(Path("ca.crt")), cert);
}

TEST_F(CaTest, InitRejectsBadTrustDomains) {
  for (const std::string& domain :
       {std::string(""), std::string("Farm.example"),
        std::string("farm..example"), std::string("-farm"),
        std::string("farm_example"), std::string("spiffe://x"),
        std::string(55, 'a')}) {
    absl::Status s = InitCa(dir_, domain);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << domain;
    EXPECT_THAT(s.message(), HasSubstr("\"" + domain + "\""));
  }
  EXPECT_FALSE(std::filesystem::exists(dir_));
  EXPECT_TRUE(InitCa(dir_, std::string(54, 'a')).ok());
}

TEST_F(CaTest, RefusesAWorldReadableCaKey) {
  Init();
  ASSERT_EQ(chmod(Path("ca.key").c_str(), 0644), 0);
  absl::Status s = IssueCertificate(dir_, Options(Role::kAgent, "p1"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("chmod 600"));
}

TEST_F(CaTest, RenewalReplacesOnlyTheSameIdentity) {
  Init();
  ASSERT_TRUE(IssueCertificate(dir_, Options(Role::kAgent, "octo")).ok());
  const std::string first = ReadFile(Path("octo.crt"));
  ASSERT_TRUE(IssueCertificate(dir_, Options(Role::kAgent, "octo")).ok());
  const std::string second = ReadFile(Path("octo.crt"));
  EXPECT_NE(first, second);

  absl::Status s = IssueCertificate(dir_, Options(Role::kUser, "octo"));
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(s.message(), HasSubstr("spiffe://farm.example/agent/octo"));
  EXPECT_EQ(ReadFile(Path("octo.crt")), second);
}

TEST_F(CaTest, ConcurrentRenewalsLeaveAMatchingPair) {
  Init();
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([this, &results, i] {
      results[i] = IssueCertificate(dir_, Options(Role::kAgent, "busy"));
    });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& s : results) EXPECT_TRUE(s.ok()) << s;
  X509Ptr leaf = ReadCert(Path("busy.crt"));
  KeyPtr key = ReadKey(Path("busy.key"));
  ASSERT_TRUE(leaf && key);
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  // No temporary files left behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
    EXPECT_NE(entry.path().filename().string()[0], '.') << entry.path();
  }
}

}  // namespace
TEST_F(CaTest, RotationKeepsOldLeavesValidUntilRetired) {
  Init();
  EXPECT_EQ(ReadFile(Path("bundle.crt")), ReadFile(Path("ca.crt")));
  ASSERT_TRUE(IssueCertificate(dir_, Options(Role::kAgent, "old-leaf")).ok());
  const std::string old_ca_pem = ReadFile(Path("ca.crt"));
  const std::string old_key_pem = ReadFile(Path("ca.key"));
  X509Ptr old_ca = ReadCert(Path("ca.crt"));

  ASSERT_TRUE(RotateCa(dir_).ok());
  EXPECT_EQ(ReadFile(Path("previous-ca.crt")), old_ca_pem);
  EXPECT_NE(ReadFile(Path("ca.key")), old_key_pem);
  EXPECT_EQ(Mode(Path("ca.key")), 0600);
  EXPECT_EQ(ReadFile(Path("bundle.crt")), ReadFile(Path("ca.crt")) + old_ca_pem);
  X509Ptr new_ca = ReadCert(Path("ca.crt"));
  ASSERT_TRUE(old_ca && new_ca);
  // Same trust domain, another subject, and leaves now come from the new CA.
  EXPECT_THAT(Sans(new_ca.get(), GEN_URI), ElementsAre("spiffe://farm.example"));
  EXPECT_NE(CommonName(new_ca.get()), CommonName(old_ca.get()));
  ASSERT_TRUE(IssueCertificate(dir_, Options(Role::kAgent, "new-leaf")).ok());
  X509Ptr new_leaf = ReadCert(Path("new-leaf.crt"));
  X509Ptr old_leaf = ReadCert(Path("old-leaf.crt"));
  EXPECT_EQ(Verify(new_ca.get(), new_leaf.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_NE(Verify(old_ca.get(), new_leaf.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);
  EXPECT_EQ(Verify(old_ca.get(), old_leaf.get(), X509_PURPOSE_SSL_CLIENT), X509_V_OK);

  absl::Status again = RotateCa(dir_);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.message(), HasSubstr("bowden ca retire"));

  ASSERT_TRUE(RetirePreviousCa(dir_).ok());
  EXPECT_FALSE(std::filesystem::exists(Path("previous-ca.crt")));
  EXPECT_EQ(ReadFile(Path("bundle.crt")), ReadFile(Path("ca.crt")));
  EXPECT_EQ(RetirePreviousCa(dir_).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CaTest, RotationNeedsACa) {
  EXPECT_EQ(RotateCa(root_ + "/nope").code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(RetirePreviousCa(root_ + "/nope").code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace bowden::certs
