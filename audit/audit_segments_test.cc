// Sealed segments and retention: the open segment is sealed by size or age
// (a fake clock, no sleeps), retention deletes the rows of whole old
// segments only, and Verify still proves that what is kept is complete and
// unchanged: each tampering with kept rows or with the segment records is
// found, with the seq or segment where it is.

#include <sqlite3.h>
#include <stdlib.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "audit/chain.h"
#include "gtest/gtest.h"

namespace bowden::audit {
namespace {

using bowden::v1::AuditEvent;
using bowden::v1::AuditQuery;
using Problem = VerifyResult::Problem;

constexpr int64_t kStart = 1700000000000000;  // µs

class AuditSegmentsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string dir = absl::StrCat(base ? base : "/tmp", "/segments.XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr);
    path_ = dir + "/audit.db";
    now_->store(kStart);
  }

  void Open(SegmentPolicy policy) {
    log_.reset();
    policy_ = policy;
    AuditLogOptions options;
    options.clock = [now = now_] { return absl::FromUnixMicros(now->load()); };
    options.segments = policy;
    auto log = AuditLog::Open(path_, options);
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

  void Advance(absl::Duration d) {
    now_->fetch_add(absl::ToInt64Microseconds(d));
  }

  void AppendRows(int n) {
    AuditEvent event;
    event.set_kind("http.request");
    event.set_actor("alice");
    event.set_printer("prusa-01");
    event.set_outcome("ok");
    event.set_detail("GET /static/app.js");
    ASSERT_TRUE(log_->AppendBatch(std::vector<AuditEvent>(n, event)).ok());
  }

  // Runs MaintainSegments until no pruned rows remain; sums what it did.
  MaintenanceResult Maintain(int64_t chunk = 10000) {
    MaintenanceResult total;
    for (int i = 0; i < 1000; ++i) {
      absl::StatusOr<MaintenanceResult> step = log_->MaintainSegments(chunk);
      EXPECT_TRUE(step.ok()) << step.status();
      if (!step.ok()) break;
      total.sealed += step->sealed;
      total.pruned += step->pruned;
      total.rows_deleted += step->rows_deleted;
      if (!step->more) break;
    }
    return total;
  }

  int64_t OldestSeq() {
    AuditQuery query;
    query.set_limit(1);
    auto rows = log_->Query(query);
    return rows.ok() && !rows->empty() ? rows->front().seq() : 0;
  }

  // Runs `sql` on a raw connection, as someone holding the file could
  // (with `drop_triggers`, after dropping every guard trigger), expecting
  // it to succeed or to be refused, then reopens the log.
  void Tamper(const std::string& sql, bool drop_triggers = true,
              bool expect_ok = true) {
    log_.reset();
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
    std::string all = drop_triggers
                          ? absl::StrCat(
                                "DROP TRIGGER audit_log_no_update;"
                                "DROP TRIGGER audit_log_no_delete;"
                                "DROP TRIGGER audit_segments_no_delete;"
                                "DROP TRIGGER audit_segments_prune_only;",
                                sql)
                          : sql;
    char* error = nullptr;
    int rc = sqlite3_exec(raw, all.c_str(), nullptr, nullptr, &error);
    last_error_ = error ? error : "";
    EXPECT_EQ(rc == SQLITE_OK, expect_ok) << last_error_ << "\n" << sql;
    sqlite3_free(error);
    sqlite3_close(raw);
    Open(policy_);
  }

  // 350 rows in segments of 100, sealed at kStart; two hours later with a
  // one-hour retention, segments 1 and 2 are pruned (3, the newest sealed,
  // stays) and rows 201-350 are kept.
  void PrunedLog() {
    SegmentPolicy policy;
    policy.max_rows = 100;
    policy.max_age = absl::ZeroDuration();
    policy.retention = absl::Hours(1);
    Open(policy);
    AppendRows(350);
    MaintenanceResult sealed = Maintain();
    ASSERT_EQ(sealed.sealed, 3);
    ASSERT_EQ(sealed.pruned, 0);
    Advance(absl::Hours(2));
    MaintenanceResult pruned = Maintain(/*chunk=*/30);
    ASSERT_EQ(pruned.pruned, 2);
    ASSERT_EQ(pruned.rows_deleted, 200);
  }

  std::shared_ptr<std::atomic<int64_t>> now_ =
      std::make_shared<std::atomic<int64_t>>(kStart);
  std::string path_;
  SegmentPolicy policy_;
  std::unique_ptr<AuditLog> log_;
  std::string last_error_;
};

TEST_F(AuditSegmentsTest, SealsBySizeIntoSegmentsOfExactlyMaxRows) {
  SegmentPolicy policy;
  policy.max_rows = 100;
  policy.max_age = absl::ZeroDuration();
  Open(policy);
  AppendRows(99);
  EXPECT_EQ(Maintain().sealed, 0);
  AppendRows(151);  // 250 rows: two full segments, 50 rows open
  EXPECT_EQ(Maintain().sealed, 2);
  EXPECT_EQ(Maintain().sealed, 0);
  VerifyResult result = log_->Verify();
  ASSERT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.segments, 2);
  EXPECT_EQ(result.pruned_segments, 0);
  EXPECT_EQ(result.rows_checked, 250);
}

TEST_F(AuditSegmentsTest, SealsByAgeOfTheOpenSegmentsFirstRow) {
  SegmentPolicy policy;
  policy.max_rows = 0;
  policy.max_age = absl::Hours(1);
  Open(policy);
  AppendRows(5);
  Advance(absl::Minutes(59));
  AppendRows(5);
  EXPECT_EQ(Maintain().sealed, 0);
  Advance(absl::Minutes(1));  // the first row is now an hour old
  EXPECT_EQ(Maintain().sealed, 1);
  Advance(absl::Hours(5));
  EXPECT_EQ(Maintain().sealed, 0);  // nothing open: no empty segment
  AppendRows(1);
  VerifyResult result = log_->Verify();
  ASSERT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.segments, 1);
  EXPECT_EQ(result.rows_checked, 11);
}

