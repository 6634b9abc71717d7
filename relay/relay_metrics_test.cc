#include "relay/relay_metrics.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace bowden::relay {
namespace {

using ::testing::HasSubstr;

TEST(DenialReasonTest, EachRefusalCodeHasItsReason) {
  EXPECT_STREQ(DenialReason(absl::PermissionDeniedError("")), "policy");
  EXPECT_STREQ(DenialReason(absl::InvalidArgumentError("")), "invalid_request");
  EXPECT_STREQ(DenialReason(absl::NotFoundError("")), "unknown_printer");
  EXPECT_STREQ(DenialReason(absl::UnavailableError("")), "offline");
  EXPECT_STREQ(DenialReason(absl::ResourceExhaustedError("")), "session_limit");
  EXPECT_STREQ(DenialReason(absl::UnauthenticatedError("")), "identity");
  EXPECT_STREQ(DenialReason(absl::InternalError("")), "other");
}

TEST(RelayMetricsTest, UnknownTlsRefusalCodesCountAsOther) {
  RelayMetrics& metrics = RelayMetrics::Get();
  metrics.CountTlsRefusal("expired");
  metrics.CountTlsRefusal("something new");
  metrics.CountDenial(absl::ResourceExhaustedError("too many"));
  std::string text =
      prometheus::TextSerializer().Serialize(metrics.registry()->Collect());
  EXPECT_THAT(
      text,
      HasSubstr("bowden_relay_tls_refusals_total{reason=\"expired\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("bowden_relay_tls_refusals_total{reason=\"other\"} 1\n"));
  EXPECT_THAT(
      text,
      HasSubstr("bowden_relay_denials_total{reason=\"session_limit\"} 1\n"));
}

}  // namespace
}  // namespace bowden::relay
