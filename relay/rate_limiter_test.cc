#include "relay/rate_limiter.h"

#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(RateLimiterTest, ABurstPassesThenTheKeyWaitsForRefill) {
  RateLimiter limiter(/*burst=*/3, /*per_minute=*/6);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.Allow("ipv4:10.0.0.1", kStart)) << i;
  EXPECT_FALSE(limiter.Allow("ipv4:10.0.0.1", kStart));
  // 6 a minute: one more after 10 s, not before.
  EXPECT_FALSE(limiter.Allow("ipv4:10.0.0.1", kStart + absl::Seconds(9)));
  EXPECT_TRUE(limiter.Allow("ipv4:10.0.0.1", kStart + absl::Seconds(20)));
  EXPECT_FALSE(limiter.Allow("ipv4:10.0.0.1", kStart + absl::Seconds(20)));
}

TEST(RateLimiterTest, KeysHaveTheirOwnBuckets) {
  RateLimiter limiter(1, 1);
  EXPECT_TRUE(limiter.Allow("a", kStart));
  EXPECT_FALSE(limiter.Allow("a", kStart));
  EXPECT_TRUE(limiter.Allow("b", kStart));
}

TEST(RateLimiterTest, RefillStopsAtTheBurst) {
  RateLimiter limiter(2, 60);
  EXPECT_TRUE(limiter.Allow("a", kStart));
  // An hour idle refills to 2, not to 60.
  absl::Time later = kStart + absl::Hours(1);
  EXPECT_TRUE(limiter.Allow("a", later));
  EXPECT_TRUE(limiter.Allow("a", later));
  EXPECT_FALSE(limiter.Allow("a", later));
}

}  // namespace
}  // namespace bowden::relay