TEST_F(AuditSegmentsTest,
       RetentionDeletesWholeOldSegmentsAndVerifyStillPasses) {
  PrunedLog();
  EXPECT_EQ(OldestSeq(), 201);
  VerifyResult result = log_->Verify();
  ASSERT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.segments, 3);
  EXPECT_EQ(result.pruned_segments, 2);
  EXPECT_EQ(result.rows_checked, 150);
  // A younger segment is not pruned, and neither is the newest sealed one.
  AppendRows(100);
  MaintenanceResult more = Maintain();
  EXPECT_EQ(more.sealed, 1);
  EXPECT_EQ(more.pruned, 1);  // segment 3, now that 4 is the newest
  Advance(absl::Minutes(59));
  EXPECT_EQ(Maintain().pruned, 0);  // segment 4 is 59 minutes old
  EXPECT_EQ(OldestSeq(), 301);
  result = log_->Verify();
  ASSERT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.pruned_segments, 3);
}

TEST_F(AuditSegmentsTest, NoRetentionNeverDeletes) {
  SegmentPolicy policy;
  policy.max_rows = 10;
  policy.max_age = absl::ZeroDuration();
  Open(policy);
  AppendRows(100);
  Advance(absl::Hours(24 * 3650));
  MaintenanceResult done = Maintain();
  EXPECT_EQ(done.sealed, 10);
  EXPECT_EQ(done.pruned, 0);
  EXPECT_EQ(OldestSeq(), 1);
}

TEST_F(AuditSegmentsTest, TriggersRefuseDeletingKeptRowsAndSegmentRecords) {
  PrunedLog();
  Tamper("DELETE FROM audit_log WHERE seq = 250", /*drop_triggers=*/false,
         /*expect_ok=*/false);
  EXPECT_NE(last_error_.find("DELETE refused"), std::string::npos);
  Tamper("DELETE FROM audit_segments WHERE id = 3", /*drop_triggers=*/false,
         /*expect_ok=*/false);
  EXPECT_NE(last_error_.find("DELETE refused"), std::string::npos);
  Tamper("UPDATE audit_segments SET pruned = 0 WHERE id = 1",
         /*drop_triggers=*/false, /*expect_ok=*/false);
  EXPECT_NE(last_error_.find("only marking"), std::string::npos);
  EXPECT_TRUE(log_->Verify().ok());
}

