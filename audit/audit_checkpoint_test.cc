// What a relay start costs and proves: VerifySinceHead walks only the rows
// after the stored verified head, however long the log (checked on millions
// of rows by the number of rows it verifies, not by time: timing is in
// bench/audit_start.sh), still detects a tampered head, and leaves rows
// before the head to the full Verify(). CloseDanglingSessions closes the
// sessions a killed writer left open, once.

#include <sqlite3.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/bulk_fill_for_test.h"
#include "gtest/gtest.h"

namespace bowden::audit {
namespace {

using bowden::v1::AuditEvent;
using bowden::v1::AuditQuery;
using Problem = VerifyResult::Problem;

class AuditCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string dir = absl::StrCat(base ? base : "/tmp", "/checkpoint.XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    path_ = dir + "/audit.db";
    Reopen();
  }

  void Reopen() {
    log_.reset();
    auto log = AuditLog::Open(path_);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

  // Closes the log, fills it straight through SQLite, reopens it.
  void Fill(int64_t rows, bool advance_head) {
    log_.reset();
    BulkFillOptions options;
    options.advance_head = advance_head;
    ASSERT_TRUE(BulkFillForTest(path_, rows, options).ok());
    Reopen();
  }

  // Runs `sql` on a raw connection with the triggers dropped, as someone
  // holding the file could, then reopens the log.
  void Tamper(const std::string& sql) {
    log_.reset();
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
    std::string all = absl::StrCat(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;",
        sql);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(raw, all.c_str(), nullptr, nullptr, &error),
              SQLITE_OK)
        << (error ? error : "") << "\n"
        << sql;
    sqlite3_free(error);
    sqlite3_close(raw);
    Reopen();
  }

  void Append(const std::string& kind, const std::string& session) {
    AuditEvent event;
    event.set_kind(kind);
    event.set_actor("alice");
    event.set_printer("prusa-01");
    event.set_target("octoprint");
    event.set_session_id(session);
    event.set_outcome("ok");
    (*event.mutable_fields())["role"] = "operator";
    ASSERT_TRUE(log_->Append(event).ok());
  }

  std::vector<AuditEvent> Closes() {
    AuditQuery query;
    query.set_kind("session.close");
    query.set_limit(10000);
    return log_->Query(query).value_or(std::vector<AuditEvent>{});
  }

  static AuditEvent Abort(const AuditEvent& open) {
    AuditEvent close;
    close.set_kind("session.close");
    close.set_actor(open.actor());
    close.set_session_id(open.session_id());
    close.set_outcome("aborted");
    close.set_detail("the relay stopped while the session was open");
    return close;
  }

