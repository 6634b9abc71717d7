#ifndef BOWDEN_AGENT_AGENT_METRICS_H_
#define BOWDEN_AGENT_AGENT_METRICS_H_

// The agent's Prometheus metrics (docs/metrics.md lists them). One set per
// process, reached through AgentMetrics::Get(): /metrics describes the
// process, and the relay link, the byte pumps and the event queue all add to
// the same counters.

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "metrics/registry.h"

namespace bowden::agent {

// Thread-safe.
class AgentMetrics {
 public:
  // The most rule classes counted by name; refusals by any further class
  // count as "other". The guard's rule tables are fixed, so this only
  // guards the label set against a future rule id built from input.
  static constexpr size_t kMaxRuleClasses = 32;

  // The process's metrics, registered on first use.
  static AgentMetrics& Get();
  // What /metrics serves.
  const std::shared_ptr<metrics::Registry>& registry() const {
    return registry_;
  }

  metrics::Gauge& relay_connected;  // relays attached now (one agent: 0 or 1)
  metrics::Counter& reconnects;     // attach attempts after the first
  metrics::Gauge& live_sessions;
  metrics::Counter& bytes_up;    // user -> printer
  metrics::Counter& bytes_down;  // printer -> user
  metrics::Gauge& audit_queue_depth;

  // A request the HTTP guard refused, by its rule's class (RuleClass).
  void CountGuardRefusal(absl::string_view rule) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit AgentMetrics(std::shared_ptr<metrics::Registry> registry);

  std::shared_ptr<metrics::Registry> registry_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, metrics::Counter*> refusals_
      ABSL_GUARDED_BY(mu_);
};

// The class of a guard rule id: its first two dot-separated parts
// ("octoprint.printer.command" -> "octoprint.printer", "webcam.stream" ->
// "webcam.stream", "default-deny" -> "default-deny"; "" -> "none").
std::string RuleClass(absl::string_view rule);

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_AGENT_METRICS_H_
