#ifndef BOWDEN_RELAY_RELAY_METRICS_H_
#define BOWDEN_RELAY_RELAY_METRICS_H_

// The relay's Prometheus metrics (docs/metrics.md lists them). One set per
// process: a relay process is one relay, and /metrics describes the process,
// so the services, the registry, the splices and the audit sink reach the
// same counters through RelayMetrics::Get() instead of each taking a pointer.

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "metrics/registry.h"
#include "prometheus/histogram.h"

namespace bowden::relay {

// Thread-safe: every member is a metrics:: atomic or a prometheus-cpp
// histogram, and the maps are fixed after construction.
class RelayMetrics {
 public:
  // The process's metrics, registered on first use.
  static RelayMetrics& Get();
  // What /metrics serves.
  const std::shared_ptr<metrics::Registry>& registry() const {
    return registry_;
  }

  metrics::Gauge& attached_agents;
  metrics::Gauge& live_sessions;
  metrics::Counter& bytes_up;    // user -> printer
  metrics::Counter& bytes_down;  // printer -> user
  // Dial arrival to the agent's Carry attached.
  prometheus::Histogram& session_setup_seconds;
  metrics::Counter& agent_attaches;
  metrics::Gauge& audit_queue_depth;

  // A refused Dial, by the most specific reason its status gives.
  void CountDenial(const absl::Status& status);
  // A Dial refused for a reason its status code does not tell apart: one of
  // the denial reasons (docs/metrics.md).
  void CountDenial(const char* reason);
  // A client certificate refused in the TLS handshake, by its
  // identity::ChainVerdict code; codes outside the known set count as "other".
  void CountTlsRefusal(const std::string& code);

 private:
  explicit RelayMetrics(std::shared_ptr<metrics::Registry> registry);

  std::shared_ptr<metrics::Registry> registry_;
  absl::flat_hash_map<std::string, metrics::Counter*> denials_;
  absl::flat_hash_map<std::string, metrics::Counter*> tls_refusals_;
};

// The denial reason label for a refused Dial's status (a fixed set:
// "policy", "invalid_request", "unknown_printer", "offline", "session_limit",
// "identity", "other").
const char* DenialReason(const absl::Status& status);

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_RELAY_METRICS_H_