  std::string path_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditCheckpointTest,
       StartVerifiesOnlyWhatFollowsTheHeadAtMillionsOfRows) {
  constexpr int64_t kRows = 1'000'000;
  Fill(kRows, /*advance_head=*/true);
  VerifyResult start = log_->VerifySinceHead();
  ASSERT_TRUE(start.ok()) << start.detail;
  EXPECT_EQ(start.rows_checked, 1);  // the head row itself
  EXPECT_EQ(start.head, log_->HeadAnchor().value_or(""));

  // Appends chain onto the head and move it: a restart still checks one row.
  Append("http.request", "s1");
  Append("http.request", "s1");
  Reopen();
  start = log_->VerifySinceHead();
  ASSERT_TRUE(start.ok()) << start.detail;
  EXPECT_EQ(start.rows_checked, 1);

  // Rows another program wrote are walked once, then covered by the head.
  Fill(5, /*advance_head=*/false);
  start = log_->VerifySinceHead();
  ASSERT_TRUE(start.ok()) << start.detail;
  EXPECT_EQ(start.rows_checked, 6);
  EXPECT_EQ(log_->VerifySinceHead().rows_checked, 1);

  // The full check on demand still walks everything.
  VerifyResult full = log_->Verify();
  ASSERT_TRUE(full.ok()) << full.detail;
  EXPECT_EQ(full.rows_checked, kRows + 7);
}

TEST_F(AuditCheckpointTest, AnOldLogIsWalkedOnceThenNotAgain) {
  Fill(1000, /*advance_head=*/true);
  // A log written before the checkpoint existed: Open recreates it empty.
  Tamper("DROP TABLE audit_checkpoint;");
  VerifyResult start = log_->VerifySinceHead();
  ASSERT_TRUE(start.ok()) << start.detail;
  EXPECT_EQ(start.rows_checked, 1000);
  EXPECT_EQ(log_->VerifySinceHead().rows_checked, 1);
}

TEST_F(AuditCheckpointTest, RowEditedBeforeTheHeadIsFoundByTheFullVerify) {
  Fill(10000, /*advance_head=*/true);
  Tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 4321;");
  // What a start cannot see, and says so by the count it checked.
  VerifyResult start = log_->VerifySinceHead();
  EXPECT_TRUE(start.ok()) << start.detail;
  EXPECT_EQ(start.rows_checked, 1);
  VerifyResult full = log_->Verify();
  EXPECT_EQ(full.problem, Problem::kHashMismatch) << full.detail;
  EXPECT_EQ(full.seq, 4321);
}

TEST_F(AuditCheckpointTest, RowEditedAfterTheHeadIsFoundAtStart) {
  Fill(100, /*advance_head=*/true);
  Fill(100, /*advance_head=*/false);
  Tamper("UPDATE audit_log SET detail = 'x' WHERE seq = 150;");
  VerifyResult start = log_->VerifySinceHead();
  EXPECT_EQ(start.problem, Problem::kHashMismatch) << start.detail;
  EXPECT_EQ(start.seq, 150);
  // A broken chain does not move the head: the next start reports it again.
  EXPECT_EQ(log_->VerifySinceHead().seq, 150);
}

TEST_F(AuditCheckpointTest, TamperedStoredHeadIsDetectedAtStart) {
  Fill(100, /*advance_head=*/true);
  Tamper("UPDATE audit_checkpoint SET head_hash = zeroblob(32);");
  VerifyResult start = log_->VerifySinceHead();
  EXPECT_EQ(start.problem, Problem::kAnchorMismatch) << start.detail;
  EXPECT_EQ(start.seq, 100);
}

TEST_F(AuditCheckpointTest, EditedHeadRowIsDetectedAtStart) {
  Fill(100, /*advance_head=*/true);
  Tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 100;");
  VerifyResult start = log_->VerifySinceHead();
  EXPECT_EQ(start.problem, Problem::kHashMismatch) << start.detail;
  EXPECT_EQ(start.seq, 100);
}

TEST_F(AuditCheckpointTest, RowsCutOffTheEndAreDetectedAtStart) {
  Fill(100, /*advance_head=*/true);
  Tamper("DELETE FROM audit_log WHERE seq > 90;");
  VerifyResult start = log_->VerifySinceHead();
  EXPECT_EQ(start.problem, Problem::kTruncated) << start.detail;
  EXPECT_EQ(start.seq, 100);
}

TEST_F(AuditCheckpointTest, DanglingSessionsAreClosedOnce) {
  Append("session.open", "a");
  Append("session.open", "b");
  Append("http.request", "a");
  Append("session.close", "b");
  Append("session.open", "c");
  absl::StatusOr<int64_t> closed = log_->CloseDanglingSessions(&Abort);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(*closed, 2);
  std::vector<AuditEvent> closes = Closes();
  ASSERT_EQ(closes.size(), 3u);
  EXPECT_EQ(closes[1].session_id(), "a");
  EXPECT_EQ(closes[1].outcome(), "aborted");
  EXPECT_EQ(closes[2].session_id(), "c");

  // The next start looks only at what came after: one new dangling session.
  Reopen();
  EXPECT_EQ(log_->CloseDanglingSessions(&Abort).value_or(-1), 0);
  Append("session.open", "d");
  Reopen();
  EXPECT_EQ(log_->CloseDanglingSessions(&Abort).value_or(-1), 1);
  EXPECT_EQ(Closes().back().session_id(), "d");
  EXPECT_TRUE(log_->Verify().ok());
}

TEST_F(AuditCheckpointTest, ManyDanglingSessionsAreClosedInBoundedBatches) {
  for (int i = 0; i < 1200; ++i) Append("session.open", absl::StrCat("s", i));
  EXPECT_EQ(log_->CloseDanglingSessions(&Abort).value_or(-1), 1200);
  EXPECT_EQ(Closes().size(), 1200u);
  EXPECT_EQ(log_->CloseDanglingSessions(&Abort).value_or(-1), 0);
}

}  // namespace
}  // namespace bowden::audit
