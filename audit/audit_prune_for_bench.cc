// `audit_prune_for_bench DB SEGMENT_ROWS`: what sealing and retention cost
// on the log at DB (e.g. filled by audit_fill_for_test): seals it into
// segments of SEGMENT_ROWS, then, two hours later on a fake clock with a
// one-hour retention, prunes all but the newest sealed segment in the
// relay's 5,000-row steps, and reports the longest step (how long appends
// can wait) and what verification costs afterwards.

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s DB SEGMENT_ROWS\n", argv[0]);
    return 2;
  }
  auto now =
      std::make_shared<std::atomic<int64_t>>(absl::ToUnixMicros(absl::Now()));
  bowden::audit::AuditLogOptions options;
  options.clock = [now] { return absl::FromUnixMicros(now->load()); };
  options.segments.max_rows = atoll(argv[2]);
  options.segments.max_age = absl::ZeroDuration();
  options.segments.retention = absl::Hours(1);
  auto log = bowden::audit::AuditLog::Open(argv[1], options);
  if (!log.ok()) {
    fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  absl::Time start = absl::Now();
  auto sealed = (*log)->MaintainSegments(0);
  if (!sealed.ok()) return 1;
  printf("seal %lld segments: %.3f s\n", static_cast<long long>(sealed->sealed),
         absl::ToDoubleSeconds(absl::Now() - start));
  now->fetch_add(absl::ToInt64Microseconds(absl::Hours(2)));
  absl::Duration longest, total;
  int64_t steps = 0, rows = 0;
  bool more = true;
  while (more) {
    absl::Time step_start = absl::Now();
    auto step = (*log)->MaintainSegments(5000);
    absl::Duration took = absl::Now() - step_start;
    if (!step.ok()) {
      fprintf(stderr, "%s\n", step.status().ToString().c_str());
      return 1;
    }
    longest = std::max(longest, took);
    total += took;
    ++steps;
    rows += step->rows_deleted;
    more = step->more;
  }
  printf("prune %lld rows in %lld steps: %.3f s, longest step %.1f ms\n",
         static_cast<long long>(rows), static_cast<long long>(steps),
         absl::ToDoubleSeconds(total), absl::ToDoubleMilliseconds(longest));
  start = absl::Now();
  bowden::audit::VerifyResult since = (*log)->VerifySinceHead();
  printf("start (since head): %lld rows, %.3f s, %s\n",
         static_cast<long long>(since.rows_checked),
         absl::ToDoubleSeconds(absl::Now() - start),
         since.ok() ? "ok" : since.detail.c_str());
  start = absl::Now();
  bowden::audit::VerifyResult full = (*log)->Verify();
  printf("full verify: %lld segments (%lld pruned), %lld rows, %.3f s, %s\n",
         static_cast<long long>(full.segments),
         static_cast<long long>(full.pruned_segments),
         static_cast<long long>(full.rows_checked),
         absl::ToDoubleSeconds(absl::Now() - start),
         full.ok() ? "ok" : full.detail.c_str());
  return since.ok() && full.ok() ? 0 : 1;
}
