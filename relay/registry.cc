#include "relay/registry.h"

#include "absl/strings/str_cat.h"
#include "relay/relay_metrics.h"

namespace bowden::relay {

absl::Status Registry::AddAgent(std::shared_ptr<AgentChannel> channel) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = agents_.try_emplace(channel->printer_id(), channel);
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("printer '", channel->printer_id(),
                     "' is already attached from ", it->second->peer(),
                     "; two agents must not share one printer id (this one "
                     "will be admitted once the other is gone)"));
  }
  RelayMetrics::Get().attached_agents.Set(static_cast<int64_t>(agents_.size()));
  return absl::OkStatus();
}

void Registry::RemoveAgent(const AgentChannel* channel) {
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(channel->printer_id());
  if (it != agents_.end() && it->second.get() == channel) agents_.erase(it);
  RelayMetrics::Get().attached_agents.Set(static_cast<int64_t>(agents_.size()));
}

std::shared_ptr<AgentChannel> Registry::FindAgent(const std::string& printer) {
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(printer);
  return it == agents_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<AgentChannel>> Registry::Agents() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<AgentChannel>> agents;
  for (const auto& [id, channel] : agents_) agents.push_back(channel);
  return agents;
}

void Registry::AddPending(std::shared_ptr<Splice> splice) {
  absl::MutexLock lock(&mu_);
  pending_[splice->info().id] = std::move(splice);
}

std::shared_ptr<Splice> Registry::TakePending(const std::string& id,
                                              const std::string& printer) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second->info().printer != printer)
    return nullptr;
  std::shared_ptr<Splice> splice = std::move(it->second);
  pending_.erase(it);
  return splice;
}

void Registry::RemovePending(const std::string& id) {
  absl::MutexLock lock(&mu_);
  pending_.erase(id);
}

std::vector<std::shared_ptr<Splice>> Registry::TakePendingStartedBefore(
    absl::Time cutoff) {
  absl::MutexLock lock(&mu_);
  return TakePendingIf(
      [cutoff](const Splice& splice) { return splice.started() < cutoff; });
}

bool Registry::HasPending() {
  absl::MutexLock lock(&mu_);
  return !pending_.empty();
}

std::vector<std::shared_ptr<Splice>> Registry::TakePendingFor(
    const std::string& printer) {
  absl::MutexLock lock(&mu_);
  return TakePendingIf(
      [&printer](const Splice& splice) { return splice.info().printer == printer; });
}

std::vector<std::shared_ptr<Splice>> Registry::TakePendingIf(
    absl::FunctionRef<bool(const Splice&)> take) {
  std::vector<std::shared_ptr<Splice>> taken;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (take(*it->second)) {
      taken.push_back(std::move(it->second));
      pending_.erase(it++);
    } else {
      ++it;
    }
  }
  return taken;
}

absl::Status Registry::AddSession(const std::shared_ptr<Splice>& splice,
                                  int max_per_user) {
  const std::string& user = splice->info().user;
  absl::MutexLock lock(&mu_);
  // Counted, not tracked: a session that ended without its close callback
  // cannot hold a place. Bounded by users times the cap.
  int open = 0;
  for (const auto& [id, entry] : sessions_) {
    if (entry.user == user && !entry.splice.expired()) ++open;
  }
  if (open >= max_per_user) {
    return absl::ResourceExhaustedError(
        absl::StrCat("user '", user, "' already has ", open,
                     " open sessions, the most one user may hold: ",
                     "close tunnels you no longer use (`bowden sessions` lists "
                     "them), or ask the relay "
                     "operator to raise max_sessions_per_user"));
  }
  sessions_[splice->info().id] = SessionEntry{user, splice};
  RelayMetrics::Get().live_sessions.Set(static_cast<int64_t>(sessions_.size()));
  Remember(splice->info());
  return absl::OkStatus();
}

void Registry::Remember(const SessionInfo& info) {
  if (remembered_.empty()) {
    // All at once, so that the records sit together on a few pages.
    remembered_.resize(kRememberedSessions);
    for (SessionInfo& record : remembered_) {
      for (std::string* field :
           {&record.id, &record.user, &record.printer, &record.target,
            &record.role, &record.user_serial}) {
        field->reserve(kRememberedFieldBytes);
      }
    }
    remembered_index_.reserve(kRememberedSessions);
  }
  size_t slot = next_remembered_;
  auto known = remembered_index_.find(info.id);
  if (known != remembered_index_.end()) {
    slot = known->second;
  } else {
    next_remembered_ = (next_remembered_ + 1) % kRememberedSessions;
  }
  SessionInfo& record = remembered_[slot];
  // The index's key views record.id: drop it before the id changes.
  auto previous = remembered_index_.find(record.id);
  if (previous != remembered_index_.end() && previous->second == slot) {
    remembered_index_.erase(previous);
  }
  // Assigning into the existing strings reuses their room.
  record.id.assign(info.id);
  record.user.assign(info.user);
  record.printer.assign(info.printer);
  record.target.assign(info.target);
  record.role.assign(info.role);
  record.user_serial.assign(info.user_serial);
  remembered_index_[record.id] = slot;
}

std::optional<SessionInfo> Registry::FindSessionInfo(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = remembered_index_.find(id);
  if (it == remembered_index_.end()) return std::nullopt;
  return remembered_[it->second];
}

void Registry::RemoveSession(const std::string& id) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(id);
  RelayMetrics::Get().live_sessions.Set(static_cast<int64_t>(sessions_.size()));
}

std::shared_ptr<Splice> Registry::FindSession(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.splice.lock();
}

std::vector<std::shared_ptr<Splice>> Registry::Sessions() {
  absl::MutexLock lock(&mu_);
  std::vector<std::shared_ptr<Splice>> sessions;
  for (const auto& [id, entry] : sessions_) {
    if (auto splice = entry.splice.lock())
      sessions.push_back(std::move(splice));
  }
  return sessions;
}

}  // namespace bowden::relay
