#include "agent/static_tally.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bowden::agent {

bool StaticTally::Add(const guard::GuardEvent& event, absl::Time now) {
  if (event.rule != "octoprint.ui.static" || event.verdict != "allow" || event.interrupted ||
      (event.status != 200 && event.status != 304) ||
      (event.method != "GET" && event.method != "HEAD")) {
    return false;
  }
  if (count_ == 0) {
    first_ = now;
    first_path_ = event.path;
  }
  ++count_;
  ++statuses_[event.status];
  last_ = now;
  return true;
}

bool StaticTally::Due(absl::Time now) const {
  return count_ >= kMaxCount || (count_ > 0 && now - first_ >= kMaxSpan);
}

bowden::v1::AuditEvent StaticTally::TakeSummary() {
  std::vector<std::string> statuses;
  for (const auto& [status, n] : statuses_) statuses.push_back(absl::StrCat(status, ":", n));
  bowden::v1::AuditEvent event;
  event.set_kind("http.static");
  event.set_outcome("ok");
  event.set_detail(absl::StrCat(count_, " static asset request(s) answered (",
                                absl::StrJoin(statuses, ", "), ")"));
  auto& fields = *event.mutable_fields();
  fields["count"] = absl::StrCat(count_);
  fields["statuses"] = absl::StrJoin(statuses, ",");
  fields["rule"] = "octoprint.ui.static";
  fields["first_path"] = first_path_;
  fields["first_unix_micros"] = absl::StrCat(absl::ToUnixMicros(first_));
  fields["last_unix_micros"] = absl::StrCat(absl::ToUnixMicros(last_));
  *this = StaticTally();
  return event;
}

}  // namespace bowden::agent
