#include "relay/agent_channel.h"

#include <algorithm>

namespace bowden::relay {

void AgentChannel::SetTargets(std::vector<std::string> targets) {
  absl::MutexLock lock(&mu_);
  targets_ = std::move(targets);
}

std::vector<std::string> AgentChannel::targets() const {
  absl::MutexLock lock(&mu_);
  return targets_;
}

bool AgentChannel::OffersTarget(const std::string& target) const {
  absl::MutexLock lock(&mu_);
  return std::find(targets_.begin(), targets_.end(), target) != targets_.end();
}

bool AgentChannel::Send(bowden::v1::RelayMessage message) {
  if (gate_.finish_requested()) return false;
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(message));
    if (writing_) return true;
    writing_ = true;
  }
  WriteNext();
  return true;
}

void AgentChannel::OnWriteDone(bool ok) {
  if (!ok) {
    gate_.RequestFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                     "control stream broke"));
    return;
  }
  WriteNext();
}

void AgentChannel::WriteNext() {
  {
    absl::MutexLock lock(&mu_);
    if (queue_.empty()) {
      writing_ = false;
      return;
    }
    current_ = std::move(queue_.front());
    queue_.pop_front();
  }
  bool started = gate_.Call(
      [this](AttachReactorBase* reactor) { reactor->StartWrite(&current_); });
  if (!started) {
    absl::MutexLock lock(&mu_);
    writing_ = false;
  }
}

}  // namespace bowden::relay
