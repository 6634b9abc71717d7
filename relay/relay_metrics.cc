#include "relay/relay_metrics.h"

#include <utility>

namespace bowden::relay {
namespace {

constexpr const char* kDenialReasons[] = {
    "policy",  "invalid_request", "unknown_printer",
    "offline", "session_limit",   "identity",
    "audit_backlog", "other"};
// identity::ChainVerdict codes (identity/client_chain.h), and "other".
constexpr const char* kTlsRefusalReasons[] = {
    "expired",       "not_yet_valid", "self_signed", "ca_expired",
    "invalid_chain", "unreadable",    "invalid",     "other"};

}  // namespace

const char* DenialReason(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied:
      return "policy";
    case absl::StatusCode::kInvalidArgument:
      return "invalid_request";
    case absl::StatusCode::kNotFound:
      return "unknown_printer";
    case absl::StatusCode::kUnavailable:
      return "offline";
    case absl::StatusCode::kResourceExhausted:
      return "session_limit";
    case absl::StatusCode::kUnauthenticated:
      return "identity";
    default:
      return "other";
  }
}

RelayMetrics& RelayMetrics::Get() {
  static RelayMetrics* metrics =
      new RelayMetrics(std::make_shared<metrics::Registry>());
  return *metrics;
}

RelayMetrics::RelayMetrics(std::shared_ptr<metrics::Registry> registry)
    : attached_agents(registry->AddGauge("bowden_relay_attached_agents",
                                         "Agents attached to this relay now.")),
      live_sessions(registry->AddGauge(
          "bowden_relay_sessions",
          "User sessions open now (set up or being set up).")),
      bytes_up(registry->AddCounter(
          "bowden_relay_relayed_bytes_total",
          "Tunnel payload bytes spliced, by direction (up: user to "
          "printer, down: printer to user).",
          {{"direction", "up"}})),
      bytes_down(registry->AddCounter(
          "bowden_relay_relayed_bytes_total",
          "Tunnel payload bytes spliced, by direction (up: user to "
          "printer, down: printer to user).",
          {{"direction", "down"}})),
      session_setup_seconds(registry->AddHistogram(
          "bowden_relay_session_setup_seconds",
          "Seconds from a user's Dial arriving to the agent's Carry stream "
          "attached.",
          {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})),
      agent_attaches(
          registry->AddCounter("bowden_relay_agent_attaches_total",
                               "Agents admitted on an Attach stream (first "
                               "attachments and reattachments).")),
      audit_queue_depth(registry->AddGauge(
          "bowden_relay_audit_queue_depth",
          "Audit events accepted but not yet written to the audit database.")),
      registry_(std::move(registry)) {
  for (const char* reason : kDenialReasons) {
    denials_[reason] =
        &registry_->AddCounter("bowden_relay_denials_total",
                               "Dial requests the relay refused, by reason "
                               "(policy: no grant; identity: a "
                               "certificate that may not dial).",
                               {{"reason", reason}});
  }
  for (const char* reason : kTlsRefusalReasons) {
    tls_refusals_[reason] = &registry_->AddCounter(
        "bowden_relay_tls_refusals_total",
        "Client certificates refused in the TLS handshake, by reason.",
        {{"reason", reason}});
  }
}

void RelayMetrics::CountDenial(const absl::Status& status) {
  denials_.at(DenialReason(status))->Increment();
}

void RelayMetrics::CountDenial(const char* reason) {
  denials_.at(reason)->Increment();
}

void RelayMetrics::CountTlsRefusal(const std::string& code) {
  auto it = tls_refusals_.find(code);
  (it == tls_refusals_.end() ? tls_refusals_.at("other") : it->second)
      ->Increment();
}

}  // namespace bowden::relay
