#ifndef BOWDEN_RELAY_RATE_LIMITER_H_
#define BOWDEN_RELAY_RATE_LIMITER_H_

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace bowden::relay {

// A token bucket per key (the enrollment listener keys by peer address):
// `burst` requests at once, refilled at `per_minute`. The caller passes the
// time, so tests need no clock. Thread-safe.
class RateLimiter {
 public:
  RateLimiter(double burst, double per_minute) : burst_(burst), per_minute_(per_minute) {}

  bool Allow(const std::string& key, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (buckets_.size() > 10000) buckets_.clear();  // bounded memory under a flood
    Bucket& b = buckets_.try_emplace(key, Bucket{burst_, now}).first->second;
    b.tokens = std::min(burst_, b.tokens + absl::ToDoubleMinutes(now - b.last) * per_minute_);
    b.last = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

 private:
  struct Bucket {
    double tokens;
    absl::Time last;
  };
  const double burst_;
  const double per_minute_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_RATE_LIMITER_H_
