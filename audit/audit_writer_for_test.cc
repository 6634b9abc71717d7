// Test helper for audit_crash_test: appends events to the audit log at
// argv[1] as fast as it can and prints each acknowledged seq on its own line,
// flushed, so the test knows exactly which events Append() acknowledged
// before it sends SIGKILL. Runs until killed, or for argv[2] events.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s DB [COUNT]\n", argv[0]);
    return 2;
  }
  int64_t count = 0;  // 0: until killed
  if (argc == 3 && !absl::SimpleAtoi(argv[2], &count)) {
    fprintf(stderr, "COUNT '%s' is not a number\n", argv[2]);
    return 2;
  }
  auto log = bowden::audit::AuditLog::Open(argv[1]);
  if (!log.ok()) {
    fprintf(stderr, "%s\n", log.status().ToString().c_str());
    return 1;
  }
  for (int64_t i = 1; count == 0 || i <= count; ++i) {
    bowden::v1::AuditEvent event;
    event.set_kind("http.request");
    event.set_actor("alice");
    event.set_printer("prusa-01");
    event.set_target("octoprint");
    event.set_session_id(absl::StrCat("writer-", getpid()));
    event.set_outcome("ok");
    event.set_detail(absl::StrCat("GET /api/job #", i));
    (*event.mutable_fields())["method"] = "GET";
    (*event.mutable_fields())["status"] = "200";
    absl::StatusOr<int64_t> seq = (*log)->Append(std::move(event));
    if (!seq.ok()) {
      fprintf(stderr, "%s\n", seq.status().ToString().c_str());
      return 1;
    }
    printf("%lld\n", static_cast<long long>(*seq));
    fflush(stdout);
  }
  return 0;
}
