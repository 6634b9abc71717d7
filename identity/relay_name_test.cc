#include "identity/relay_name.h"

#include <openssl/obj_mac.h>

#include "absl/strings/match.h"
#include "certs/test_x509.h"
#include "gtest/gtest.h"

namespace bowden::identity {
namespace {

namespace x509 = certs::test_x509;

// A relay certificate with `san` (OpenSSL config syntax), self-signed: only
// the names matter here, the chain is gRPC's to check.
std::string RelayCert(const std::string& san) {
  x509::KeyPtr key = x509::GenerateKey(EVP_PKEY_EC, NID_X9_62_prime256v1);
  return x509::IssueCert(nullptr, key.get(), key.get(), "relay",
                         {{NID_subject_alt_name, san}});
}

TEST(RelayNameMismatchTest, TheNamesAndAddressesInTheCertificateMatch) {
  std::string cert = RelayCert(
      "URI:spiffe://farm.test/"
      "relay,DNS:relay.farm.example,DNS:localhost,IP:127.0.0.1,IP:::1");
  for (const char* target :
       {"relay.farm.example:7443", "RELAY.farm.example:7443", "localhost",
        "127.0.0.1:7443", "[::1]:7443", "::1"}) {
    EXPECT_EQ(RelayNameMismatch(target, cert), "") << target;
  }
}

TEST(RelayNameMismatchTest, AnotherHostIsNamedWithTheCertificatesNames) {
  std::string cert = RelayCert(
      "URI:spiffe://farm.test/relay,DNS:relay.farm.example,IP:10.0.0.7");
  std::string mismatch = RelayNameMismatch("127.0.0.1:7443", cert);
  EXPECT_TRUE(absl::StartsWith(
      mismatch,
      "the relay's certificate is not for 127.0.0.1 (it names "
      "relay.farm.example, 10.0.0.7): use --relay with a name in its "
      "certificate"))
      << mismatch;
  EXPECT_NE(RelayNameMismatch("other.farm.example:7443", cert), "");
  EXPECT_NE(RelayNameMismatch("farm.example:7443", cert), "");
  EXPECT_NE(RelayNameMismatch("10.0.0.70:7443", cert), "");
  EXPECT_NE(RelayNameMismatch("[::1]:7443", cert), "");
  EXPECT_TRUE(absl::StrContains(
      RelayNameMismatch("x:1", RelayCert("URI:spiffe://farm.test/relay")),
      "(it names no host)"));
  EXPECT_NE(RelayNameMismatch("relay.farm.example:7443", "not a certificate"),
            "");
}

TEST(RelayNameMismatchTest, WildcardsCoverOneWholeLabelOnly) {
  std::string cert =
      RelayCert("URI:spiffe://farm.test/relay,DNS:*.farm.example");
  EXPECT_EQ(RelayNameMismatch("relay.farm.example:7443", cert), "");
  EXPECT_NE(RelayNameMismatch("a.relay.farm.example:7443", cert), "");
  EXPECT_NE(RelayNameMismatch("farm.example:7443", cert), "");
}

}  // namespace
}  // namespace bowden::identity
