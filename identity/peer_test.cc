#include "identity/peer.h"

#include <openssl/obj_mac.h>

#include "certs/test_x509.h"
#include "gtest/gtest.h"

namespace bowden::identity {
namespace {

namespace x509 = certs::test_x509;

class CaMarksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_key_ = x509::GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
    key_ = x509::GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
    ASSERT_NE(ca_key_, nullptr);
    ASSERT_NE(key_, nullptr);
    ca_ = x509::ParseCert(
        x509::IssueCert(nullptr, ca_key_.get(), ca_key_.get(), "farm CA",
                        {{NID_basic_constraints, "critical,CA:TRUE"},
                         {NID_key_usage, "keyCertSign,cRLSign"}}));
    ASSERT_NE(ca_, nullptr);
  }

  // The CA marks of a certificate the farm CA signs with `extensions`.
  std::string Marks(
      const std::vector<std::pair<int, std::string>>& extensions) {
    extensions_.assign(extensions.begin(), extensions.end());
    extensions_.emplace_back(NID_subject_alt_name,
                             "URI:spiffe://farm.test/user/alice");
    std::string pem = x509::IssueCert(ca_.get(), ca_key_.get(), key_.get(),
                                      "alice", extensions_);
    EXPECT_NE(pem, "");
    absl::StatusOr<PeerCertificate> cert = ParseCertificatePem(pem);
    EXPECT_TRUE(cert.ok()) << cert.status();
    return cert.ok() ? cert->ca_marks : "unreadable";
  }

  x509::KeyPtr ca_key_;
  x509::KeyPtr key_;
  x509::X509Ptr ca_;
  std::vector<std::pair<int, std::string>> extensions_;
};

TEST_F(CaMarksTest, LeavesHaveNone) {
  EXPECT_EQ(Marks({{NID_basic_constraints, "critical,CA:FALSE"},
                   {NID_key_usage, "critical,digitalSignature"},
                   {NID_ext_key_usage, "clientAuth"}}),
            "");
  EXPECT_EQ(Marks({}), "");  // neither extension: a leaf
}

TEST_F(CaMarksTest, CaCertificatesAreNamedAsSuch) {
  EXPECT_EQ(Marks({{NID_basic_constraints, "critical,CA:TRUE"},
                   {NID_ext_key_usage, "clientAuth"}}),
            "basicConstraints CA:TRUE");
  EXPECT_EQ(Marks({{NID_basic_constraints, "critical,CA:FALSE"},
                   {NID_key_usage, "critical,digitalSignature,keyCertSign"}}),
            "keyUsage keyCertSign");
  EXPECT_EQ(Marks({{NID_key_usage, "keyCertSign"}}), "keyUsage keyCertSign");
  EXPECT_EQ(Marks({{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                   {NID_key_usage, "critical,digitalSignature,keyCertSign"}}),
            "basicConstraints CA:TRUE and keyUsage keyCertSign");
}

}  // namespace
}  // namespace bowden::identity
