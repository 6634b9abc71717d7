#include "agent/backoff.h"

#include <algorithm>

namespace bowden::agent {

Backoff::Backoff(absl::Duration initial, absl::Duration max,
                 std::function<double()> uniform01)
    : initial_(initial), max_(max), uniform01_(std::move(uniform01)) {}

absl::Duration Backoff::Next() {
  absl::Duration base = initial_;
  for (int i = 0; i < attempt_ && base < max_; ++i) base *= 2;
  base = std::min(base, max_);
  ++attempt_;
  return base / 2 + (base / 2) * uniform01_();
}

}  // namespace bowden::agent
