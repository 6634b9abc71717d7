#include "doctor/finding.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "terminal/terminal_text.h"

namespace bowden::doctor {

Finding Ok(std::string what) {
  return {Finding::Verdict::kOk, std::move(what), ""};
}

Finding Warn(std::string what, std::string fix) {
  return {Finding::Verdict::kWarn, std::move(what), std::move(fix)};
}

Finding Fail(std::string what, std::string fix) {
  return {Finding::Verdict::kFail, std::move(what), std::move(fix)};
}

std::string FormatFinding(const Finding& finding) {
  const char* prefix = "ok  ";
  if (finding.verdict == Finding::Verdict::kWarn) prefix = "WARN";
  if (finding.verdict == Finding::Verdict::kFail) prefix = "FAIL";
  std::string line = absl::StrCat(prefix, " ", finding.what);
  if (!finding.fix.empty()) absl::StrAppend(&line, ": ", finding.fix);
  return terminal::EscapeForTerminal(line);
}

int Report(const std::vector<Finding>& findings, std::ostream& out) {
  bool failed = false;
  bool warned = false;
  for (const Finding& finding : findings) {
    out << FormatFinding(finding) << "\n";
    failed |= finding.verdict == Finding::Verdict::kFail;
    warned |= finding.verdict == Finding::Verdict::kWarn;
  }
  out.flush();
  if (failed) return kSomethingFailed;
  return warned ? kOnlyWarnings : kAllPassed;
}

std::string When(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", t, absl::UTCTimeZone());
}

std::string HumanDuration(absl::Duration d) {
  if (d < absl::ZeroDuration()) d = -d;
  if (d < absl::Seconds(1))
    return absl::StrCat(absl::ToInt64Milliseconds(d), " ms");
  int64_t seconds =
      absl::ToInt64Seconds(d + absl::Milliseconds(500));  // nearest second
  int64_t days = seconds / 86400;
  int64_t hours = seconds % 86400 / 3600;
  int64_t minutes = seconds % 3600 / 60;
  if (days > 0)
    return absl::StrCat(days, days == 1 ? " day " : " days ", hours, "h");
  if (hours > 0) return absl::StrCat(hours, "h ", minutes, "m");
  if (minutes > 0) return absl::StrCat(minutes, "m");
  return absl::StrCat(seconds, "s");
}

}  // namespace bowden::doctor
