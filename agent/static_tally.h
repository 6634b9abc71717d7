#ifndef BOWDEN_AGENT_STATIC_TALLY_H_
#define BOWDEN_AGENT_STATIC_TALLY_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "guard/http_guard.h"
#include "proto/audit.pb.h"

namespace bowden::agent {

// Summarises the static assets one allowed session loads (OctoPrint's
// scripts, styles, fonts and images: rule "octoprint.ui.static"), which are
// about half the requests of a UI page load and say little one by one. They
// are counted, not dropped: one "http.static" event per session tells how
// many, with which statuses, over which time span, so the audit log keeps
// every request without a row for each file. Only completed allowed GET/HEAD
// answers (200, 304) are counted; anything else, a refusal or an
// interrupted stream included, keeps its own row.
//
// Thread-compatible (the agent uses one per session from its event loop).
class StaticTally {
 public:
  static constexpr uint64_t kMaxCount = 500;
  static constexpr absl::Duration kMaxSpan = absl::Seconds(60);

  // Counts `event` if it is a static asset to summarise; false if it must
  // be recorded on its own.
  bool Add(const guard::GuardEvent& event, absl::Time now);
  // Whether a summary should go out now (kMaxCount counted, or the first
  // counted kMaxSpan ago), before the session ends.
  bool Due(absl::Time now) const;
  bool empty() const { return count_ == 0; }
  // The summary of what was counted (kind "http.static", outcome "ok",
  // fields count, statuses, first_path, first_unix_micros,
  // last_unix_micros); starts counting afresh. Actor, target and session
  // are the caller's to set.
  bowden::v1::AuditEvent TakeSummary();

 private:
  uint64_t count_ = 0;
  std::map<int, uint64_t> statuses_;
  std::string first_path_;
  absl::Time first_;
  absl::Time last_;
};

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_STATIC_TALLY_H_
