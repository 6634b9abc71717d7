// `audit_fill_for_test DB ROWS [--stale-head]`: creates the audit log at DB
// if needed and appends ROWS chained http.request rows in one transaction
// (BulkFillForTest). With --stale-head the stored verified head stays where
// it was, as if another program had written the rows.

#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "audit/audit_log.h"
#include "audit/bulk_fill_for_test.h"

int main(int argc, char** argv) {
  int64_t rows = 0;
  if (argc < 3 || argc > 4 || !absl::SimpleAtoi(argv[2], &rows) || rows < 0 ||
      (argc == 4 && strcmp(argv[3], "--stale-head") != 0)) {
    fprintf(stderr, "usage: %s DB ROWS [--stale-head]\n", argv[0]);
    return 2;
  }
  {
    auto log = bowden::audit::AuditLog::Open(argv[1]);  // the schema
    if (!log.ok()) {
      fprintf(stderr, "%s\n", log.status().ToString().c_str());
      return 1;
    }
  }
  bowden::audit::BulkFillOptions options;
  options.advance_head = argc != 4;
  absl::Status filled = bowden::audit::BulkFillForTest(argv[1], rows, options);
  if (!filled.ok()) {
    fprintf(stderr, "%s\n", filled.ToString().c_str());
    return 1;
  }
  return 0;
}
