#include "metrics/registry.h"

#include "glog/logging.h"

namespace bowden::metrics {

Registry::Series& Registry::Add(const std::string& name,
                                const std::string& help,
                                prometheus::MetricType type,
                                const Labels& labels) {
  Family* family = nullptr;
  for (Family& f : families_) {
    if (f.name == name) family = &f;
  }
  if (family == nullptr) {
    families_.push_back(Family{name, help, type, {}});
    family = &families_.back();
  }
  // Two types under one name would be rejected by every Prometheus parser.
  CHECK(family->type == type)
      << "metric " << name << " registered with two types";
  family->series.push_back(std::make_unique<Series>());
  family->series.back()->labels = labels;
  return *family->series.back();
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  absl::MutexLock lock(&mu_);
  Series& series = Add(name, help, prometheus::MetricType::Counter, labels);
  series.counter = std::make_unique<Counter>();
  return *series.counter;
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help,
                          const Labels& labels) {
  absl::MutexLock lock(&mu_);
  Series& series = Add(name, help, prometheus::MetricType::Gauge, labels);
  series.gauge = std::make_unique<Gauge>();
  return *series.gauge;
}

void Registry::AddCallbackGauge(const std::string& name,
                                const std::string& help,
                                std::function<double()> read,
                                const Labels& labels) {
  absl::MutexLock lock(&mu_);
  Add(name, help, prometheus::MetricType::Gauge, labels).read = std::move(read);
}

prometheus::Histogram& Registry::AddHistogram(
    const std::string& name, const std::string& help,
    const prometheus::Histogram::BucketBoundaries& buckets,
    const Labels& labels) {
  absl::MutexLock lock(&mu_);
  Series& series = Add(name, help, prometheus::MetricType::Histogram, labels);
  series.histogram = std::make_unique<prometheus::Histogram>(buckets);
  return *series.histogram;
}

std::vector<prometheus::MetricFamily> Registry::Collect() const {
  absl::MutexLock lock(&mu_);
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families_.size());
  for (const Family& family : families_) {
    prometheus::MetricFamily& f = out.emplace_back();
    f.name = family.name;
    f.help = family.help;
    f.type = family.type;
    for (const auto& series : family.series) {
      prometheus::ClientMetric m;
      if (series->histogram != nullptr) m = series->histogram->Collect();
      for (const auto& [name, value] : series->labels)
        m.label.push_back({name, value});
      if (series->counter != nullptr) {
        m.counter.value = static_cast<double>(series->counter->value());
      } else if (series->gauge != nullptr) {
        m.gauge.value = static_cast<double>(series->gauge->value());
      } else if (series->read) {
        m.gauge.value = series->read();
      }
      f.metric.push_back(std::move(m));
    }
  }
  return out;
}

}  // namespace bowden::metrics
