#ifndef BOWDEN_DOCTOR_FINDING_H_
#define BOWDEN_DOCTOR_FINDING_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace bowden::doctor {

// One result of `bowden doctor` or `bowden-agent doctor`. A plain value;
// thread-compatible.
struct Finding {
  enum class Verdict { kOk, kWarn, kFail };
  Verdict verdict;
  std::string what;  // what was checked and what was found, one sentence
  std::string fix;   // what to do about it; "" for kOk (or when `what` says it)
};

Finding Ok(std::string what);
Finding Warn(std::string what, std::string fix);
Finding Fail(std::string what, std::string fix);

// The exit codes of both doctors (docs/cli.md). 2 stays the CLI's "bad
// command line".
inline constexpr int kAllPassed = 0;
inline constexpr int kSomethingFailed = 1;
inline constexpr int kOnlyWarnings = 3;

// One line per finding: "ok   WHAT", "WARN WHAT: FIX", "FAIL WHAT: FIX".
// Findings quote things others chose (certificate names, printer ids, HTTP
// answers), so every line is escaped for the terminal. Pure; thread-safe.
std::string FormatFinding(const Finding& finding);

// Writes every finding and returns the exit code: kAllPassed when all are
// ok, kSomethingFailed when any failed, else kOnlyWarnings.
int Report(const std::vector<Finding>& findings, std::ostream& out);

// "3 days 4h", "5h 12m", "42m", "10s", "12 ms": a duration for a person.
std::string HumanDuration(absl::Duration d);

// "2025-05-01 12:00 UTC": a point in time for a person.
std::string When(absl::Time t);

}  // namespace bowden::doctor

#endif  // BOWDEN_DOCTOR_FINDING_H_
