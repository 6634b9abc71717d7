#ifndef BOWDEN_RELAY_PRINTER_STORE_H_
#define BOWDEN_RELAY_PRINTER_STORE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace bowden::relay {

// A printer the relay has seen attach at least once.
struct KnownPrinter {
  std::string id;
  std::vector<std::string> targets;  // as offered at its last attachment
  int64_t last_seen_unix = 0;
};

// The relay's memory of printers across restarts, in DIR/state.db (SQLite,
// WAL), so `bowden ls` can show printers that are offline and the relay can
// tell "unknown printer" from "printer offline".
//
// Thread-safe.
class PrinterStore {
 public:
  // Opens or creates DIR/state.db (DIR is created 0700 if missing).
  static absl::StatusOr<std::unique_ptr<PrinterStore>> Open(const std::string& dir);
  ~PrinterStore();

  absl::Status RecordSeen(const std::string& id,
                          const std::vector<std::string>& targets)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<KnownPrinter>> List() ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<bool> Contains(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit PrinterStore(sqlite3* db) : db_(db) {}

  absl::Mutex mu_;
  sqlite3* const db_;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_PRINTER_STORE_H_
