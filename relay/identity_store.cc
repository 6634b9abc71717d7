#include "relay/identity_store.h"

#include <sys/stat.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "relay/sqlite_lock.h"

namespace bowden::relay {
namespace {

struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

Statement Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    LOG(ERROR) << "identity store: " << sqlite3_errmsg(db);
  }
  return Statement(stmt);
}

std::string Text(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  return text == nullptr ? "" : reinterpret_cast<const char*>(text);
}

void Bind(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.c_str(), -1, SQLITE_TRANSIENT);
}

}  // namespace

absl::StatusOr<std::unique_ptr<IdentityStore>> IdentityStore::Open(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create state directory '", dir, "': ", strerror(errno)));
  }
  std::string path = absl::StrCat(dir, "/identities.db");
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open '", path, "': ", error));
  }
  std::unique_ptr<IdentityStore> store(new IdentityStore(db));
  WaitForOtherWriters(db, "identities.db");
  char* error = nullptr;
  if (sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE IF NOT EXISTS revocations (kind TEXT NOT NULL, subject TEXT "
                   "NOT NULL, at_unix INTEGER NOT NULL, reason TEXT NOT NULL, by TEXT NOT NULL, "
                   "PRIMARY KEY (kind, subject));"
                   "CREATE TABLE IF NOT EXISTS seen (serial TEXT PRIMARY KEY, spiffe TEXT NOT "
                   "NULL, not_after_unix INTEGER NOT NULL, last_seen_unix INTEGER NOT NULL);"
                   "CREATE TABLE IF NOT EXISTS tokens (secret_sha256 TEXT PRIMARY KEY, kind TEXT "
                   "NOT NULL, name TEXT NOT NULL, created_by TEXT NOT NULL, expires_unix "
                   "INTEGER NOT NULL, used_unix INTEGER);",
                   nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return absl::FailedPreconditionError(absl::StrCat("'", path, "' is not usable: ", message));
  }
  Statement stmt = Prepare(db, "SELECT kind, subject, at_unix, reason, by FROM revocations");
  absl::MutexLock lock(&store->mu_);
  while (stmt && sqlite3_step(stmt.get()) == SQLITE_ROW) {
    Revocation r{Text(stmt.get(), 0), Text(stmt.get(), 1),
                 absl::FromUnixSeconds(sqlite3_column_int64(stmt.get(), 2)), Text(stmt.get(), 3),
                 Text(stmt.get(), 4)};
    store->revoked_[Key(r.kind, r.subject)] = r;
  }
  return store;
}

IdentityStore::~IdentityStore() { sqlite3_close(db_); }

absl::Status IdentityStore::WriteError(absl::string_view what) const {
  absl::Status status = SqliteWriteError(db_, "identities.db", what);
  if (!absl::IsUnavailable(status)) return status;
  return absl::UnavailableError(absl::StrCat(
      status.message(), "; end its transaction and try again"));
}

absl::Status IdentityStore::Revoke(const Revocation& revocation) {
  absl::MutexLock db_lock(&db_mu_);
  Statement stmt = Prepare(db_,
                           "INSERT OR REPLACE INTO revocations (kind, subject, at_unix, reason, "
                           "by) VALUES (?, ?, ?, ?, ?)");
  Bind(stmt.get(), 1, revocation.kind);
  Bind(stmt.get(), 2, revocation.subject);
  sqlite3_bind_int64(stmt.get(), 3, absl::ToUnixSeconds(revocation.at));
  Bind(stmt.get(), 4, revocation.reason);
  Bind(stmt.get(), 5, revocation.by);
  if (sqlite3_step(stmt.get()) != SQLITE_DONE)
    return WriteError("store the revocation");
  absl::MutexLock lock(&mu_);
  revoked_[Key(revocation.kind, revocation.subject)] = revocation;
  return absl::OkStatus();
}

absl::Status IdentityStore::Lift(const std::string& kind, const std::string& subject) {
  // db_mu_ first: no Revoke or Lift of the same key can come in between.
  absl::MutexLock db_lock(&db_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (!revoked_.contains(Key(kind, subject))) {
      return absl::NotFoundError(
          absl::StrCat("no revocation of ", kind, " '", subject, "'"));
    }
  }
  Statement stmt = Prepare(db_, "DELETE FROM revocations WHERE kind = ? AND subject = ?");
  Bind(stmt.get(), 1, kind);
  Bind(stmt.get(), 2, subject);
  if (sqlite3_step(stmt.get()) != SQLITE_DONE)
    return WriteError("lift the revocation");
  absl::MutexLock lock(&mu_);
  revoked_.erase(Key(kind, subject));
  return absl::OkStatus();
}

std::optional<Revocation> IdentityStore::Find(const identity::SpiffeId& id,
                                              const identity::PeerCertificate& cert) const {
  absl::MutexLock lock(&mu_);
  if (id.kind != identity::PeerKind::kRelay) {
    auto it = revoked_.find(Key(std::string(identity::PeerKindName(id.kind)), id.name));
    if (it != revoked_.end()) return it->second;
  }
  auto it = revoked_.find(Key("serial", cert.serial_hex));
  if (it != revoked_.end()) return it->second;
  return std::nullopt;
}

