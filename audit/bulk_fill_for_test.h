#ifndef BOWDEN_AUDIT_BULK_FILL_FOR_TEST_H_
#define BOWDEN_AUDIT_BULK_FILL_FOR_TEST_H_

// Fills an audit log with millions of rows in seconds, for tests and
// benchmarks of how the log behaves at farm scale. Writes straight through
// SQLite in one transaction with the chain computed by audit/chain.h, so the
// rows verify exactly like appended ones. Not for production use.

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace bowden::audit {

struct BulkFillOptions {
  // Move the stored verified head with the rows, as AuditLog::AppendBatch
  // does when it chains onto the head. False: leave it, as rows written by
  // another program would.
  bool advance_head = true;
  // Row n gets this time plus n microseconds.
  int64_t first_time_unix_micros = 1700000000000000;
};

// Appends `rows` http.request rows (alice's GETs of static files, about the
// guard's own row size) to the log at `path`, which must exist
// (AuditLog::Open creates it) and not be open for writing elsewhere.
absl::Status BulkFillForTest(const std::string& path, int64_t rows,
                             BulkFillOptions options = {});

}  // namespace bowden::audit

#endif  // BOWDEN_AUDIT_BULK_FILL_FOR_TEST_H_
