#ifndef BOWDEN_RELAY_AGENT_AUDIT_H_
#define BOWDEN_RELAY_AGENT_AUDIT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "proto/tunnel.pb.h"
#include "relay/rate_limiter.h"
#include "relay/splice.h"

namespace bowden::relay {

// How much audit input one agent may write. Denials are what a flood
// produces (an honest agent already summarises repeats), so they get the
// tighter bucket; the other bucket sits above the agent's measured guarded
// throughput (~4,500 requests/s), so an honest agent is never summarised.
struct AgentAuditLimits {
  double denied_burst = 1000;
  double denied_per_minute = 6000;  // 100/s
  double other_burst = 20000;
  double other_per_minute = 600000;  // 10,000/s
  // "Not your session" reports: one per batch at most, and at most these.
  double warning_burst = 5;
  double warning_per_minute = 10;
};

// The buckets every Attach of every agent shares, keyed by printer id, so
// reconnecting does not refill them. Thread-safe.
class AgentAuditBudget {
 public:
  explicit AgentAuditBudget(AgentAuditLimits limits = {});
  RateLimiter& denied() { return denied_; }
  RateLimiter& other() { return other_; }
  RateLimiter& warnings() { return warnings_; }

 private:
  RateLimiter denied_;
  RateLimiter other_;
  RateLimiter warnings_;
};

// Turns the events one agent sends into what the relay stores. The agent is
// trusted only for what its guard saw (method, path, verdict, upload
// fields); who acted and in which session comes from the relay's own
// records of the session:
//  - an event naming a session is stored with that session's user, target
//    and role; one for a session of another printer, or one the relay never
//    opened, is refused, and each batch with refusals yields one "denial"
//    event naming the agent (rate-limited; what is not reported is counted
//    into the next report);
//  - an event without a session is the agent's own: actor is its SPIFFE id;
//  - kinds other than http.request, http.denials and upload are refused;
//  - fields are bounded (count, key and value size), detail too;
//  - past the agent's rate limit (AgentAuditLimits), events are not stored
//    one by one but counted.
// Counts are reported as "denial" events naming the agent (rules
// relay.agent_audit_scope and relay.agent_audit_rate), at most
// warning_per_minute of each per printer; what is not yet reported is added
// to the next report, or handed out by Unreported() when the agent detaches.
//
// Thread-compatible: one per Attach stream, used from its reactions.
class AgentAuditFilter {
 public:
  static constexpr size_t kMaxFields = 32;
  static constexpr size_t kMaxKeyBytes = 64;
  static constexpr size_t kMaxValueBytes = 1024;
  static constexpr size_t kMaxDetailBytes = 2048;

  // Who opened session `id`, if the relay's memory (the registry) knows it:
  // called on the callback thread, so it must not wait on a file.
  using SessionLookup =
      std::function<std::optional<SessionInfo>(const std::string& id)>;
  // Sessions the caller looked up elsewhere (the audit log), by id.
  using Owners = absl::flat_hash_map<std::string, std::optional<SessionInfo>>;
  // Unknown() hands out at most this many sessions of one batch: more than
  // an honest agent's batch names from before a restart (the sessions that
  // were live then), few enough that a batch naming thousands of made-up
  // sessions costs the audit thread milliseconds, not seconds.
  static constexpr size_t kMaxLookupsPerBatch = 256;

  AgentAuditFilter(std::string printer_id, std::string agent_actor,
                   SessionLookup lookup, AgentAuditBudget* budget);

  // The sessions `batch` names that neither this filter nor the lookup
  // knows (at most kMaxLookupsPerBatch, each once): for the caller to look
  // up in the audit log off the callback thread and pass to Filter(). The
  // events of sessions beyond the bound are refused as never opened.
  std::vector<std::string> Unknown(const bowden::v1::AuditBatch& batch);
  // The events to append for `batch`, received at `now`; `looked_up` holds
  // what the caller found for Unknown()'s sessions.
  std::vector<bowden::v1::AuditEvent> Filter(
      const bowden::v1::AuditBatch& batch, absl::Time now,
      const Owners& looked_up = {});
  // Reports of refusals and rate-limited events not yet made (their reports
  // are rate-limited too): for when the agent detaches.
  std::vector<bowden::v1::AuditEvent> Unreported(absl::Time now);

 private:
  std::optional<SessionInfo> Owner(const std::string& session_id,
                                   const Owners& looked_up);
  void Cache(const std::string& session_id, std::optional<SessionInfo> owner);
  void Bound(bowden::v1::AuditEvent* event) const;
  void Report(absl::Time now, bool force,
              std::vector<bowden::v1::AuditEvent>* out);
  bowden::v1::AuditEvent AgentDenial(std::string detail, uint64_t count,
                                     const std::string& rule) const;

  const std::string printer_id_;
  const std::string agent_actor_;
  SessionLookup lookup_;
  AgentAuditBudget* const budget_;
  // Looked-up sessions (bounded: cleared when full).
  Owners owners_;
  // Refused events not yet reported (the report was rate-limited).
  uint64_t unreported_refusals_ = 0;
  std::string unreported_example_;
  // Events over the rate limit not yet reported, by "kind/outcome".
  std::map<std::string, uint64_t> over_limit_;
  uint64_t over_limit_total_ = 0;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_AGENT_AUDIT_H_
