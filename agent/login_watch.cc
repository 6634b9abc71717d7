#include "agent/login_watch.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"

namespace bowden::agent {

LoginWatch::LoginWatch(std::vector<std::string> targets, Prober prober,
                       Options options)
    : prober_(std::move(prober)), options_(options) {
  absl::MutexLock lock(&mu_);
  for (std::string& target : targets) states_[std::move(target)];
}

LoginWatch::~LoginWatch() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void LoginWatch::Start() {
  thread_ = std::thread([this] { Run(); });
}

bool LoginWatch::AwaitProbes(int count, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, count]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    return probes_done_ >= count;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
}

bool LoginWatch::HasWork() const {
  return stopping_ || !wanted_.empty() || absl::Now() >= next_round_;
}

void LoginWatch::AskSoon(const std::string& target, State* state) {
  if (absl::Now() - state->asked < options_.recheck_after) return;
  state->asked = absl::Now();
  wanted_.insert(target);
}

void LoginWatch::Run() {
  for (;;) {
    std::string target;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(this, &LoginWatch::HasWork),
                            next_round_);
      if (stopping_) return;
      if (absl::Now() >= next_round_) {
        next_round_ = absl::Now() + options_.period;
        for (auto& [name, state] : states_) {
          state.asked = absl::Now();
          wanted_.insert(name);
        }
      }
      if (wanted_.empty()) continue;
      target = *wanted_.begin();
      wanted_.erase(wanted_.begin());
    }
    // Unlocked: a probe takes up to its timeout.
    Record(target, prober_(target));
  }
}

void LoginWatch::Record(const std::string& target,
                        absl::StatusOr<LoginProbe> result) {
  std::string line;
  google::LogSeverity severity = google::GLOG_INFO;
  if (!result.ok()) {
    severity = google::GLOG_WARNING;
    line = absl::StrCat(
        "could not check whom OctoPrint logs in without credentials (",
        result.status().message(),
        "): sessions to it are served meanwhile, and the agent asks again when "
        "one opens and every ",
        absl::FormatDuration(options_.period));
  } else if (!result->as_remote.empty()) {
    severity =
        options_.allow_autologin ? google::GLOG_WARNING : google::GLOG_ERROR;
    line = options_.allow_autologin
               ? TunnelAutologinAllowed(target, result->as_remote)
               : TunnelAutologinRefusal(target, result->as_remote);
  } else if (!result->as_local.empty()) {
    severity = google::GLOG_WARNING;
    line = LocalAutologinWarning(target, result->as_local);
  } else {
    line =
        "OctoPrint's passive login logs nobody in without credentials, neither "
        "a program on this host nor a tunnel session";
  }
  bool changed = false;
  {
    absl::MutexLock lock(&mu_);
    State& state = states_[target];
    state.last = std::move(result);
    changed = state.logged != line;
    state.logged = line;
    ++probes_done_;
  }
  if (changed) {
    google::LogMessage(__FILE__, __LINE__, severity).stream()
        << "target '" << target << "': " << line;
  }
}

LoginWatch::Decision LoginWatch::Check(const std::string& target) {
  absl::MutexLock lock(&mu_);
  auto it = states_.find(target);
  if (it == states_.end()) return {};
  State& state = it->second;
  if (!state.last.has_value() || !state.last->ok()) {
    AskSoon(target, &state);
    return {Verdict::kUnchecked,
            absl::StrCat(
                "whom OctoPrint logs in without credentials is not known yet (",
                state.last.has_value() ? state.last->status().message()
                                       : "no answer yet",
                "); serving, and asking again")};
  }
  const std::string& user = (*state.last)->as_remote;
  if (user.empty()) return {};
  if (options_.allow_autologin) {
    return {Verdict::kAllowed, TunnelAutologinAllowed(target, user)};
  }
  // Fixed settings take effect without restarting the agent.
  AskSoon(target, &state);
  return {Verdict::kRefuse, TunnelAutologinRefusal(target, user)};
}

}  // namespace bowden::agent
