#include "identity/client_chain.h"

#include <openssl/obj_mac.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "certs/test_x509.h"
#include "gtest/gtest.h"

namespace bowden::identity {
namespace {

namespace x509 = certs::test_x509;
using Extensions = std::vector<std::pair<int, std::string>>;

const Extensions kCaExtensions = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"}};
const Extensions kUserExtensions = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature"},
    {NID_ext_key_usage, "clientAuth"},
    {NID_subject_alt_name, "URI:spiffe://farm.test/user/alice"}};

// A CA: its key, its self-signed certificate and that certificate's PEM.
struct Ca {
  x509::KeyPtr key;
  std::string pem;
  x509::X509Ptr cert;
};

Ca MakeCa(const std::string& name) {
  Ca ca;
  ca.key = x509::GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
  ca.pem =
      x509::IssueCert(nullptr, ca.key.get(), ca.key.get(), name, kCaExtensions);
  ca.cert = x509::ParseCert(ca.pem);
  return ca;
}

class ClientChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = absl::StrCat(
        ::testing::TempDir(), "/client_chain_", getpid(), "_",
        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(
        system(absl::StrCat("rm -rf '", dir_, "' && mkdir -p '", dir_, "'")
                   .c_str()),
        0);
    farm_ = MakeCa("Bowden CA farm.test");
    key_ = x509::GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
    ASSERT_NE(farm_.cert, nullptr);
    ASSERT_NE(key_, nullptr);
    WriteBundle({farm_.pem});
    absl::StatusOr<std::unique_ptr<ClientChainChecker>> checker =
        ClientChainChecker::Create(bundle_path());
    ASSERT_TRUE(checker.ok()) << checker.status();
    checker_ = *std::move(checker);
  }

  std::string bundle_path() const { return dir_ + "/bundle.crt"; }

  // Replaces the bundle atomically, as `bowden ca rotate` does.
  void WriteBundle(const std::vector<std::string>& pems) {
    const std::string tmp = bundle_path() + ".tmp";
    {
      std::ofstream out(tmp);
      for (const std::string& pem : pems) out << pem;
    }
    ASSERT_EQ(rename(tmp.c_str(), bundle_path().c_str()), 0);
  }

  std::string Leaf(const Ca& ca, const Extensions& extensions = kUserExtensions,
                   long not_before = -3600, long not_after = 24 * 3600) {
    std::string pem =
        x509::IssueCertValid(ca.cert.get(), ca.key.get(), key_.get(), "alice",
                             not_before, not_after, extensions);
    EXPECT_NE(pem, "");
    return pem;
  }

  ChainVerdict Check(const std::string& leaf, const std::string& chain = "") {
    return checker_->Check(leaf, chain);
  }

  std::string dir_;
  Ca farm_;
  x509::KeyPtr key_;
  std::unique_ptr<ClientChainChecker> checker_;
};

TEST_F(ClientChainTest, AFarmLeafForClientAuthPasses) {
  ChainVerdict verdict = Check(Leaf(farm_));
  EXPECT_TRUE(verdict.status.ok()) << verdict.status;
  EXPECT_EQ(verdict.code, "");
  EXPECT_EQ(verdict.leaf.subject, "CN=alice");
  EXPECT_EQ(verdict.leaf.issuer, "CN=Bowden CA farm.test");
  EXPECT_EQ(verdict.leaf.serial_hex, "7E57");
  // The chain a client sends may repeat its leaf.
  std::string leaf = Leaf(farm_);
  EXPECT_TRUE(Check(leaf, leaf).status.ok());
}