TEST_F(AuditSegmentsTest, VerifyFindsADeletedRowInAKeptSegment) {
  PrunedLog();
  Tamper("DELETE FROM audit_log WHERE seq = 250");
  VerifyResult result = log_->Verify();
  EXPECT_EQ(result.problem, Problem::kSeqGap) << result.detail;
  EXPECT_EQ(result.seq, 250);
}

TEST_F(AuditSegmentsTest, VerifyFindsTheFirstKeptRowDeleted) {
  PrunedLog();
  Tamper("DELETE FROM audit_log WHERE seq = 201");
  VerifyResult result = log_->Verify();
  EXPECT_EQ(result.problem, Problem::kSeqGap) << result.detail;
  EXPECT_EQ(result.seq, 201);
}

TEST_F(AuditSegmentsTest, VerifyFindsAChangedKeptRow) {
  PrunedLog();
  Tamper("UPDATE audit_log SET detail = 'GET /' WHERE seq = 220");
  VerifyResult result = log_->Verify();
  EXPECT_EQ(result.problem, Problem::kHashMismatch) << result.detail;
  EXPECT_EQ(result.seq, 220);
}

TEST_F(AuditSegmentsTest, VerifyFindsARemovedSegmentRecord) {
  PrunedLog();
  Tamper("DELETE FROM audit_segments WHERE id = 2");
  VerifyResult result = log_->Verify();
  EXPECT_EQ(result.problem, Problem::kSegmentMismatch) << result.detail;
  EXPECT_EQ(result.segment, 2);
}

TEST_F(AuditSegmentsTest, VerifyFindsAnEditedSegmentRecord) {
  PrunedLog();
  // Making the kept segment look old enough to prune breaks its hash.
  Tamper("UPDATE audit_segments SET sealed_at_unix_micros = 1 WHERE id = 3");
  VerifyResult result = log_->Verify();
  EXPECT_EQ(result.problem, Problem::kSegmentMismatch) << result.detail;
  EXPECT_EQ(result.segment, 3);
}

TEST_F(AuditSegmentsTest, VerifyFindsRowsDeletedBeforeTheirRetention) {
  PrunedLog();
  AppendRows(100);
  ASSERT_EQ(Maintain().sealed, 1);  // segment 4, sealed now
  // Marked pruned and deleted with the triggers' blessing, but too soon.
  Tamper(
      "UPDATE audit_segments SET pruned = 1 WHERE id = 4;"
      "DELETE FROM audit_log WHERE seq BETWEEN 301 AND 400;");
  VerifyResult result = log_->Verify();
  EXPECT_EQ(result.problem, Problem::kPrunedEarly) << result.detail;
  EXPECT_EQ(result.segment, 4);
  EXPECT_EQ(result.seq, 301);
}

TEST_F(AuditSegmentsTest, VerifyFindsPruningWithoutRetention) {
  SegmentPolicy policy;
  policy.max_rows = 100;
  policy.max_age = absl::ZeroDuration();
  Open(policy);  // retention off: keep everything
  AppendRows(250);
  ASSERT_EQ(Maintain().sealed, 2);
  Tamper(
      "UPDATE audit_segments SET pruned = 1 WHERE id = 1;"
      "DELETE FROM audit_log WHERE seq <= 100;",
      /*drop_triggers=*/false);  // the triggers allow it: the chain does not
  VerifyResult result = log_->Verify();
  EXPECT_EQ(result.problem, Problem::kPrunedEarly) << result.detail;
  EXPECT_EQ(result.segment, 1);
}

