#ifndef BOWDEN_RELAY_IDENTITY_STORE_H_
#define BOWDEN_RELAY_IDENTITY_STORE_H_

#include <sqlite3.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/peer.h"
#include "identity/spiffe_id.h"
#include "relay/sqlite_lock.h"

namespace bowden::relay {

// A revocation. kind "agent" or "user" names an identity: every certificate
// of it is refused, now and later, until the revocation is lifted (a printer
// or person that is gone). kind "serial" names one certificate (a lost
// laptop: issue a new certificate and carry on).
struct Revocation {
  std::string kind;     // "agent", "user" or "serial"
  std::string subject;  // printer id, user name, or upper-case hex serial
  absl::Time at;
  std::string reason;
  std::string by;  // the admin who revoked
};

// What a redeemed join token entitles its holder to.
struct TokenGrant {
  std::string kind;  // "agent" or "user"
  std::string name;
  std::string created_by;
};

// A certificate the relay has seen authenticate.
struct SeenCertificate {
  std::string spiffe_id;
  std::string serial_hex;
  absl::Time not_after;
  absl::Time last_seen;
};

// Revocations and the certificates seen, in STATE_DIR/identities.db (SQLite),
// with an in-memory copy of the revocations so checking one is a lookup.
//
// Writes wait up to kLockWait for a write lock another connection holds (a
// backup, a sqlite3 shell), then fail with Unavailable: so the relay calls
// every method that touches the file on its OffloadThread. Find, Revocations
// and NoteSeen never touch the file and never wait for a method that does,
// so the callback thread may call them.
//
// Thread-safe.
class IdentityStore {
 public:
  // How long a write waits for another connection's lock.
  static constexpr absl::Duration kLockWait = kSqliteLockWait;

  static absl::StatusOr<std::unique_ptr<IdentityStore>> Open(const std::string& dir);
  ~IdentityStore();

  // Stores the revocation; it takes effect (Find) once stored.
  absl::Status Revoke(const Revocation& revocation)
      ABSL_LOCKS_EXCLUDED(db_mu_, mu_);
  // NotFound when there is no such revocation.
  absl::Status Lift(const std::string& kind, const std::string& subject)
      ABSL_LOCKS_EXCLUDED(db_mu_, mu_);
  // The revocation that refuses this peer, if any.
  std::optional<Revocation> Find(const identity::SpiffeId& id,
                                 const identity::PeerCertificate& cert) const
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<Revocation> Revocations() const ABSL_LOCKS_EXCLUDED(mu_);

  // Notes that `cert` authenticated as `id`; returns the row to write with
  // WriteSeen when one is due (at most once a minute per certificate).
  // Memory only.
  std::optional<SeenCertificate> NoteSeen(const identity::SpiffeId& id,
                                          const identity::PeerCertificate& cert)
      ABSL_LOCKS_EXCLUDED(mu_);
  void WriteSeen(const SeenCertificate& seen) ABSL_LOCKS_EXCLUDED(db_mu_);
  std::vector<SeenCertificate> Seen() const ABSL_LOCKS_EXCLUDED(db_mu_);

  // Join tokens, stored by the SHA-256 of their secret only.
  absl::Status AddToken(const std::string& secret_sha256,
                        const TokenGrant& grant, absl::Time expires)
      ABSL_LOCKS_EXCLUDED(db_mu_);
  // The token's grant: NotFound for an unknown token, FailedPrecondition for
  // one already used or expired. With `consume` the token is marked used
  // (atomically: of two racing redemptions one fails).
  absl::StatusOr<TokenGrant> RedeemToken(const std::string& secret_sha256,
                                         absl::Time now, bool consume)
      ABSL_LOCKS_EXCLUDED(db_mu_);

 private:
  explicit IdentityStore(sqlite3* db) : db_(db) {}
  static std::string Key(const std::string& kind, const std::string& subject) {
    return kind + "\n" + subject;
  }

  // A failed write's status: Unavailable when another connection kept the
  // lock past kLockWait.
  absl::Status WriteError(absl::string_view what) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(db_mu_);

  sqlite3* const db_;
  // Held for every use of db_ (a statement or a read-then-write), possibly
  // for kLockWait. Taken before mu_, never while holding it.
  mutable absl::Mutex db_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Held only for the in-memory maps, never across a use of db_.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Revocation> revoked_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::Time> last_written_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_IDENTITY_STORE_H_