std::vector<Revocation> IdentityStore::Revocations() const {
  absl::MutexLock lock(&mu_);
  std::vector<Revocation> out;
  for (const auto& [key, r] : revoked_) out.push_back(r);
  std::sort(out.begin(), out.end(),
            [](const Revocation& a, const Revocation& b) { return a.at < b.at; });
  return out;
}

std::optional<SeenCertificate> IdentityStore::NoteSeen(
    const identity::SpiffeId& id, const identity::PeerCertificate& cert) {
  absl::Time now = absl::Now();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = last_written_.try_emplace(cert.serial_hex, now);
  if (!inserted && now - it->second < absl::Minutes(1)) return std::nullopt;
  it->second = now;
  return SeenCertificate{id.ToString(), cert.serial_hex, cert.not_after, now};
}

void IdentityStore::WriteSeen(const SeenCertificate& seen) {
  absl::MutexLock db_lock(&db_mu_);
  Statement stmt = Prepare(db_,
                           "INSERT OR REPLACE INTO seen (serial, spiffe, not_after_unix, "
                           "last_seen_unix) VALUES (?, ?, ?, ?)");
  Bind(stmt.get(), 1, seen.serial_hex);
  Bind(stmt.get(), 2, seen.spiffe_id);
  sqlite3_bind_int64(stmt.get(), 3, absl::ToUnixSeconds(seen.not_after));
  sqlite3_bind_int64(stmt.get(), 4, absl::ToUnixSeconds(seen.last_seen));
  // Best effort: the row only feeds `bowden identities`.
  if (sqlite3_step(stmt.get()) != SQLITE_DONE) {
    LOG(WARNING) << WriteError("note a certificate as seen").message();
  }
}

std::vector<SeenCertificate> IdentityStore::Seen() const {
  absl::MutexLock db_lock(&db_mu_);
  std::vector<SeenCertificate> out;
  Statement stmt = Prepare(
      db_, "SELECT spiffe, serial, not_after_unix, last_seen_unix FROM seen ORDER BY spiffe");
  while (stmt && sqlite3_step(stmt.get()) == SQLITE_ROW) {
    out.push_back(SeenCertificate{Text(stmt.get(), 0), Text(stmt.get(), 1),
                                  absl::FromUnixSeconds(sqlite3_column_int64(stmt.get(), 2)),
                                  absl::FromUnixSeconds(sqlite3_column_int64(stmt.get(), 3))});
  }
  return out;
}

absl::Status IdentityStore::AddToken(const std::string& secret_sha256,
                                     const TokenGrant& grant, absl::Time expires) {
  absl::MutexLock db_lock(&db_mu_);
  Statement stmt = Prepare(db_,
                           "INSERT INTO tokens (secret_sha256, kind, name, created_by, "
                           "expires_unix) VALUES (?, ?, ?, ?, ?)");
  Bind(stmt.get(), 1, secret_sha256);
  Bind(stmt.get(), 2, grant.kind);
  Bind(stmt.get(), 3, grant.name);
  Bind(stmt.get(), 4, grant.created_by);
  sqlite3_bind_int64(stmt.get(), 5, absl::ToUnixSeconds(expires));
  if (sqlite3_step(stmt.get()) != SQLITE_DONE)
    return WriteError("store the token");
  return absl::OkStatus();
}

absl::StatusOr<TokenGrant> IdentityStore::RedeemToken(const std::string& secret_sha256,
                                                      absl::Time now, bool consume) {
  absl::MutexLock db_lock(&db_mu_);
  Statement select = Prepare(
      db_, "SELECT kind, name, created_by, expires_unix, used_unix FROM tokens WHERE "
           "secret_sha256 = ?");
  Bind(select.get(), 1, secret_sha256);
  if (sqlite3_step(select.get()) != SQLITE_ROW) {
    return absl::NotFoundError(
        "the join token is not known to this relay: copy the whole token, or ask the farm "
        "operator for a new one");
  }
  TokenGrant grant{Text(select.get(), 0), Text(select.get(), 1), Text(select.get(), 2)};
  if (sqlite3_column_type(select.get(), 4) != SQLITE_NULL) {
    return absl::FailedPreconditionError(
        "the join token was already used: ask the farm operator for a new one");
  }
  if (absl::FromUnixSeconds(sqlite3_column_int64(select.get(), 3)) < now) {
    return absl::FailedPreconditionError(
        "the join token has expired: ask the farm operator for a new one");
  }
  if (!consume) return grant;
  Statement update =
      Prepare(db_, "UPDATE tokens SET used_unix = ? WHERE secret_sha256 = ? AND used_unix IS NULL");
  sqlite3_bind_int64(update.get(), 1, absl::ToUnixSeconds(now));
  Bind(update.get(), 2, secret_sha256);
  if (sqlite3_step(update.get()) != SQLITE_DONE)
    return WriteError("mark the join token used");
  if (sqlite3_changes(db_) != 1) {
    return absl::FailedPreconditionError("the join token was already used");
  }
  return grant;
}

}  // namespace bowden::relay