TEST_F(ClientChainTest, AnExpiredLeafIsRefusedWithItsDate) {
  ChainVerdict verdict = Check(Leaf(farm_, kUserExtensions, -7200, -3600));
  EXPECT_EQ(verdict.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(verdict.code, "expired");
  EXPECT_TRUE(absl::StartsWith(verdict.status.message(),
                               "the client certificate expired on 20"))
      << verdict.status;
  EXPECT_TRUE(absl::EndsWith(verdict.status.message(), " UTC"))
      << verdict.status;
  EXPECT_TRUE(
      absl::StrContains(verdict.status.message(), verdict.leaf.not_after));
}

TEST_F(ClientChainTest, ALeafNotYetValidIsRefused) {
  ChainVerdict verdict = Check(Leaf(farm_, kUserExtensions, 3600, 7200));
  EXPECT_EQ(verdict.code, "not_yet_valid");
  EXPECT_TRUE(absl::StrContains(verdict.status.message(), "is not valid until"))
      << verdict.status;
}

TEST_F(ClientChainTest, ALeafOfAForeignCaNamesItsIssuer) {
  Ca other = MakeCa("Some Other CA");
  ChainVerdict verdict = Check(Leaf(other));
  EXPECT_EQ(verdict.code, "untrusted_issuer");
  EXPECT_EQ(verdict.status.message(),
            "the client certificate is signed by a CA this farm does not trust "
            "(issuer: "
            "CN=Some Other CA)");
}

TEST_F(ClientChainTest, AForeignCaWithTheFarmCasNameIsToldApart) {
  // As Bowden's CA issues them: the leaf names its CA's key, so the farm CA
  // of the same name is not taken for its issuer.
  Ca impostor = MakeCa("Bowden CA farm.test");
  Extensions extensions = kUserExtensions;
  extensions.emplace_back(NID_authority_key_identifier, "keyid:always");
  ChainVerdict verdict = Check(Leaf(impostor, extensions));
  EXPECT_EQ(verdict.code, "untrusted_issuer");
  EXPECT_TRUE(absl::StrContains(
      verdict.status.message(),
      "(issuer: CN=Bowden CA farm.test): a trusted CA has that "
      "name but another key"))
      << verdict.status;
}

TEST_F(ClientChainTest, ASelfSignedLeafIsRefusedAsSuch) {
  std::string pem = x509::IssueCert(nullptr, key_.get(), key_.get(), "alice",
                                    kUserExtensions);
  ChainVerdict verdict = Check(pem);
  EXPECT_EQ(verdict.code, "self_signed");
  EXPECT_EQ(verdict.status.message(),
            "the client certificate is self-signed (CN=alice), not issued by "
            "this farm's CA");
}

TEST_F(ClientChainTest, ALeafWithoutClientAuthIsRefused) {
  ChainVerdict verdict =
      Check(Leaf(farm_, {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "serverAuth"}}));
  EXPECT_EQ(verdict.code, "not_client_auth");
  EXPECT_EQ(verdict.status.message(),
            "the client certificate is not for client authentication (its "
            "extendedKeyUsage "
            "lacks clientAuth)");
  verdict = Check(Leaf(farm_, {{NID_key_usage, "critical,keyEncipherment"}}));
  EXPECT_EQ(verdict.code, "not_client_auth");
  EXPECT_TRUE(absl::StrContains(verdict.status.message(), "keyUsage"))
      << verdict.status;
}

TEST_F(ClientChainTest, ACaCertificateIsNoLeaf) {
  ChainVerdict verdict =
      Check(Leaf(farm_, {{NID_basic_constraints, "critical,CA:TRUE"},
                         {NID_key_usage, "digitalSignature,keyCertSign"},
                         {NID_ext_key_usage, "clientAuth"}}));
  EXPECT_EQ(verdict.code, "ca_certificate");
  EXPECT_EQ(verdict.status.message(),
            "the client certificate is a CA certificate (basicConstraints "
            "CA:TRUE and keyUsage "
            "keyCertSign), not a leaf");
}

