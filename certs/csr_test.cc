// Enrollment: CSRs made by NewKeyAndCsr, CsrForKey and GenerateKeyAndCsr,
// signed by SignCsr, and CA fingerprints. Hostile CSRs are built with OpenSSL
// directly (test_x509.h), so the checks do not rely on the code under test.

#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "certs/ca.h"
#include "certs/test_x509.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace bowden::certs {
namespace {

// The PEM header of a PKCS#8 key, split so that scans for committed private
// keys do not flag this test, which holds none (keys are made at run time).
constexpr char kPkcs8Header[] = "-----BEGIN " "PRIVATE KEY-----";

using ::bowden::certs::test_x509::CertSpki;
using ::bowden::certs::test_x509::CommonName;
using ::bowden::certs::test_x509::CsrDer;
using ::bowden::certs::test_x509::CsrSpki;
using ::bowden::certs::test_x509::DerToCsrPem;
using ::bowden::certs::test_x509::Extensions;
using ::bowden::certs::test_x509::GenerateKey;
using ::bowden::certs::test_x509::KeyPtr;
using ::bowden::certs::test_x509::MakeCsr;
using ::bowden::certs::test_x509::Mode;
using ::bowden::certs::test_x509::ParseCert;
using ::bowden::certs::test_x509::ParseCsr;
using ::bowden::certs::test_x509::ParseKey;
using ::bowden::certs::test_x509::PrivateKeyPem;
using ::bowden::certs::test_x509::ReadFile;
using ::bowden::certs::test_x509::ReqPtr;
using ::bowden::certs::test_x509::Sans;
using ::bowden::certs::test_x509::Spki;
using ::bowden::certs::test_x509::Verify;
using ::bowden::certs::test_x509::X509Ptr;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

constexpr char kDomain[] = "farm.example";

struct RoleCase {
  Role role;
  std::string name;
  std::string spiffe_id;
};
const std::vector<RoleCase>& RoleCases() {
  static const auto* cases = new std::vector<RoleCase>{
      {Role::kRelay, "relay-1", "spiffe://farm.example/relay"},
      {Role::kAgent, "mk4-01", "spiffe://farm.example/agent/mk4-01"},
      {Role::kUser, "alice", "spiffe://farm.example/user/alice"}};
  return *cases;
}

class CsrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/csr_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/ca";
    ASSERT_TRUE(InitCa(dir_, kDomain).ok());
    ca_ = ParseCert(ReadFile(dir_ + "/ca.crt"));
    ASSERT_TRUE(ca_);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  std::set<std::string> Listing(const std::string& dir) const {
    std::set<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      names.insert(e.path().filename().string());
    }
    return names;
  }

  std::string root_;
  std::string dir_;
  X509Ptr ca_;
};

TEST_F(CsrTest, NewKeyAndCsrRoundTripsForEveryRole) {
  absl::StatusOr<std::pair<std::string, std::string>> kc = NewKeyAndCsr();
  ASSERT_TRUE(kc.ok()) << kc.status();
  EXPECT_THAT(kc->first, StartsWith(kPkcs8Header));
  EXPECT_THAT(kc->second, StartsWith("-----BEGIN CERTIFICATE REQUEST-----"));
  KeyPtr key = ParseKey(kc->first);
  ReqPtr req = ParseCsr(kc->second);
  ASSERT_TRUE(key && req);
  EXPECT_EQ(CommonName(X509_REQ_get_subject_name(req.get())),
            "bowden-enrollment");
  EXPECT_EQ(X509_REQ_verify(req.get(), X509_REQ_get0_pubkey(req.get())), 1);
  EXPECT_EQ(CsrSpki(kc->second), Spki(key.get()));

  const std::set<std::string> before = Listing(dir_);
  for (const RoleCase& c : RoleCases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::string> pem =
        SignCsr(dir_, kc->second, c.role, c.name, absl::Hours(12));
    ASSERT_TRUE(pem.ok()) << pem.status();
    EXPECT_EQ(pem->find("-----BEGIN"), pem->rfind("-----BEGIN"));
    X509Ptr leaf = ParseCert(*pem);
    ASSERT_TRUE(leaf);
    EXPECT_EQ(Verify(ca_.get(), leaf.get(), X509_PURPOSE_SSL_CLIENT),
              X509_V_OK);
    EXPECT_EQ(Verify(ca_.get(), leaf.get(), X509_PURPOSE_SSL_SERVER),
              c.role == Role::kRelay ? X509_V_OK : X509_V_ERR_INVALID_PURPOSE);
    EXPECT_THAT(Sans(leaf.get(), GEN_URI), ElementsAre(c.spiffe_id));
    EXPECT_EQ(CommonName(X509_get_subject_name(leaf.get())), c.name);
    EXPECT_EQ(CertSpki(leaf.get()), CsrSpki(kc->second));
    EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);
  }
  EXPECT_EQ(Listing(dir_), before);  // SignCsr writes nothing.
}

