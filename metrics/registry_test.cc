#include "metrics/registry.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/text_serializer.h"

namespace bowden::metrics {
namespace {

using ::testing::HasSubstr;

std::string Text(const Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(RegistryTest, CounterWithLabelsAppearsAsOneFamily) {
  Registry registry;
  Counter& up = registry.AddCounter("bowden_x_bytes_total", "Bytes.",
                                    {{"direction", "up"}});
  Counter& down = registry.AddCounter("bowden_x_bytes_total", "Bytes.",
                                      {{"direction", "down"}});
  up.Add(5);
  up.Add(7);
  down.Increment();
  std::string text = Text(registry);
  EXPECT_THAT(text, HasSubstr("# TYPE bowden_x_bytes_total counter\n"));
  EXPECT_THAT(text, HasSubstr("bowden_x_bytes_total{direction=\"up\"} 12\n"));
  EXPECT_THAT(text, HasSubstr("bowden_x_bytes_total{direction=\"down\"} 1\n"));
  // One HELP and TYPE line for both series.
  EXPECT_EQ(text.find("# TYPE"), text.rfind("# TYPE"));
}

TEST(RegistryTest, GaugesGoBothWaysAndCallbacksAreReadAtCollect) {
  Registry registry;
  Gauge& live = registry.AddGauge("bowden_x_sessions", "Live sessions.");
  live.Add(3);
  live.Add(-1);
  double depth = 4;
  registry.AddCallbackGauge("bowden_x_queue_depth", "Depth.",
                            [&depth] { return depth; });
  EXPECT_THAT(Text(registry), HasSubstr("bowden_x_sessions 2\n"));
  EXPECT_THAT(Text(registry), HasSubstr("bowden_x_queue_depth 4\n"));
  depth = 9;
  EXPECT_THAT(Text(registry), HasSubstr("bowden_x_queue_depth 9\n"));
  live.Set(0);
  EXPECT_THAT(Text(registry), HasSubstr("bowden_x_sessions 0\n"));
}

TEST(RegistryTest, HistogramHasCumulativeBucketsCountAndSum) {
  Registry registry;
  prometheus::Histogram& latency =
      registry.AddHistogram("bowden_x_seconds", "Latency.", {0.1, 1});
  latency.Observe(0.05);
  latency.Observe(0.5);
  latency.Observe(5);
  std::string text = Text(registry);
  EXPECT_THAT(text, HasSubstr("# TYPE bowden_x_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("bowden_x_seconds_count 3\n"));
  EXPECT_THAT(text, HasSubstr("bowden_x_seconds_sum 5.55"));
  EXPECT_THAT(text, HasSubstr("bowden_x_seconds_bucket{le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("bowden_x_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("bowden_x_seconds_bucket{le=\"+Inf\"} 3\n"));
}

TEST(RegistryTest, ConcurrentAddsAreAllCounted) {
  Registry registry;
  Counter& counter = registry.AddCounter("bowden_x_total", "Adds.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&counter] {
      for (int i = 0; i < 100000; ++i) counter.Add(2);
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter.value(), 800000u);
  EXPECT_THAT(Text(registry), HasSubstr("bowden_x_total 800000\n"));
}

TEST(RegistryDeathTest, OneNameWithTwoTypesIsABug) {
  Registry registry;
  registry.AddCounter("bowden_x", "A counter.");
  EXPECT_DEATH(registry.AddGauge("bowden_x", "A gauge."), "two types");
}

}  // namespace
}  // namespace bowden::metrics