// Rewrites rows `from`..end with `detail` and freshly computed hashes, as
// someone who knows the chain format could: the rows chain perfectly.
void RewriteFrom(const std::string& path, int64_t from) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TRIGGER audit_log_no_update", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(
                db,
                "SELECT seq, time_unix_micros, kind, actor, printer, target, "
                "session_id, outcome, fields, prev_hash FROM audit_log "
                "WHERE seq >= ? ORDER BY seq",
                -1, &select, nullptr),
            SQLITE_OK);
  sqlite3_bind_int64(select, 1, from);
  struct Row {
    int64_t seq = 0, time = 0;
    std::string text[6], fields, prev;
  };
  std::vector<Row> rows;
  auto col = [select](int i) {
    return std::string(static_cast<const char*>(sqlite3_column_blob(select, i)),
                       sqlite3_column_bytes(select, i));
  };
  while (sqlite3_step(select) == SQLITE_ROW) {
    Row row;
    row.seq = sqlite3_column_int64(select, 0);
    row.time = sqlite3_column_int64(select, 1);
    for (int i = 0; i < 6; ++i) row.text[i] = col(2 + i);
    row.fields = col(8);
    row.prev = col(9);
    rows.push_back(row);
  }
  sqlite3_finalize(select);
  std::string prev = rows.front().prev;
  const std::string detail = "GET /nothing-to-see";
  for (const Row& row : rows) {
    RowContent content{row.seq,     row.time,    row.text[0], row.text[1],
                       row.text[2], row.text[3], row.text[4], row.text[5],
                       detail,      row.fields};
    std::string hash = ChainHash(prev, content);
    sqlite3_stmt* update = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "UPDATE audit_log SET detail = ?, "
                                 "prev_hash = ?, hash = ? WHERE seq = ?",
                                 -1, &update, nullptr),
              SQLITE_OK);
    sqlite3_bind_text(update, 1, detail.data(), detail.size(),
                      SQLITE_TRANSIENT);
    sqlite3_bind_blob(update, 2, prev.data(), prev.size(), SQLITE_TRANSIENT);
    sqlite3_bind_blob(update, 3, hash.data(), hash.size(), SQLITE_TRANSIENT);
    sqlite3_bind_int64(update, 4, row.seq);
    ASSERT_EQ(sqlite3_step(update), SQLITE_DONE);
    sqlite3_finalize(update);
    prev = hash;
  }
  sqlite3_close(db);
}

TEST_F(AuditSegmentsTest, SealedSegmentsCatchARewriteWithFreshHashes) {
  PrunedLog();
  log_.reset();
  // Rows 250-350 rewritten with a valid chain: without segments only a
  // saved head anchor would reveal it; segment 3's sealed record does.
  RewriteFrom(path_, 250);
  Open(policy_);
  VerifyResult result = log_->Verify();
  EXPECT_EQ(result.problem, Problem::kSegmentMismatch) << result.detail;
  EXPECT_EQ(result.segment, 3);
  EXPECT_EQ(result.seq, 300);
}

TEST_F(AuditSegmentsTest, StartVerifiesWhenTheStoredHeadWasPruned) {
  SegmentPolicy policy;
  policy.max_rows = 100;
  policy.max_age = absl::ZeroDuration();
  policy.retention = absl::Hours(1);
  Open(policy);
  AppendRows(100);
  std::string head = log_->HeadAnchor().value_or("");  // "100:HEX"
  AppendRows(250);
  ASSERT_EQ(Maintain().sealed, 3);
  Advance(absl::Hours(2));
  ASSERT_EQ(Maintain().rows_deleted, 200);
  // The stored head is row 100, as if the relay had stopped there.
  std::string hex = head.substr(head.find(':') + 1);
  Tamper(
      absl::StrCat("UPDATE audit_checkpoint SET head_seq = 100, "
                   "head_hash = x'",
                   hex, "'"));
  VerifyResult start = log_->VerifySinceHead();
  ASSERT_TRUE(start.ok()) << start.detail;
  EXPECT_EQ(start.rows_checked, 150);  // from the first kept row
  EXPECT_EQ(start.head, log_->HeadAnchor().value_or(""));
  start = log_->VerifySinceHead();  // the head moved to the end
  ASSERT_TRUE(start.ok()) << start.detail;
  EXPECT_EQ(start.rows_checked, 1);
}

}  // namespace
}  // namespace bowden::audit
