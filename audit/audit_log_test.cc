#include "audit/audit_log.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace bowden::audit {
namespace {

using bowden::v1::AuditEvent;
using bowden::v1::AuditQuery;
using Problem = VerifyResult::Problem;

constexpr int64_t kStart = 1700000000000000;  // 2023-11-14, in micros

std::string NewLogPath() {
  const char* base = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base ? base : "/tmp", "/audit.XXXXXX");
  EXPECT_NE(mkdtemp(dir.data()), nullptr);
  return dir + "/audit.db";
}

// A clock that advances one second per reading, so times are exact.
AuditLogOptions FakeClock() {
  auto next = std::make_shared<std::atomic<int64_t>>(kStart);
  AuditLogOptions options;
  options.clock = [next] {
    return absl::FromUnixMicros(next->fetch_add(1000000));
  };
  return options;
}

AuditEvent Event(const std::string& kind, const std::string& actor,
                 const std::string& printer) {
  AuditEvent event;
  event.set_kind(kind);
  event.set_actor(actor);
  event.set_printer(printer);
  event.set_outcome("ok");
  return event;
}

std::vector<int64_t> Seqs(const absl::StatusOr<std::vector<AuditEvent>>& got) {
  EXPECT_TRUE(got.ok()) << got.status();
  std::vector<int64_t> seqs;
  if (got.ok()) {
    for (const AuditEvent& event : *got) seqs.push_back(event.seq());
  }
  return seqs;
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = NewLogPath();
    auto log = AuditLog::Open(path_, FakeClock());
    ASSERT_TRUE(log.ok()) << log.status();
    log_ = std::move(*log);
  }

  // Appends the fixture's six events: seqs 1..6, one second apart.
  void AppendSix() {
    const std::vector<AuditEvent> events = {
        Event("auth", "alice", ""),
        Event("session.open", "alice", "prusa-01"),
        Event("http.request", "alice", "prusa-01"),
        Event("session.open", "bob", "voron-02"),
        Event("denial", "bob", "prusa-01"),
        Event("session.close", "alice", "prusa-01"),
    };
    for (size_t i = 0; i < events.size(); ++i) {
      absl::StatusOr<int64_t> seq = log_->Append(events[i]);
      ASSERT_TRUE(seq.ok()) << seq.status();
      EXPECT_EQ(*seq, static_cast<int64_t>(i) + 1);
    }
  }

  std::string path_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, AppendAssignsSeqAndTimeAndKeepsEveryField) {
  AuditEvent event = Event("http.request", "alice", "prusa-01");
  event.set_seq(99);  // ignored: the log assigns these
  event.set_time_unix_micros(5);
  event.set_target("octoprint");
  event.set_session_id("s-1");
  event.set_detail("POST /api/files/local");
  (*event.mutable_fields())["status"] = "201";
  (*event.mutable_fields())["method"] = "POST";
  (*event.mutable_fields())["nul"] = std::string("a\0b", 3);
  ASSERT_EQ(log_->Append(event).value_or(-1), 1);

  absl::StatusOr<std::vector<AuditEvent>> got = log_->Query(AuditQuery());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  event.set_seq(1);
  event.set_time_unix_micros(kStart);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals((*got)[0], event))
      << (*got)[0].DebugString();
}