TEST_F(CsrTest, LeafHasTheSameProfileAsIssueCertificate) {
  IssueOptions options;
  options.role = Role::kAgent;
  options.name = "local";
  options.ttl = absl::Hours(2);
  ASSERT_TRUE(IssueCertificate(dir_, options).ok());
  X509Ptr local = ParseCert(ReadFile(dir_ + "/local.crt"));
  absl::StatusOr<std::pair<std::string, std::string>> kc = NewKeyAndCsr();
  ASSERT_TRUE(kc.ok());
  const absl::Time now = absl::Now();
  absl::StatusOr<std::string> pem =
      SignCsr(dir_, kc->second, Role::kAgent, "remote", absl::Hours(2));
  ASSERT_TRUE(pem.ok()) << pem.status();
  X509Ptr remote = ParseCert(*pem);
  ASSERT_TRUE(local && remote);

  EXPECT_EQ(Extensions(remote.get()), Extensions(local.get()));
  EXPECT_EQ(X509_check_ca(remote.get()), 0);
  EXPECT_EQ(X509_get_key_usage(remote.get()), X509_get_key_usage(local.get()));
  EXPECT_EQ(X509_get_extended_key_usage(remote.get()),
            uint32_t{XKU_SSL_CLIENT});
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(remote.get()),
                                  X509_get0_subject_key_id(ca_.get())),
            0);
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(remote.get()),
                          X509_get_subject_name(ca_.get())),
            0);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(remote.get());
  EXPECT_EQ(ASN1_STRING_length(serial), 16);
  EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);
  EXPECT_NE(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(local.get())), 0);
  auto near = [](const ASN1_TIME* t, absl::Time expected) {
    time_t lo = absl::ToTimeT(expected - absl::Minutes(1));
    time_t hi = absl::ToTimeT(expected + absl::Minutes(1));
    return X509_cmp_time(t, &lo) > 0 && X509_cmp_time(t, &hi) < 0;
  };
  EXPECT_TRUE(near(X509_get0_notBefore(remote.get()), now - absl::Minutes(5)));
  EXPECT_TRUE(near(X509_get0_notAfter(remote.get()), now + absl::Hours(2)));
}

