#include "relay/call_refusals.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "relay/relay_state.h"

namespace bowden::relay {

CallRefusalLog::CallRefusalLog(AuditSink* sink, Options options)
    : bucket_(options.burst, options.per_minute),
      summary_every_(options.summary_every),
      sink_(sink),
      summarizer_([this] { Run(); }) {}

CallRefusalLog::~CallRefusalLog() { Stop(); }

void CallRefusalLog::Record(bowden::v1::AuditEvent row, absl::string_view line,
                            absl::Time now) {
  if (bucket_.Allow(absl::StrCat(row.kind(), " ", row.actor()), now)) {
    LOG(WARNING) << line;
    absl::MutexLock lock(&mu_);
    if (sink_ != nullptr) sink_->Record(std::move(row));
    return;
  }
  VLOG(1) << line << " (counted only)";
  absl::MutexLock lock(&mu_);
  auto it = counted_.find({row.kind(), row.actor()});
  if (it == counted_.end()) {
    std::pair<std::string, std::string> key{
        row.kind(),
        counted_.size() < kMaxCountedActors ? row.actor() : kOtherActors};
    it = counted_.try_emplace(std::move(key), Counted{0, now, ""}).first;
  }
  ++it->second.refusals;
  it->second.last_reason = row.detail();
}

void CallRefusalLog::WriteSummaries() {
  for (auto& [key, counted] : counted_) {
    const auto& [kind, actor] = key;
    const std::string since = absl::FormatTime(
        "%Y-%m-%d %H:%M:%S UTC", counted.since, absl::UTCTimeZone());
    bowden::v1::AuditEvent summary = MakeAuditEvent(kind, actor, "denied");
    summary.set_detail(absl::StrCat(counted.refusals,
                                    " more refused calls not recorded "
                                    "individually since ",
                                    since, "; the last: ", counted.last_reason));
    (*summary.mutable_fields())["suppressed"] = absl::StrCat(counted.refusals);
    (*summary.mutable_fields())["since"] = since;
    LOG(WARNING) << "refused calls of " << actor << ": " << summary.detail();
    if (sink_ != nullptr) sink_->Record(std::move(summary));
  }
  counted_.clear();
}

void CallRefusalLog::Run() {
  absl::MutexLock lock(&mu_);
  // Summarises once more after Stop(), however early that came.
  bool stop = false;
  while (!stop) {
    stop = mu_.AwaitWithTimeout(absl::Condition(&stopping_), summary_every_);
    WriteSummaries();
  }
  sink_ = nullptr;
}

void CallRefusalLog::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  summarizer_.join();
}

}  // namespace bowden::relay
