#include "relay/agent_audit.h"

#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"

namespace bowden::relay {
namespace {

constexpr size_t kMaxCachedOwners = 4096;

bool AcceptedKind(const std::string& kind) {
  return kind == "http.request" || kind == "http.denials" || kind == "http.static" ||
         kind == "upload";
}

void Truncate(std::string* text, size_t max) {
  if (text->size() <= max) return;
  size_t cut = text->size() - max;
  text->resize(max);
  absl::StrAppend(text, "...[", cut, " more bytes]");
}

}  // namespace

AgentAuditBudget::AgentAuditBudget(AgentAuditLimits limits)
    : denied_(limits.denied_burst, limits.denied_per_minute),
      other_(limits.other_burst, limits.other_per_minute),
      warnings_(limits.warning_burst, limits.warning_per_minute) {}

AgentAuditFilter::AgentAuditFilter(std::string printer_id,
                                   std::string agent_actor,
                                   SessionLookup lookup,
                                   AgentAuditBudget* budget)
    : printer_id_(std::move(printer_id)),
      agent_actor_(std::move(agent_actor)),
      lookup_(std::move(lookup)),
      budget_(budget) {}

std::optional<SessionInfo> AgentAuditFilter::Owner(
    const std::string& session_id, const Owners& looked_up) {
  auto it = owners_.find(session_id);
  if (it != owners_.end()) return it->second;
  auto found = looked_up.find(session_id);
  std::optional<SessionInfo> owner =
      found != looked_up.end() ? found->second : lookup_(session_id);
  Cache(session_id, owner);
  return owner;
}

void AgentAuditFilter::Cache(const std::string& session_id,
                             std::optional<SessionInfo> owner) {
  if (owners_.size() >= kMaxCachedOwners) owners_.clear();
  owners_.emplace(session_id, std::move(owner));
}

std::vector<std::string> AgentAuditFilter::Unknown(
    const bowden::v1::AuditBatch& batch) {
  std::vector<std::string> unknown;
  absl::flat_hash_set<absl::string_view> listed;
  for (const bowden::v1::AuditEvent& in : batch.events()) {
    const std::string& id = in.session_id();
    if (id.empty() || !AcceptedKind(in.kind()) || owners_.contains(id) ||
        listed.contains(id)) {
      continue;
    }
    if (std::optional<SessionInfo> owner = lookup_(id); owner.has_value()) {
      Cache(id, std::move(owner));
      continue;
    }
    if (unknown.size() == kMaxLookupsPerBatch) break;
    unknown.push_back(id);
    listed.insert(id);
  }
  return unknown;
}

void AgentAuditFilter::Bound(bowden::v1::AuditEvent* event) const {
  Truncate(event->mutable_detail(), kMaxDetailBytes);
  Truncate(event->mutable_target(), kMaxKeyBytes);
  Truncate(event->mutable_outcome(), kMaxKeyBytes);
  auto* fields = event->mutable_fields();
  // Sorted, so which fields survive does not depend on the map's order.
  std::map<std::string, std::string> sorted(fields->begin(), fields->end());
  fields->clear();
  size_t dropped = 0;
  for (auto& [key, value] : sorted) {
    if (key.size() > kMaxKeyBytes || fields->size() >= kMaxFields) {
      ++dropped;
      continue;
    }
    Truncate(&value, kMaxValueBytes);
    (*fields)[key] = std::move(value);
  }
  if (dropped > 0) (*fields)["fields_dropped"] = absl::StrCat(dropped);
}

std::vector<bowden::v1::AuditEvent> AgentAuditFilter::Filter(
    const bowden::v1::AuditBatch& batch, absl::Time now,
    const Owners& looked_up) {
  std::vector<bowden::v1::AuditEvent> stored;
  uint64_t refused = 0;
  std::string refused_example;
  for (const bowden::v1::AuditEvent& in : batch.events()) {
    std::string why_refused;
    std::optional<SessionInfo> owner;
    if (!AcceptedKind(in.kind())) {
      why_refused = absl::StrCat("an event of kind '", in.kind(), "'");
    } else if (!in.session_id().empty()) {
      owner = Owner(in.session_id(), looked_up);
      if (!owner.has_value()) {
        why_refused = absl::StrCat("an event for session '", in.session_id(),
                                   "', which this relay never opened");
      } else if (owner->printer != printer_id_) {
        why_refused = absl::StrCat("an event for session '", in.session_id(),
                                   "' of printer '", owner->printer, "'");
      }
    }
    if (!why_refused.empty()) {
      if (refused++ == 0) refused_example = std::move(why_refused);
      continue;
    }
    const bool denied = in.outcome() == "denied";
    RateLimiter& bucket = denied ? budget_->denied() : budget_->other();
    if (!bucket.Allow(printer_id_, now)) {
      // Keyed by accepted kind and denied-or-not: a bounded set.
      ++over_limit_[absl::StrCat(in.kind(), denied ? "/denied" : "/other")];
      ++over_limit_total_;
      continue;
    }
    bowden::v1::AuditEvent event = in;
    event.clear_seq();
    event.clear_time_unix_micros();
    event.set_printer(printer_id_);
    Bound(&event);
    auto& fields = *event.mutable_fields();
    if (owner.has_value()) {
      // The relay's record of the session, not the agent's word.
      event.set_actor(owner->user);
      event.set_target(owner->target);
      fields["role"] = owner->role;
    } else {
      event.set_actor(agent_actor_);
    }
    fields["source"] = agent_actor_;
    stored.push_back(std::move(event));
  }

  if (refused > 0 && unreported_refusals_ == 0)
    unreported_example_ = refused_example;
  unreported_refusals_ += refused;
  Report(now, /*force=*/false, &stored);
  return stored;
}

std::vector<bowden::v1::AuditEvent> AgentAuditFilter::Unreported(
    absl::Time now) {
  std::vector<bowden::v1::AuditEvent> reports;
  Report(now, /*force=*/true, &reports);
  return reports;
}

void AgentAuditFilter::Report(absl::Time now, bool force,
                              std::vector<bowden::v1::AuditEvent>* out) {
  if (over_limit_total_ > 0 &&
      (force ||
       budget_->warnings().Allow(absl::StrCat(printer_id_, "/rate"), now))) {
    std::vector<std::string> counts;
    for (const auto& [kind, n] : over_limit_)
      counts.push_back(absl::StrCat(kind, "=", n));
    bowden::v1::AuditEvent summary = AgentDenial(
        absl::StrCat(
            over_limit_total_,
            " audit event(s) from this agent were over its rate limit and are "
            "summarised here instead of stored: ",
            absl::StrJoin(counts, ", ")),
        over_limit_total_, "relay.agent_audit_rate");
    out->push_back(std::move(summary));
    over_limit_.clear();
    over_limit_total_ = 0;
  }
  if (unreported_refusals_ > 0 &&
      (force ||
       budget_->warnings().Allow(absl::StrCat(printer_id_, "/scope"), now))) {
    out->push_back(AgentDenial(
        absl::StrCat("refused ", unreported_refusals_,
                     " audit event(s) this agent may not write, e.g. ",
                     unreported_example_),
        unreported_refusals_, "relay.agent_audit_scope"));
    unreported_refusals_ = 0;
    unreported_example_.clear();
  }
}

bowden::v1::AuditEvent AgentAuditFilter::AgentDenial(
    std::string detail, uint64_t count, const std::string& rule) const {
  bowden::v1::AuditEvent event;
  event.set_kind("denial");
  event.set_actor(agent_actor_);
  event.set_printer(printer_id_);
  event.set_outcome("denied");
  Truncate(&detail, kMaxDetailBytes);
  event.set_detail(std::move(detail));
  (*event.mutable_fields())["count"] = absl::StrCat(count);
  (*event.mutable_fields())["rule"] = rule;
  LOG(WARNING) << "agent " << printer_id_ << ": " << event.detail();
  return event;
}

}  // namespace bowden::relay
