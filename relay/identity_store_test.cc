// IdentityStore against a real SQLite file in a temporary directory: what
// survives a reopen, what a serial revocation refuses, join tokens' single
// use, and how it behaves while another connection holds the file's write
// lock (a backup, a sqlite3 shell): lookups answer at once, a write waits for
// the lock and then succeeds, or fails with one sentence once kLockWait has
// passed.

#include "relay/identity_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

identity::SpiffeId User(const std::string& name) {
  return identity::SpiffeId{"farm.test", identity::PeerKind::kUser, name};
}

identity::PeerCertificate Cert(const std::string& serial) {
  identity::PeerCertificate cert;
  cert.serial_hex = serial;
  cert.not_after = absl::Now() + absl::Hours(24);
  return cert;
}

Revocation Revoking(const std::string& kind, const std::string& subject) {
  return Revocation{kind, subject, absl::FromUnixSeconds(1800000000),
                    "laptop stolen", "spiffe://farm.test/user/admin"};
}

// Another program's connection holding the write lock of identities.db.
class ForeignLock {
 public:
  explicit ForeignLock(const std::string& dir) {
    EXPECT_EQ(sqlite3_open((dir + "/identities.db").c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 30000);  // as any other program would
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  ~ForeignLock() {
    Release();
    sqlite3_close(db_);
  }
  void Release() {
    if (held_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    held_ = false;
  }

 private:
  sqlite3* db_ = nullptr;
  bool held_ = true;
};

// Notifies once the store logs that it waits for the lock.
class LockWaitSink : public google::LogSink {
 public:
  void send(google::LogSeverity /*severity*/, const char* /*full_filename*/,
            const char* /*base_filename*/, int /*line*/,
            const google::LogMessageTime& /*time*/, const char* message,
            size_t message_len) override {
    if (absl::StrContains(absl::string_view(message, message_len),
                          "identities.db is locked") &&
        !waiting_.HasBeenNotified()) {
      waiting_.Notify();
    }
  }
  absl::Notification& waiting() { return waiting_; }

 private:
  absl::Notification waiting_;
};

class IdentityStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "identity_store.XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto store = IdentityStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string dir_;
  std::unique_ptr<IdentityStore> store_;
};

TEST_F(IdentityStoreTest, ARevocationSurvivesAReopenAndALiftToo) {
  ASSERT_TRUE(store_->Revoke(Revoking("user", "carol")).ok());
  ASSERT_TRUE(store_->Revoke(Revoking("user", "dave")).ok());
  Reopen();
  std::optional<Revocation> found = store_->Find(User("carol"), Cert("A1"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->reason, "laptop stolen");
  EXPECT_EQ(found->by, "spiffe://farm.test/user/admin");
  EXPECT_EQ(found->at, absl::FromUnixSeconds(1800000000));

  ASSERT_TRUE(store_->Lift("user", "carol").ok());
  Reopen();
  EXPECT_FALSE(store_->Find(User("carol"), Cert("A1")).has_value());
  EXPECT_TRUE(store_->Find(User("dave"), Cert("B2")).has_value());
  EXPECT_EQ(store_->Lift("user", "carol").code(), absl::StatusCode::kNotFound);
}

TEST_F(IdentityStoreTest, ASerialRevocationRefusesThatCertificateOnly) {
  ASSERT_TRUE(store_->Revoke(Revoking("serial", "A1")).ok());
  EXPECT_TRUE(store_->Find(User("carol"), Cert("A1")).has_value());
  EXPECT_FALSE(store_->Find(User("carol"), Cert("A2")).has_value());
  // A user revocation is not an agent revocation of the same name.
  ASSERT_TRUE(store_->Revoke(Revoking("user", "prusa-01")).ok());
  identity::SpiffeId agent{"farm.test", identity::PeerKind::kAgent, "prusa-01"};
  EXPECT_FALSE(store_->Find(agent, Cert("C3")).has_value());
}

TEST_F(IdentityStoreTest, AJoinTokenIsRedeemedOnceAndNotAfterItExpires) {
  const absl::Time now = absl::Now();
  TokenGrant grant{"agent", "prusa-02", "spiffe://farm.test/user/admin"};
  ASSERT_TRUE(store_->AddToken("sha-1", grant, now + absl::Hours(1)).ok());
  ASSERT_TRUE(store_->AddToken("sha-2", grant, now - absl::Seconds(1)).ok());

  // Checking without consuming leaves it usable.
  ASSERT_TRUE(store_->RedeemToken("sha-1", now, /*consume=*/false).ok());
  absl::StatusOr<TokenGrant> redeemed =
      store_->RedeemToken("sha-1", now, /*consume=*/true);
  ASSERT_TRUE(redeemed.ok()) << redeemed.status();
  EXPECT_EQ(redeemed->name, "prusa-02");
  EXPECT_EQ(redeemed->kind, "agent");
  EXPECT_EQ(store_->RedeemToken("sha-1", now, true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->RedeemToken("sha-2", now, true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->RedeemToken("sha-3", now, true).status().code(),
            absl::StatusCode::kNotFound);
}

// While a revocation waits for another connection's lock, looking a peer up
// (which every new call does) answers at once; the revocation is stored and
// takes effect once the lock is released.
TEST_F(IdentityStoreTest, LookupsDoNotWaitForAWriteThatWaitsForTheLock) {
  ASSERT_TRUE(store_->Revoke(Revoking("user", "dave")).ok());
  LockWaitSink sink;
  google::AddLogSink(&sink);
  ForeignLock lock(dir_);
  std::atomic<bool> revoked{false};
  absl::Status status;
  std::thread revoke([&] {
    status = store_->Revoke(Revoking("user", "carol"));
    revoked = true;
  });
  ASSERT_TRUE(sink.waiting().WaitForNotificationWithTimeout(absl::Seconds(30)))
      << "the revocation never waited for the lock";
  // The write cannot finish while the lock is held, so these answered while
  // it waited.
  EXPECT_TRUE(store_->Find(User("dave"), Cert("B2")).has_value());
  EXPECT_FALSE(store_->Find(User("carol"), Cert("A1")).has_value());
  EXPECT_EQ(store_->Revocations().size(), 1u);
  EXPECT_FALSE(revoked);
  lock.Release();
  revoke.join();
  google::RemoveLogSink(&sink);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(store_->Find(User("carol"), Cert("A1")).has_value());
}

// A lock held past kLockWait: the write fails with a sentence naming the
// cause, and nothing changes.
TEST_F(IdentityStoreTest, ALockHeldTooLongFailsTheWriteWithASentence) {
  ForeignLock lock(dir_);
  absl::Status status = store_->Revoke(Revoking("user", "carol"));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
  EXPECT_TRUE(absl::StrContains(status.message(),
                                "another program kept identities.db locked"))
      << status;
  EXPECT_FALSE(store_->Find(User("carol"), Cert("A1")).has_value());
  lock.Release();
  EXPECT_TRUE(store_->Revoke(Revoking("user", "carol")).ok());
}

}  // namespace
}  // namespace bowden::relay
