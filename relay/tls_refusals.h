#ifndef BOWDEN_RELAY_TLS_REFUSALS_H_
#define BOWDEN_RELAY_TLS_REFUSALS_H_

#include <map>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/peer_verifier.h"
#include "proto/audit.pb.h"
#include "relay/audit_sink.h"
#include "relay/rate_limiter.h"

namespace bowden::relay {

// What the relay says where a TLS refusal's peer address would go: gRPC 1.51
// hands its certificate verifier no address (see identity/peer_verifier.h).
inline constexpr char kNoPeerAddress[] = "not available at TLS verification";

// Decides which TLS-level refusals get an audit row and a log line of their
// own: a token bucket (`burst` at once, then `per_second`), so a flood of
// bad handshakes cannot flood the audit log or the relay's log. The rest are
// counted, by ChainVerdict code, into one summary row each time
// TakeSummary() is called. The caller passes the time, so tests need no
// clock.
//
// Thread-safe.
class TlsRefusalLimiter {
 public:
  struct Options {
    double burst = 20;
    double per_second = 1;
  };
  explicit TlsRefusalLimiter(Options options);

  // The row for `refusal` (kind "auth", outcome "denied", actor the claimed
  // SPIFFE id or else the subject, detail the reason, fields stage=tls,
  // subject, issuer, serial, not_after, code, peer), or nullopt if it is
  // only counted.
  std::optional<bowden::v1::AuditEvent> OnRefusal(
      const identity::TlsRefusal& refusal, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  // "N more TLS refusals not recorded individually since ..." with the
  // counts by code, or nullopt if none were counted since the last summary.
  std::optional<bowden::v1::AuditEvent> TakeSummary() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  RateLimiter bucket_;
  absl::Mutex mu_;
  int64_t counted_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time first_counted_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> counted_by_code_ ABSL_GUARDED_BY(mu_);
};

// Records TLS refusals into the relay's audit log and its WARNING log
// through a TlsRefusalLimiter, and writes the summary of what the limiter
// only counted every `summary_every` (from a thread of its own) and at
// Stop(). The verifier calls Record() on gRPC's handshake threads; it never
// waits for the database (AuditSink queues).
//
// Thread-safe. Held by the verifier, which gRPC may keep after the relay is
// gone: after Stop() nothing is written to the sink any more.
class TlsRefusalLog {
 public:
  TlsRefusalLog(AuditSink* sink,
                absl::Duration summary_every = absl::Seconds(10),
                TlsRefusalLimiter::Options limits = {});
  ~TlsRefusalLog();

  void Record(const identity::TlsRefusal& refusal) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes the last summary, stops the thread and detaches from the sink.
  // Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_, stop_mu_);

 private:
  void Run();
  void WriteSummary() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  TlsRefusalLimiter limiter_;
  const absl::Duration summary_every_;
  absl::Mutex stop_mu_;  // serialises Stop(), which joins the thread
  absl::Mutex mu_ ABSL_ACQUIRED_AFTER(stop_mu_);
  AuditSink* sink_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread summarizer_;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_TLS_REFUSALS_H_