TEST_F(ClientChainTest, ATamperedSignatureIsRefused) {
  // Names the farm CA as its issuer (without a key identifier) but is
  // signed by another key: found as the issuer by name, refused by its
  // signature.
  Ca impostor = MakeCa("Bowden CA farm.test");
  std::string pem = x509::IssueCert(farm_.cert.get(), impostor.key.get(),
                                    key_.get(), "alice", kUserExtensions);
  ChainVerdict verdict = Check(pem);
  EXPECT_EQ(verdict.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(verdict.code, "bad_signature") << verdict.status;
  EXPECT_EQ(verdict.status.message(),
            "the signature on the client certificate does not verify against "
            "the trusted CA "
            "CN=Bowden CA farm.test: signed by another key (another farm's CA "
            "of that name?) "
            "or altered");
}

TEST_F(ClientChainTest, AWeakKeyIsRefusedAsTheHandshakeWould) {
  x509::KeyPtr weak = x509::GenerateKey(EVP_PKEY_RSA, 1024);
  ASSERT_NE(weak, nullptr);
  std::string pem = x509::IssueCert(farm_.cert.get(), farm_.key.get(),
                                    weak.get(), "alice", kUserExtensions);
  ChainVerdict verdict = Check(pem);
  EXPECT_EQ(verdict.code, "invalid");
  EXPECT_TRUE(absl::StrContains(verdict.status.message(), "too weak"))
      << verdict.status;
}

TEST_F(ClientChainTest, GarbageIsUnreadable) {
  ChainVerdict verdict =
      Check("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  EXPECT_EQ(verdict.code, "unreadable");
  EXPECT_EQ(verdict.status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(Check("").code, "unreadable");
}

TEST_F(ClientChainTest, AnIntermediateSentByTheClientCompletesTheChain) {
  Ca intermediate;
  intermediate.key = x509::GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
  intermediate.pem =
      x509::IssueCert(farm_.cert.get(), farm_.key.get(), intermediate.key.get(),
                      "Bowden intermediate", kCaExtensions);
  intermediate.cert = x509::ParseCert(intermediate.pem);
  ASSERT_NE(intermediate.cert, nullptr);
  std::string leaf = Leaf(intermediate);
  EXPECT_TRUE(Check(leaf, intermediate.pem).status.ok());
  ChainVerdict verdict = Check(leaf);
  EXPECT_EQ(verdict.code, "untrusted_issuer");
  EXPECT_TRUE(absl::StrContains(verdict.status.message(),
                                "(issuer: CN=Bowden intermediate)"));
}

TEST_F(ClientChainTest, TheBundleIsReReadWhenItChanges) {
  Ca next = MakeCa("Bowden CA farm.test 2024-05-01");
  std::string old_leaf = Leaf(farm_);
  std::string new_leaf = Leaf(next);
  EXPECT_EQ(Check(new_leaf).code, "untrusted_issuer");

  WriteBundle({next.pem, farm_.pem});  // rotation: both trusted
  EXPECT_TRUE(Check(new_leaf).status.ok());
  EXPECT_TRUE(Check(old_leaf).status.ok());

  WriteBundle({"not a certificate"});  // a broken file keeps the last good one
  EXPECT_TRUE(Check(new_leaf).status.ok());
  EXPECT_TRUE(Check(old_leaf).status.ok());

  WriteBundle({next.pem});  // retired: the old CA's leaves are refused
  EXPECT_TRUE(Check(new_leaf).status.ok());
  EXPECT_EQ(Check(old_leaf).code, "untrusted_issuer");
}

TEST_F(ClientChainTest, ChecksFromManyThreadsWhileTheBundleRotates) {
  Ca next = MakeCa("Bowden CA next");
  const std::string leaf = Leaf(farm_);
  const std::string stranger = Leaf(MakeCa("Stranger CA"));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        // The farm CA stays in every bundle written below.
        if (!Check(leaf).status.ok()) ++wrong;
        if (Check(stranger).code != "untrusted_issuer") ++wrong;
      }
    });
  }
  for (int i = 0; i < 20; ++i) WriteBundle({i % 2 ? next.pem : "", farm_.pem});
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(ClientChainCreateTest, AMissingOrEmptyBundleIsAnError) {
  EXPECT_EQ(
      ClientChainChecker::Create("/nonexistent/bundle.crt").status().code(),
      absl::StatusCode::kNotFound);
  const std::string empty = ::testing::TempDir() + "/empty_bundle.crt";
  std::ofstream(empty) << "nothing here\n";
  EXPECT_EQ(ClientChainChecker::Create(empty).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace bowden::identity
