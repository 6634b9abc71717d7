#ifndef BOWDEN_RELAY_PRINTER_STORE_H_
#define BOWDEN_RELAY_PRINTER_STORE_H_

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
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
// Thread-safe. RecordSeen and List wait for the database (up to
// kSqliteLockWait when another program holds the write lock), so the relay calls
// them off its callback thread; Contains answers from memory and never waits
// for them, since Dial asks it on the callback thread.
class PrinterStore {
 public:
  // Opens or creates DIR/state.db (DIR is created 0700 if missing).
  static absl::StatusOr<std::unique_ptr<PrinterStore>> Open(const std::string& dir);
  ~PrinterStore();

  // Remembers the printer as known at once, then writes its row.
  absl::Status RecordSeen(const std::string& id,
                          const std::vector<std::string>& targets)
      ABSL_LOCKS_EXCLUDED(db_mu_, mu_);
  absl::StatusOr<std::vector<KnownPrinter>> List() ABSL_LOCKS_EXCLUDED(db_mu_);
  // Whether the printer has ever attached (in this run or, from state.db,
  // before it).
  bool Contains(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  explicit PrinterStore(sqlite3* db) : db_(db) {}
  // Fills known_ from the printers table.
  absl::Status LoadKnown() ABSL_LOCKS_EXCLUDED(db_mu_, mu_);

  sqlite3* const db_;
  // Held for every use of db_, also while SQLite waits for a lock. Taken
  // before mu_, never while holding it (as in IdentityStore).
  absl::Mutex db_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Held only for known_, never across a use of db_.
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_PRINTER_STORE_H_
