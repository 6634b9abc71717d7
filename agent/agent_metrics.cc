#include "agent/agent_metrics.h"

#include <utility>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace bowden::agent {
namespace {

constexpr char kBytesHelp[] =
    "Tunnel payload bytes carried between the relay and the printer's local "
    "services, by "
    "direction (up: user to printer, down: printer to user).";

}  // namespace

std::string RuleClass(absl::string_view rule) {
  if (rule.empty()) return "none";
  std::vector<absl::string_view> parts = absl::StrSplit(rule, '.');
  if (parts.size() > 2) parts.resize(2);
  return absl::StrJoin(parts, ".");
}

AgentMetrics& AgentMetrics::Get() {
  static AgentMetrics* metrics =
      new AgentMetrics(std::make_shared<metrics::Registry>());
  return *metrics;
}

AgentMetrics::AgentMetrics(std::shared_ptr<metrics::Registry> registry)
    : relay_connected(registry->AddGauge("bowden_agent_relay_connected",
                                         "1 while the agent's control stream "
                                         "is attached to the relay, else 0.")),
      reconnects(registry->AddCounter("bowden_agent_relay_reconnects_total",
                                      "Attempts to attach to the relay after "
                                      "the first (after a detach or a failed "
                                      "attempt).")),
      live_sessions(registry->AddGauge(
          "bowden_agent_sessions", "Sessions carried to local targets now.")),
      bytes_up(registry->AddCounter("bowden_agent_carried_bytes_total",
                                    kBytesHelp, {{"direction", "up"}})),
      bytes_down(registry->AddCounter("bowden_agent_carried_bytes_total",
                                      kBytesHelp, {{"direction", "down"}})),
      audit_queue_depth(
          registry->AddGauge("bowden_agent_audit_queue_depth",
                             "Audit events waiting for the relay's "
                             "acknowledgement (agent/event_queue).")),
      registry_(std::move(registry)) {}

void AgentMetrics::CountGuardRefusal(absl::string_view rule) {
  std::string rule_class = RuleClass(rule);
  metrics::Counter* counter = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = refusals_.find(rule_class);
    if (it == refusals_.end() && refusals_.size() >= kMaxRuleClasses) {
      rule_class = "other";
      it = refusals_.find(rule_class);
    }
    if (it == refusals_.end()) {
      it = refusals_
               .emplace(rule_class, &registry_->AddCounter(
                                        "bowden_agent_guard_refusals_total",
                                        "Requests the agent's HTTP guard "
                                        "refused, by the class of the "
                                        "rule that decided (e.g. "
                                        "octoprint.printer, default-deny).",
                                        {{"rule_class", rule_class}}))
               .first;
    }
    counter = it->second;
  }
  counter->Increment();
}

}  // namespace bowden::agent
