#include "relay/tls_refusals.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"
#include "relay/accept_gate.h"
#include "relay/relay_metrics.h"
#include "relay/relay_state.h"

namespace bowden::relay {
namespace {

// One bucket for all refusals: the peer address, the natural key, is not
// known at TLS verification, and a certificate's names are the attacker's
// choice.
constexpr char kBucket[] = "tls";

}  // namespace

TlsRefusalLimiter::TlsRefusalLimiter(Options options)
    : bucket_(options.burst, options.per_second * 60) {}

std::optional<bowden::v1::AuditEvent> TlsRefusalLimiter::OnRefusal(
    const identity::TlsRefusal& refusal, absl::Time now) {
  if (!bucket_.Allow(kBucket, now)) {
    absl::MutexLock lock(&mu_);
    if (counted_++ == 0) first_counted_ = now;
    ++counted_by_code_[refusal.code];
    return std::nullopt;
  }
  bowden::v1::AuditEvent event = MakeAuditEvent(
      "auth",
      refusal.claimed_id.empty() ? refusal.cert.subject : refusal.claimed_id,
      "denied");
  event.set_detail(refusal.reason);
  auto& fields = *event.mutable_fields();
  fields["stage"] = "tls";
  fields["code"] = refusal.code;
  fields["subject"] = refusal.cert.subject;
  fields["issuer"] = refusal.cert.issuer;
  fields["serial"] = refusal.cert.serial_hex;
  fields["not_after"] = refusal.cert.not_after;
  fields["peer"] = kNoPeerAddress;
  return event;
}

std::optional<bowden::v1::AuditEvent> TlsRefusalLimiter::TakeSummary() {
  absl::MutexLock lock(&mu_);
  if (counted_ == 0) return std::nullopt;
  std::vector<std::string> by_code;
  for (const auto& [code, n] : counted_by_code_)
    by_code.push_back(absl::StrCat(code, "=", n));
  bowden::v1::AuditEvent event = MakeAuditEvent("auth", "", "denied");
  event.set_detail(absl::StrCat(
      counted_, " more TLS refusals not recorded individually since ",
      absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", first_counted_,
                       absl::UTCTimeZone()),
      " (", absl::StrJoin(by_code, " "), ")"));
  auto& fields = *event.mutable_fields();
  fields["stage"] = "tls";
  fields["suppressed"] = absl::StrCat(counted_);
  fields["codes"] = absl::StrJoin(by_code, " ");
  fields["peer"] = kNoPeerAddress;
  counted_ = 0;
  counted_by_code_.clear();
  return event;
}

TlsRefusalLog::TlsRefusalLog(AuditSink* sink, absl::Duration summary_every,
                             TlsRefusalLimiter::Options limits)
    : limiter_(limits), summary_every_(summary_every), sink_(sink) {
  summarizer_ = std::thread([this] { Run(); });
}

TlsRefusalLog::~TlsRefusalLog() { Stop(); }

void TlsRefusalLog::Record(const identity::TlsRefusal& refusal) {
  // Every refusal is counted, including those the rate limit keeps out of
  // the log.
  RelayMetrics::Get().CountTlsRefusal(refusal.code);
  std::optional<bowden::v1::AuditEvent> event =
      limiter_.OnRefusal(refusal, absl::Now());
  if (!event.has_value()) {
    VLOG(1) << "refused a TLS client certificate (counted only): "
            << refusal.reason;
    return;
  }
  // The refused handshake is one of the connections that have not
  // authenticated: the accept gate knows where those come from.
  const std::string sources = AcceptGate::PendingSources();
  if (!sources.empty()) (*event->mutable_fields())["peer"] = sources;
  LOG(WARNING) << "refused a TLS client certificate of " << event->actor() << " (peer "
               << event->fields().at("peer") << "): " << refusal.reason
               << " [serial " << refusal.cert.serial_hex << ", issuer "
               << refusal.cert.issuer << "]";
  absl::MutexLock lock(&mu_);
  if (sink_ != nullptr) sink_->Record(*std::move(event));
}

void TlsRefusalLog::WriteSummary() {
  std::optional<bowden::v1::AuditEvent> summary = limiter_.TakeSummary();
  if (!summary.has_value()) return;
  LOG(WARNING) << summary->detail();
  if (sink_ != nullptr) sink_->Record(*std::move(summary));
}

void TlsRefusalLog::Run() {
  absl::MutexLock lock(&mu_);
  // Summarises once more after Stop(), however early that came.
  bool stop = false;
  while (!stop) {
    stop = mu_.AwaitWithTimeout(absl::Condition(&stopping_), summary_every_);
    WriteSummary();
  }
}

void TlsRefusalLog::Stop() {
  absl::MutexLock stop_lock(&stop_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (summarizer_.joinable()) summarizer_.join();
  absl::MutexLock lock(&mu_);
  sink_ = nullptr;  // Run() wrote the last summary on its way out
}

}  // namespace bowden::relay
