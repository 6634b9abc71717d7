// `audit_verify_for_bench DB`: how long a relay start's check
// (VerifySinceHead) and a full `bowden audit verify` (Verify) take on the
// log at DB, with the rows each checked. Used by bench/audit_start.sh.

#include <cstdio>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"

namespace {

void Report(const char* what, const bowden::audit::VerifyResult& result,
            absl::Duration took) {
  printf("%-18s %10lld rows %10.3f s  %s\n", what,
         static_cast<long long>(result.rows_checked),
         absl::ToDoubleSeconds(took), result.ok() ? "ok" : result.detail.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s DB\n", argv[0]);
    return 2;
  }
  absl::Time start = absl::Now();
  auto log = bowden::audit::AuditLog::Open(argv[1]);
  if (!log.ok()) {
    fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  printf("%-18s %10s      %10.3f s\n", "open", "",
         absl::ToDoubleSeconds(absl::Now() - start));
  start = absl::Now();
  bowden::audit::VerifyResult since = (*log)->VerifySinceHead();
  Report("start (since head)", since, absl::Now() - start);
  start = absl::Now();
  bowden::audit::VerifyResult full = (*log)->Verify();
  Report("full verify", full, absl::Now() - start);
  return since.ok() && full.ok() ? 0 : 1;
}
