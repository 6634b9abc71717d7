#include "agent/backoff.h"

#include "gtest/gtest.h"

namespace bowden::agent {
namespace {

TEST(BackoffTest, DoublesFromHalfASecondToThirtySecondsWithJitter) {
  double draw = 0.0;
  Backoff backoff(absl::Milliseconds(500), absl::Seconds(30), [&] { return draw; });
  // Lowest draws: half of each base.
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(250));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(500));
  EXPECT_EQ(backoff.Next(), absl::Seconds(1));
  draw = 0.999999;
  // Highest draws approach the base: 4 s, then 8, 16, then the 30 s cap.
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next()), 4.0, 1e-3);
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next()), 8.0, 1e-3);
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next()), 16.0, 1e-3);
  EXPECT_NEAR(absl::ToDoubleSeconds(backoff.Next()), 30.0, 1e-3);
  for (int i = 0; i < 100; ++i) EXPECT_LE(backoff.Next(), absl::Seconds(30));
  backoff.Reset();
  draw = 0.0;
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(250));
}

}  // namespace
}  // namespace bowden::agent
