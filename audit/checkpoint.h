#ifndef BOWDEN_AUDIT_CHECKPOINT_H_
#define BOWDEN_AUDIT_CHECKPOINT_H_

// The audit_checkpoint table (one row, in the log's own file): how far the
// chain is known to be good, so a start need not walk it all, and how far
// sessions were checked for a missing session.close. Internal to //audit.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::audit::internal {

struct Checkpoint {
  // The verified head: every row up to head_seq chains correctly and row
  // head_seq has hash head_hash (0 and the genesis hash: nothing verified).
  int64_t head_seq = 0;
  std::string head_hash;
  // Every session.open row up to this seq has its session.close.
  int64_t sessions_checked_seq = 0;
};

// The checkpoint row, or nullopt if someone deleted it (then nothing is
// known to be verified).
absl::StatusOr<std::optional<Checkpoint>> ReadCheckpoint(sqlite3* db);

// Moves the verified head to (seq, hash) if it is still (from_seq,
// from_hash): a concurrent advance is never undone.
absl::Status AdvanceHead(sqlite3* db, int64_t from_seq,
                         absl::string_view from_hash, int64_t seq,
                         absl::string_view hash);

absl::Status SetSessionsChecked(sqlite3* db, int64_t seq);

}  // namespace bowden::audit::internal

#endif  // BOWDEN_AUDIT_CHECKPOINT_H_
