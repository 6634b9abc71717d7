#ifndef BOWDEN_METRICS_REGISTRY_H_
#define BOWDEN_METRICS_REGISTRY_H_

// A process's Prometheus metrics, collected by prometheus-cpp's Exposer
// (metrics/server.h). Counters and gauges are single atomics, so the data
// path adds to them with one relaxed atomic add and no lock; gauges can also
// be read from a callback at scrape time (a value some object already keeps).

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"

namespace bowden::metrics {

// Label name -> value. Keep label sets small and bounded: never a user name,
// a session id or anything else a client chooses.
using Labels = std::map<std::string, std::string>;

// A monotonically increasing count. Thread-safe; Add is one relaxed atomic add.
class Counter {
 public:
  void Add(uint64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void Increment() { Add(1); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }
  // The atomic itself, for code that must not depend on metrics/ (the byte
  // pump in tunnel/ adds to it directly).
  std::atomic<uint64_t>* cell() { return &value_; }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (whole numbers: connections, queue depths,
// timestamps). Thread-safe; each call is one relaxed atomic operation.
class Gauge {
 public:
  void Set(int64_t value) { value_.store(value, std::memory_order_relaxed); }
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// The metrics of one process. Add* registers a metric and returns it; the
// returned reference lives as long as the registry. Adding the same name
// twice with other labels adds a series to the same family (the type and help
// of the first registration stay). Thread-safe.
class Registry : public prometheus::Collectable {
 public:
  Counter& AddCounter(const std::string& name, const std::string& help,
                      const Labels& labels = {}) ABSL_LOCKS_EXCLUDED(mu_);
  Gauge& AddGauge(const std::string& name, const std::string& help,
                  const Labels& labels = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // `read` runs on the scraping thread at every scrape: it must be
  // thread-safe, cheap, and valid until the registry is no longer scraped.
  void AddCallbackGauge(const std::string& name, const std::string& help,
                        std::function<double()> read, const Labels& labels = {})
      ABSL_LOCKS_EXCLUDED(mu_);
  // prometheus-cpp's histogram (it takes its own lock per observation: for
  // latencies of rare events, not for the data path).
  prometheus::Histogram& AddHistogram(
      const std::string& name, const std::string& help,
      const prometheus::Histogram::BucketBoundaries& buckets,
      const Labels& labels = {}) ABSL_LOCKS_EXCLUDED(mu_);

  // prometheus::Collectable: every family, in the order first registered.
  std::vector<prometheus::MetricFamily> Collect() const override
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::function<double()> read;
    std::unique_ptr<prometheus::Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    prometheus::MetricType type;
    std::vector<std::unique_ptr<Series>> series;
  };
  Series& Add(const std::string& name, const std::string& help,
              prometheus::MetricType type, const Labels& labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<Family> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bowden::metrics

#endif  // BOWDEN_METRICS_REGISTRY_H_
