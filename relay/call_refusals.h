#ifndef BOWDEN_RELAY_CALL_REFUSALS_H_
#define BOWDEN_RELAY_CALL_REFUSALS_H_

#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/audit.pb.h"
#include "relay/audit_sink.h"
#include "relay/rate_limiter.h"

namespace bowden::relay {

// Records the calls the relay refuses once TLS has accepted the certificate
// (one of the wrong kind, one revoked: call_auth.h; a dial or an admin call
// the policy does not allow) in the audit log and the WARNING log, at most
// `burst` at once and then `per_minute` per actor and kind of row. Without a
// bound, one client with a valid certificate of the wrong kind made the
// relay write 4,800 audit rows and as many log lines a second (2.2 MB/s of
// audit.db) by calling in a loop. What the bound keeps out is counted per
// actor and kind and written as one summary row each (fields `suppressed`,
// `since`) every `summary_every`, and at Stop().
//
// Thread-safe. After Stop(), refusals are still logged but no longer
// written to the sink.
class CallRefusalLog {
 public:
  struct Options {
    double burst = 20;
    double per_minute = 60;
    absl::Duration summary_every = absl::Seconds(10);
  };
  CallRefusalLog(AuditSink* sink, Options options);
  ~CallRefusalLog();
  CallRefusalLog(const CallRefusalLog&) = delete;
  CallRefusalLog& operator=(const CallRefusalLog&) = delete;

  // `row` is the refusal's audit row (outcome "denied", its kind and actor
  // set), `line` its WARNING line.
  void Record(bowden::v1::AuditEvent row, absl::string_view line,
              absl::Time now = absl::Now()) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes the summaries of what was counted, and stops. Idempotent.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  // Actors counted separately; refusals of further actors are counted
  // together under kOtherActors, so a flood of names cannot grow the map.
  static constexpr size_t kMaxCountedActors = 1000;
  static constexpr char kOtherActors[] = "(other actors)";

 private:
  struct Counted {
    int64_t refusals = 0;
    absl::Time since;
    std::string last_reason;
  };
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void WriteSummaries() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  RateLimiter bucket_;  // keyed by actor
  const absl::Duration summary_every_;
  absl::Mutex mu_;
  AuditSink* sink_ ABSL_GUARDED_BY(mu_);
  // By (kind, actor).
  std::map<std::pair<std::string, std::string>, Counted> counted_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread summarizer_;  // last: starts once the members above exist
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_CALL_REFUSALS_H_
