// Tampering through a second, raw SQLite connection, as someone holding the
// file could: drop the triggers, change rows, reopen, verify. Every case
// asserts the exact seq and reason Verify reports.

#include <sqlite3.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "gtest/gtest.h"

namespace bowden::audit {
namespace {

using bowden::v1::AuditEvent;
using bowden::v1::AuditQuery;
using Problem = VerifyResult::Problem;

constexpr int kRows = 10;

class AuditTamperTest : public ::testing::Test {
 protected:
  // A log of kRows events; anchors_[n] is the head after n appends.
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string dir = absl::StrCat(base ? base : "/tmp", "/tamper.XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    path_ = dir + "/audit.db";
    Reopen();
    anchors_.push_back(log_->HeadAnchor().value_or(""));
    for (int i = 1; i <= kRows; ++i) {
      AuditEvent event;
      event.set_kind(i % 2 ? "http.request" : "session.open");
      event.set_actor(i % 3 ? "alice" : "bob");
      event.set_printer("prusa-01");
      event.set_detail(absl::StrCat("event ", i));
      (*event.mutable_fields())["n"] = absl::StrCat(i);
      ASSERT_EQ(log_->Append(event).value_or(-1), i);
      anchors_.push_back(log_->HeadAnchor().value_or(""));
    }
  }