TEST_F(CsrTest, IdentityComesFromTheCallerNeverFromTheCsr) {
  KeyPtr key = GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
  ASSERT_TRUE(key);
  const std::string evil =
      MakeCsr(key.get(), "root",
              {{NID_subject_alt_name,
                "URI:spiffe://evil/user/root,DNS:evil.example,IP:10.0.0.1"},
               {NID_basic_constraints, "critical,CA:TRUE"},
               {NID_ext_key_usage, "serverAuth,codeSigning"}});
  ASSERT_FALSE(evil.empty());
  for (const RoleCase& c : RoleCases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<std::string> pem =
        SignCsr(dir_, evil, c.role, c.name, absl::Hours(1));
    ASSERT_TRUE(pem.ok()) << pem.status();
    X509Ptr leaf = ParseCert(*pem);
    ASSERT_TRUE(leaf);
    EXPECT_THAT(Sans(leaf.get(), GEN_URI), ElementsAre(c.spiffe_id));
    EXPECT_THAT(Sans(leaf.get(), GEN_DNS), IsEmpty());
    EXPECT_THAT(Sans(leaf.get(), GEN_IPADD), IsEmpty());
    EXPECT_EQ(CommonName(X509_get_subject_name(leaf.get())), c.name);
    EXPECT_EQ(X509_check_ca(leaf.get()), 0);
    EXPECT_EQ(X509_get_extended_key_usage(leaf.get()),
              c.role == Role::kRelay ? uint32_t{XKU_SSL_SERVER | XKU_SSL_CLIENT}
                                     : uint32_t{XKU_SSL_CLIENT});
    EXPECT_EQ(CertSpki(leaf.get()), Spki(key.get()));
    EXPECT_EQ(Verify(ca_.get(), leaf.get(), X509_PURPOSE_SSL_CLIENT),
              X509_V_OK);
  }
}