TEST_F(AuditLogTest, QueryFilters) {
  AppendSix();
  auto query = [this](auto set) {
    AuditQuery q;
    set(q);
    return Seqs(log_->Query(q));
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(query([](AuditQuery&) {}), (V{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(query([](AuditQuery& q) { q.set_printer("prusa-01"); }),
            (V{2, 3, 5, 6}));
  EXPECT_EQ(query([](AuditQuery& q) { q.set_user("bob"); }), (V{4, 5}));
  EXPECT_EQ(query([](AuditQuery& q) { q.set_kind("session.open"); }),
            (V{2, 4}));
  EXPECT_EQ(query([](AuditQuery& q) {
              q.set_user("alice");
              q.set_printer("prusa-01");
              q.set_kind("session.close");
            }),
            (V{6}));
  // Event n has time kStart + (n-1) s.
  EXPECT_EQ(
      query([](AuditQuery& q) { q.set_since_unix_micros(kStart + 3000000); }),
      (V{4, 5, 6}));
  EXPECT_EQ(query([](AuditQuery& q) { q.set_after_seq(4); }), (V{5, 6}));
  EXPECT_EQ(query([](AuditQuery& q) { q.set_limit(2); }), (V{1, 2}));
  EXPECT_EQ(query([](AuditQuery& q) {
              q.set_after_seq(2);
              q.set_limit(2);
            }),
            (V{3, 4}));
  EXPECT_EQ(query([](AuditQuery& q) { q.set_printer("nope"); }), V{});
  // Newest first, paging back with before_seq.
  EXPECT_EQ(query([](AuditQuery& q) {
              q.set_newest_first(true);
              q.set_limit(2);
            }),
            (V{6, 5}));
  EXPECT_EQ(query([](AuditQuery& q) {
              q.set_newest_first(true);
              q.set_before_seq(5);
              q.set_limit(2);
            }),
            (V{4, 3}));
  EXPECT_EQ(query([](AuditQuery& q) { q.set_before_seq(3); }), (V{1, 2}));

  AuditQuery negative;
  negative.set_limit(-1);
  EXPECT_EQ(log_->Query(negative).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(AuditLogTest, QueryBySession) {
  AuditEvent a = Event("session.open", "bob", "prusa-01");
  a.set_session_id("s-1");
  AuditEvent b = Event("http.request", "bob", "prusa-01");
  b.set_session_id("s-2");
  ASSERT_TRUE(log_->AppendBatch({a, b, a}).ok());
  AuditQuery q;
  q.set_session_id("s-1");
  EXPECT_EQ(Seqs(log_->Query(q)), (std::vector<int64_t>{1, 3}));
}

TEST_F(AuditLogTest, EventWithoutKindIsRefused) {
  EXPECT_EQ(log_->Append(AuditEvent()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->HeadAnchor().value_or(""), "0:" + std::string(64, '0'));
}

TEST_F(AuditLogTest, ABatchCommitsInOrderAndChainsLikeSingleAppends) {
  ASSERT_EQ(log_->Append(Event("auth", "alice", "")).value_or(-1), 1);
  std::vector<AuditEvent> batch = {Event("http.request", "alice", "prusa-01"),
                                   Event("http.request", "bob", "prusa-01"),
                                   Event("denial", "bob", "prusa-01")};
  ASSERT_EQ(log_->AppendBatch(batch).value_or(-1), 4);
  ASSERT_EQ(log_->Append(Event("session.close", "alice", "prusa-01")).value_or(-1), 5);
  absl::StatusOr<std::vector<AuditEvent>> got = log_->Query(AuditQuery());
  EXPECT_EQ(Seqs(got), (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(got->at(2).actor(), "bob");
  EXPECT_EQ(got->at(3).kind(), "denial");
  // Each row still has its own clock reading.
  EXPECT_EQ(got->at(3).time_unix_micros() - got->at(1).time_unix_micros(), 2000000);
  VerifyResult result = log_->Verify();
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.rows_checked, 5);
}

TEST_F(AuditLogTest, ABatchWithABadEventWritesNothing) {
  std::vector<AuditEvent> batch = {Event("http.request", "alice", "prusa-01"), AuditEvent()};
  EXPECT_EQ(log_->AppendBatch(batch).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->AppendBatch({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Seqs(log_->Query(AuditQuery())).empty());
  EXPECT_EQ(log_->Append(Event("auth", "alice", "")).value_or(-1), 1);
}

TEST_F(AuditLogTest, InvalidUtf8IsEscapedNotRefused) {
  AuditEvent event = Event("http.request", "mallory", "prusa-01");
  event.set_detail("GET /\xff\xfe/x");
  ASSERT_EQ(log_->Append(event).value_or(-1), 1);
  EXPECT_EQ(Seqs(log_->Query(AuditQuery())), std::vector<int64_t>{1});
  EXPECT_EQ(log_->Query(AuditQuery())->at(0).detail(), "GET /\\xff\\xfe/x");
  EXPECT_TRUE(log_->Verify().ok());
}

TEST_F(AuditLogTest, VerifyOkOnAGoodLogAndAcrossReopen) {
  VerifyResult empty = log_->Verify();
  EXPECT_TRUE(empty.ok()) << empty.detail;
  EXPECT_EQ(empty.rows_checked, 0);

  AppendSix();
  absl::StatusOr<std::string> head = log_->HeadAnchor();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->substr(0, 2), "6:");
  VerifyResult result = log_->Verify();
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.rows_checked, 6);
  EXPECT_EQ(result.head, *head);
  EXPECT_TRUE(log_->Verify(*head).ok());

  log_.reset();
  auto reopened = AuditLog::Open(path_, FakeClock());
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  ASSERT_EQ((*reopened)->Append(Event("admin", "root", "")).value_or(-1), 7);
  result = (*reopened)->Verify(*head);  // the old head is still in the chain
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.rows_checked, 7);
}

TEST_F(AuditLogTest, TriggersRefuseUpdateDeleteAndOutOfSequenceInsert) {
  AppendSix();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  auto exec_error = [raw](const char* sql) -> std::string {
    char* error = nullptr;
    if (sqlite3_exec(raw, sql, nullptr, nullptr, &error) == SQLITE_OK) {
      return "succeeded";
    }
    std::string message = error ? error : "?";
    sqlite3_free(error);
    return message;
  };
  EXPECT_EQ(exec_error("UPDATE audit_log SET detail = 'x' WHERE seq = 3"),
            "audit_log is append-only: UPDATE refused");
  EXPECT_EQ(exec_error("DELETE FROM audit_log WHERE seq = 6"),
            "audit_log is append-only: DELETE refused");
  // REPLACE deletes the old row without firing the DELETE trigger here
  // (recursive_triggers is off on this connection); the INSERT trigger
  // catches it.
  EXPECT_EQ(exec_error("INSERT OR REPLACE INTO audit_log "
                       "SELECT * FROM audit_log WHERE seq = 2"),
            "audit_log is append-only: seq must follow the last row");
  EXPECT_EQ(
      exec_error("INSERT INTO audit_log (seq, time_unix_micros, kind, "
                 "actor, printer, target, session_id, outcome, detail, "
                 "fields, prev_hash, hash) "
                 "VALUES (9, 0, 'x', '', '', '', '', '', '', x'', x'', x'')"),
      "audit_log is append-only: seq must follow the last row");
  sqlite3_close(raw);
  VerifyResult result = log_->Verify();
  EXPECT_TRUE(result.ok()) << result.detail;
  EXPECT_EQ(result.rows_checked, 6);
}

TEST_F(AuditLogTest, OpenRefusesWhatIsNotAnAuditLog) {
  std::string path = NewLogPath();
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs(
      "this is not an SQLite database, just some text that is long enough "
      "to fill a header page........................................",
      f);
  fclose(f);
  EXPECT_EQ(AuditLog::Open(path).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(AuditLog::Open("/nonexistent/dir/audit.db").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(AuditLogTest, ConcurrentAppendsFormAGapFreeVerifiableChain) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 40;
  absl::Mutex mu;
  std::vector<int64_t> acknowledged;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        AuditEvent event = Event("http.request", absl::StrCat("user-", t), "p");
        event.set_detail(absl::StrCat(i));
        absl::StatusOr<int64_t> seq = log_->Append(event);
        ASSERT_TRUE(seq.ok()) << seq.status();
        absl::MutexLock lock(&mu);
        acknowledged.push_back(*seq);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::sort(acknowledged.begin(), acknowledged.end());
  std::vector<int64_t> expected(kThreads * kPerThread);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  EXPECT_EQ(acknowledged, expected);
  VerifyResult result = log_->Verify();
  EXPECT_TRUE(result.ok()) << ProblemName(result.problem) << ": "
                           << result.detail;
  EXPECT_EQ(result.rows_checked, kThreads * kPerThread);
  AuditQuery one_user;
  one_user.set_user("user-3");
  EXPECT_EQ(Seqs(log_->Query(one_user)).size(),
            static_cast<size_t>(kPerThread));
}

TEST_F(AuditLogTest, VerifyWhileAppendingSeesAConsistentSnapshot) {
  AppendSix();
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) {
      ASSERT_TRUE(log_->Append(Event("http.request", "alice", "p")).ok());
    }
  });
  for (int i = 0; i < 20; ++i) {
    VerifyResult result = log_->Verify();
    EXPECT_TRUE(result.ok()) << result.detail;
    EXPECT_GE(result.rows_checked, 6);
  }
  stop.store(true);
  writer.join();
}

}  // namespace
}  // namespace bowden::audit