  void Reopen() {
    log_.reset();
    auto log = AuditLog::Open(path_);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

  // Runs `sql` on a raw connection with the triggers dropped, then reopens
  // the log (which puts the triggers back).
  void Tamper(const std::string& sql) {
    log_.reset();
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
    std::string all = absl::StrCat(
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;"
        "DROP TRIGGER audit_log_next_seq_only;",
        sql);
    char* error = nullptr;
    int rc = sqlite3_exec(raw, all.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "") << "\n" << sql;
    sqlite3_free(error);
    sqlite3_close(raw);
    Reopen();
  }

  void ExpectBroken(const VerifyResult& result, Problem problem, int64_t seq) {
    EXPECT_EQ(ProblemName(result.problem), ProblemName(problem))
        << result.detail;
    EXPECT_EQ(result.seq, seq) << result.detail;
    EXPECT_FALSE(result.ok());
  }

  std::string path_;
  std::unique_ptr<AuditLog> log_;
  std::vector<std::string> anchors_;
};

TEST_F(AuditTamperTest, UntouchedLogVerifies) {
  VerifyResult result = log_->Verify(anchors_[kRows]);
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.rows_checked, kRows);
  EXPECT_EQ(result.head, anchors_[kRows]);
}

TEST_F(AuditTamperTest, EditedMiddleRowIsAHashMismatch) {
  Tamper("UPDATE audit_log SET detail = 'nothing happened' WHERE seq = 5");
  VerifyResult result = log_->Verify();
  ExpectBroken(result, Problem::kHashMismatch, 5);
  EXPECT_EQ(result.rows_checked, 4);
  EXPECT_EQ(result.head, anchors_[4]);  // the last row still trusted
}

TEST_F(AuditTamperTest, EditedTimeOrFieldsIsAHashMismatch) {
  Tamper(
      "UPDATE audit_log SET time_unix_micros = time_unix_micros + 1 "
      "WHERE seq = 7");
  ExpectBroken(log_->Verify(), Problem::kHashMismatch, 7);
  // A corrupt fields blob: Query says so, Verify finds it first at row 3.
  Tamper("UPDATE audit_log SET fields = x'00' WHERE seq = 3");
  ExpectBroken(log_->Verify(), Problem::kHashMismatch, 3);
  EXPECT_EQ(log_->Query(AuditQuery()).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST_F(AuditTamperTest, DeletedMiddleRowIsAGap) {
  Tamper("DELETE FROM audit_log WHERE seq = 5");
  VerifyResult result = log_->Verify();
  ExpectBroken(result, Problem::kSeqGap, 5);
  EXPECT_EQ(result.rows_checked, 4);
}

TEST_F(AuditTamperTest, DeletedAndRenumberedRowsBreakPrevHash) {
  std::string sql = "DELETE FROM audit_log WHERE seq = 5;";
  for (int seq = 6; seq <= kRows; ++seq) {
    absl::StrAppend(&sql, "UPDATE audit_log SET seq = ", seq - 1,
                    " WHERE seq = ", seq, ";");
  }
  Tamper(sql);
  ExpectBroken(log_->Verify(), Problem::kPrevHashMismatch, 5);
}

TEST_F(AuditTamperTest, SwappedRowsAreReordered) {
  Tamper(
      "CREATE TEMP TABLE saved AS SELECT * FROM audit_log WHERE seq IN (4, 5);"
      "UPDATE audit_log SET (time_unix_micros, kind, actor, printer, target, "
      "session_id, outcome, detail, fields, prev_hash, hash) = (SELECT "
      "time_unix_micros, kind, actor, printer, target, session_id, outcome, "
      "detail, fields, prev_hash, hash FROM saved WHERE saved.seq = "
      "9 - audit_log.seq) WHERE seq IN (4, 5);");
  VerifyResult result = log_->Verify();
  ExpectBroken(result, Problem::kReordered, 4);
  EXPECT_NE(result.detail.find("stored as 5"), std::string::npos)
      << result.detail;
}

TEST_F(AuditTamperTest, TruncatedTailIsFoundOnlyWithTheSavedHead) {
  Tamper("DELETE FROM audit_log WHERE seq > 7");
  // Without an anchor a shorter log is a valid log: this is the limit of a
  // hash chain kept in the same file.
  VerifyResult alone = log_->Verify();
  EXPECT_TRUE(alone.ok()) << alone.detail;
  EXPECT_EQ(alone.rows_checked, 7);
  EXPECT_EQ(alone.head, anchors_[7]);
  // With the head saved after row 10, the loss shows.
  VerifyResult anchored = log_->Verify(anchors_[kRows]);
  ExpectBroken(anchored, Problem::kTruncated, 8);
  EXPECT_EQ(anchored.rows_checked, 7);
  // An older anchor that survived still verifies.
  EXPECT_TRUE(log_->Verify(anchors_[5]).ok());
}

TEST_F(AuditTamperTest, TruncatedAndRegrownTailIsAnAnchorMismatch) {
  Tamper("DELETE FROM audit_log WHERE seq > 7");
  for (int i = 8; i <= kRows + 2; ++i) {
    AuditEvent event;
    event.set_kind("admin");
    event.set_detail("rewritten history");
    ASSERT_EQ(log_->Append(event).value_or(-1), i);
  }
  EXPECT_TRUE(log_->Verify().ok());
  VerifyResult result = log_->Verify(anchors_[kRows]);
  ExpectBroken(result, Problem::kAnchorMismatch, kRows);
  EXPECT_EQ(result.rows_checked, kRows);
}

TEST_F(AuditTamperTest, FirstRowTampering) {
  Tamper("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1");
  VerifyResult edited = log_->Verify();
  ExpectBroken(edited, Problem::kHashMismatch, 1);
  EXPECT_EQ(edited.rows_checked, 0);
  EXPECT_EQ(edited.head, anchors_[0]);

  Tamper(
      "UPDATE audit_log SET actor = 'alice' WHERE seq = 1;"
      "UPDATE audit_log SET prev_hash = zeroblob(31) || x'01' WHERE seq = 1");
  ExpectBroken(log_->Verify(), Problem::kPrevHashMismatch, 1);

  Tamper("DELETE FROM audit_log WHERE seq = 1");
  ExpectBroken(log_->Verify(), Problem::kSeqGap, 1);
}

TEST_F(AuditTamperTest, MalformedHashIsReported) {
  Tamper("UPDATE audit_log SET hash = x'00' WHERE seq = 3");
  ExpectBroken(log_->Verify(), Problem::kMalformedRow, 3);
}

TEST_F(AuditTamperTest, BrokenLogStillOpensAndAppendsAndTriggersReturn) {
  Tamper("UPDATE audit_log SET detail = 'x' WHERE seq = 5");
  AuditEvent event;
  event.set_kind("auth");
  EXPECT_EQ(log_->Append(event).value_or(-1), kRows + 1);
  ExpectBroken(log_->Verify(), Problem::kHashMismatch, 5);

  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(raw, "DELETE FROM audit_log WHERE seq = 2", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  EXPECT_STREQ(sqlite3_errmsg(raw), "audit_log is append-only: DELETE refused");
  sqlite3_close(raw);
}

TEST_F(AuditTamperTest, UnparseableAnchorIsReported) {
  VerifyResult result = log_->Verify("yesterday's head");
  ExpectBroken(result, Problem::kBadAnchor, 0);
  EXPECT_NE(result.detail.find("'yesterday's head'"), std::string::npos);
}

}  // namespace
}  // namespace bowden::audit