TEST_F(CsrTest, ACsrAskingForAnotherIdentityIsRefusedBeforeSigning) {
  KeyPtr key = GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
  ASSERT_TRUE(key);
  const std::string id = "spiffe://farm.example/user/carol";
  // What our own clients send, and a CSR that names exactly the identity.
  absl::StatusOr<std::pair<std::string, std::string>> ours = NewKeyAndCsr();
  ASSERT_TRUE(ours.ok());
  EXPECT_TRUE(CheckCsrAsksOnlyFor(ours->second, "carol", id).ok());
  EXPECT_TRUE(
      CheckCsrAsksOnlyFor(MakeCsr(key.get(), "carol", {{NID_subject_alt_name, "URI:" + id}}),
                          "carol", id)
          .ok());
  struct Case {
    std::string csr;
    std::string asked;
  };
  for (const Case& c : std::vector<Case>{
           {MakeCsr(key.get(), "alice", {}), "'alice'"},
           {MakeCsr(key.get(), "carol",
                    {{NID_subject_alt_name, "URI:spiffe://farm.example/user/alice"}}),
            "spiffe://farm.example/user/alice"},
           {MakeCsr(key.get(), "carol", {{NID_subject_alt_name, "URI:" + id + ",DNS:x.example"}}),
            "DNS name"},
       }) {
    absl::Status s = CheckCsrAsksOnlyFor(c.csr, "carol", id);
    EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << c.asked;
    EXPECT_THAT(s.message(), HasSubstr(c.asked));
    EXPECT_THAT(s.message(), HasSubstr(id));
  }
  EXPECT_EQ(CheckCsrAsksOnlyFor("garbage", "carol", id).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CsrTest, TamperedCsrIsRefused) {
  absl::StatusOr<std::pair<std::string, std::string>> kc = NewKeyAndCsr();
  ASSERT_TRUE(kc.ok());
  const std::string der = CsrDer(kc->second);
  ASSERT_FALSE(der.empty());

  std::string bad_signature = der;
  bad_signature.back() ^= 0x01;  // Last byte of the signature's s.
  std::string bad_subject = der;
  const size_t at = bad_subject.find("bowden-enrollment");
  ASSERT_NE(at, std::string::npos);
  bad_subject[at] = 'c';  // "cowden-enrollment": still a valid name.

  for (const std::string& tampered : {bad_signature, bad_subject}) {
    absl::StatusOr<std::string> pem = SignCsr(
        dir_, DerToCsrPem(tampered), Role::kUser, "alice", absl::Hours(1));
    EXPECT_EQ(pem.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(pem.status().message(),
                HasSubstr("the CSR's signature does not verify"));
  }
}

TEST_F(CsrTest, WrongKeyTypesAreRefused) {
  struct Case {
    int id;
    int param;
    std::string got;
  } cases[] = {{EVP_PKEY_RSA, 2048, "got RSA-2048"},
               {EVP_PKEY_EC, NID_secp384r1, "got EC with a 384-bit curve"},
               {EVP_PKEY_EC, NID_secp256k1, "got a 256-bit EC key"},
               {EVP_PKEY_ED25519, 0, "got Ed25519"}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.got);
    KeyPtr key = GenerateKey(c.id, c.param);
    ASSERT_TRUE(key);
    const std::string csr = MakeCsr(key.get(), "x", {});
    ASSERT_FALSE(csr.empty());
    absl::StatusOr<std::string> pem =
        SignCsr(dir_, csr, Role::kAgent, "p1", absl::Hours(1));
    EXPECT_EQ(pem.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string want =
        "wrong key type: Bowden certificates use EC P-256 keys, " + c.got;
    EXPECT_THAT(pem.status().message(), HasSubstr(want));
  }
}

TEST_F(CsrTest, GarbageIsNotACsr) {
  absl::StatusOr<std::pair<std::string, std::string>> kc = NewKeyAndCsr();
  ASSERT_TRUE(kc.ok());
  const std::string ca_pem = ReadFile(dir_ + "/ca.crt");
  for (const std::string& garbage :
       {std::string(""), std::string("hello"), ca_pem, kc->first,
        kc->second.substr(0, kc->second.size() / 2),
        std::string(100 * 1024, 'A')}) {
    absl::StatusOr<std::string> pem =
        SignCsr(dir_, garbage, Role::kAgent, "p1", absl::Hours(1));
    EXPECT_EQ(pem.status().code(), absl::StatusCode::kInvalidArgument);
    if (garbage.size() < 64 * 1024) {
      EXPECT_THAT(pem.status().message(),
                  HasSubstr("not a PEM certificate request"));
    }
  }
}

TEST_F(CsrTest, SignCsrValidatesNameTtlAndCa) {
  absl::StatusOr<std::pair<std::string, std::string>> kc = NewKeyAndCsr();
  ASSERT_TRUE(kc.ok());
  for (const char* name : {"", "Alice", "../x", "ca"}) {
    absl::StatusOr<std::string> pem =
        SignCsr(dir_, kc->second, Role::kUser, name, absl::Hours(1));
    EXPECT_EQ(pem.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(pem.status().message(),
                HasSubstr(std::string("\"") + name + "\""));
  }
  EXPECT_EQ(SignCsr(dir_, kc->second, Role::kUser, "a", absl::ZeroDuration())
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> long_ttl =
      SignCsr(dir_, kc->second, Role::kUser, "a", absl::Hours(24 * 365 * 20));
  EXPECT_THAT(long_ttl.status().message(), HasSubstr("outlives the CA"));
  absl::StatusOr<std::string> no_ca =
      SignCsr(root_ + "/nope", kc->second, Role::kUser, "a", absl::Hours(1));
  EXPECT_EQ(no_ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_ca.status().message(), HasSubstr("bowden ca init"));
}

TEST_F(CsrTest, GenerateKeyAndCsrWritesAPrivateKeyAtomically) {
  const std::string state = root_ + "/state";
  ASSERT_TRUE(std::filesystem::create_directory(state));
  const std::string key_path = state + "/agent.key";
  {
    std::ofstream old(key_path);
    old << "an earlier key";
  }
  ASSERT_EQ(chmod(key_path.c_str(), 0644), 0);
  const mode_t old_umask = umask(0);  // The mode must not depend on it.
  absl::StatusOr<std::string> csr = GenerateKeyAndCsr(key_path);
  umask(old_umask);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_EQ(Mode(key_path), 0600);
  const std::string key_pem = ReadFile(key_path);
  EXPECT_THAT(key_pem, StartsWith(kPkcs8Header));
  KeyPtr key = ParseKey(key_pem);
  ASSERT_TRUE(key);
  EXPECT_EQ(CsrSpki(*csr), Spki(key.get()));
  EXPECT_EQ(Listing(state), std::set<std::string>{"agent.key"});

  absl::StatusOr<std::string> pem =
      SignCsr(dir_, *csr, Role::kAgent, "mk4-01", absl::Hours(1));
  ASSERT_TRUE(pem.ok()) << pem.status();
  X509Ptr leaf = ParseCert(*pem);
  EXPECT_EQ(X509_check_private_key(leaf.get(), key.get()), 1);

  EXPECT_FALSE(GenerateKeyAndCsr(root_ + "/missing/agent.key").ok());
}

TEST_F(CsrTest, CsrForKeyRenewsWithTheSameKey) {
  absl::StatusOr<std::pair<std::string, std::string>> kc = NewKeyAndCsr();
  ASSERT_TRUE(kc.ok());
  absl::StatusOr<std::string> csr = CsrForKey(kc->first);
  ASSERT_TRUE(csr.ok()) << csr.status();
  EXPECT_EQ(CsrSpki(*csr), CsrSpki(kc->second));
  EXPECT_TRUE(SignCsr(dir_, *csr, Role::kUser, "alice", absl::Hours(1)).ok());

  absl::StatusOr<std::string> garbage = CsrForKey("not a key");
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(garbage.status().message(), HasSubstr("private key"));

  KeyPtr rsa = GenerateKey(EVP_PKEY_RSA, 2048);
  ASSERT_TRUE(rsa);
  absl::StatusOr<std::string> wrong = CsrForKey(PrivateKeyPem(rsa.get()));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("wrong key type"));
}

TEST_F(CsrTest, FingerprintIsTheSha256OfTheDer) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(X509_digest(ca_.get(), EVP_sha256(), md, &len), 1);
  const std::string expected =
      absl::BytesToHexString(std::string(reinterpret_cast<char*>(md), len));

  const std::string file_pem = ReadFile(dir_ + "/ca.crt");
  absl::StatusOr<std::string> fp = CertificateFingerprint(file_pem);
  ASSERT_TRUE(fp.ok()) << fp.status();
  EXPECT_THAT(*fp, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(*fp, expected);
  EXPECT_EQ(*CertificateFingerprint(file_pem), *fp);  // Stable.

  absl::StatusOr<std::string> ca_pem = ReadCaCertificate(dir_);
  ASSERT_TRUE(ca_pem.ok()) << ca_pem.status();
  EXPECT_EQ(*ca_pem, file_pem);
  EXPECT_EQ(*CertificateFingerprint(*ca_pem), expected);

  // A bundle: the first certificate counts.
  absl::StatusOr<std::pair<std::string, std::string>> kc = NewKeyAndCsr();
  ASSERT_TRUE(kc.ok());
  absl::StatusOr<std::string> leaf =
      SignCsr(dir_, kc->second, Role::kUser, "alice", absl::Hours(1));
  ASSERT_TRUE(leaf.ok());
  EXPECT_EQ(*CertificateFingerprint(file_pem + *leaf), expected);
  EXPECT_NE(*CertificateFingerprint(*leaf + file_pem), expected);

  EXPECT_EQ(CertificateFingerprint("junk").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CertificateFingerprint(kc->second).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadCaCertificate(root_ + "/nope").status().code(),
            absl::StatusCode::kFailedPrecondition);

  // A bundle's pin covers every certificate, in order; one CA alone gives
  // the plain fingerprint.
  EXPECT_EQ(*BundleFingerprint(file_pem), expected);
  absl::StatusOr<std::string> two = BundleFingerprint(file_pem + *leaf);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_THAT(*two, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_NE(*two, expected);
  EXPECT_NE(*BundleFingerprint(*leaf + file_pem), *two);
  EXPECT_EQ(*BundleFingerprint(file_pem + *leaf), *two);
  EXPECT_EQ(BundleFingerprint("junk").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace bowden::certs
