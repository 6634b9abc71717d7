#ifndef BOWDEN_AGENT_BACKOFF_H_
#define BOWDEN_AGENT_BACKOFF_H_

#include <functional>

#include "absl/time/time.h"

namespace bowden::agent {

// Exponential backoff with jitter for reconnecting to a relay: the n-th delay
// is drawn uniformly from [base/2, base] with base = initial * 2^n capped at
// `max`, so a farm of agents that lost the same relay does not come back in
// lockstep.
//
// Thread-compatible.
class Backoff {
 public:
  // `uniform01` returns a value in [0, 1); injected so tests are exact.
  Backoff(absl::Duration initial, absl::Duration max,
          std::function<double()> uniform01);

  absl::Duration Next();
  void Reset() { attempt_ = 0; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  std::function<double()> uniform01_;
  int attempt_ = 0;
};

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_BACKOFF_H_
