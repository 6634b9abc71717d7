// kill -9 durability: a child process appends as fast as it can and prints
// each seq that Append() acknowledged; the test SIGKILLs it mid-stream and
// checks that the chain verifies and no acknowledged event is missing.

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "audit/audit_log.h"
#include "gtest/gtest.h"

extern char** environ;

namespace bowden::audit {
namespace {

std::string WriterPath() {
  const char* srcdir = getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir ? srcdir : ".",
                      "/bowden/audit/audit_writer_for_test");
}

// The writer, with its stdout on a pipe that this test reads.
class Writer {
 public:
  explicit Writer(const std::string& db) {
    int fds[2];
    if (pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    std::string path = WriterPath();
    std::vector<char*> argv = {path.data(), const_cast<char*>(db.c_str()),
                               nullptr};
    if (posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(),
                    environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    read_fd_ = fds[0];
  }
  ~Writer() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (read_fd_ >= 0) close(read_fd_);
  }

  bool started() const { return pid_ > 0 && read_fd_ >= 0; }

  // Reads until `count` whole lines arrived, EOF, or the deadline.
  bool ReadLines(size_t count, absl::Time deadline) {
    while (lines_.size() < count) {
      int timeout_ms =
          static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (timeout_ms <= 0) return false;
      pollfd p = {read_fd_, POLLIN, 0};
      int ready = poll(&p, 1, timeout_ms);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return false;
      char buffer[4096];
      ssize_t n = read(read_fd_, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // EOF: the writer is gone
      partial_.append(buffer, n);
      size_t newline;
      while ((newline = partial_.find('\n')) != std::string::npos) {
        lines_.push_back(partial_.substr(0, newline));
        partial_.erase(0, newline + 1);
      }
    }
    return true;
  }

  // SIGKILLs the writer, then collects what it printed before dying.
  void Kill() {
    ASSERT_EQ(kill(pid_, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(pid_, &status, 0), pid_);
    pid_ = -1;
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    ReadLines(SIZE_MAX, absl::Now() + absl::Seconds(10));  // to EOF
    // One write() per line, so a kill cannot leave half a line.
    EXPECT_EQ(partial_, "");
  }

  std::vector<int64_t> Acknowledged() const {
    std::vector<int64_t> seqs;
    for (const std::string& line : lines_) {
      int64_t seq = 0;
      EXPECT_TRUE(absl::SimpleAtoi(line, &seq)) << line;
      seqs.push_back(seq);
    }
    return seqs;
  }

 private:
  pid_t pid_ = -1;
  int read_fd_ = -1;
  std::string partial_;
  std::vector<std::string> lines_;
};

TEST(AuditCrashTest, AcknowledgedEventsSurviveKill9) {
  const char* base = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(base ? base : "/tmp", "/crash.XXXXXX");
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string db = dir + "/audit.db";

  int64_t rows_before = 0;
  // Several rounds: each crash must leave a log the next writer extends.
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    std::vector<int64_t> acknowledged;
    {
      Writer writer(db);
      ASSERT_TRUE(writer.started()) << WriterPath();
      // Kill at a different point each round, while it is appending.
      ASSERT_TRUE(
          writer.ReadLines(150 + 70 * round, absl::Now() + absl::Seconds(60)));
      writer.Kill();
      acknowledged = writer.Acknowledged();
    }
    ASSERT_FALSE(acknowledged.empty());
    // The writer continued exactly where the previous one was cut off.
    EXPECT_EQ(acknowledged.front(), rows_before + 1);
    for (size_t i = 1; i < acknowledged.size(); ++i) {
      ASSERT_EQ(acknowledged[i], acknowledged[i - 1] + 1);
    }

    auto log = AuditLog::Open(db);
    ASSERT_TRUE(log.ok()) << log.status();
    VerifyResult result = (*log)->Verify();
    ASSERT_TRUE(result.ok()) << ProblemName(result.problem) << " at "
                             << result.seq << ": " << result.detail;
    // Every acknowledged seq is there; at most the one append in flight at
    // the kill committed without being acknowledged.
    int64_t last_acked = acknowledged.back();
    EXPECT_GE(result.rows_checked, last_acked);
    EXPECT_LE(result.rows_checked, last_acked + 1);
    std::set<int64_t> stored;
    bowden::v1::AuditQuery query;
    query.set_limit(10000);
    absl::StatusOr<std::vector<bowden::v1::AuditEvent>> events =
        (*log)->Query(query);
    ASSERT_TRUE(events.ok()) << events.status();
    for (const auto& event : *events) stored.insert(event.seq());
    for (int64_t seq : acknowledged) {
      ASSERT_TRUE(stored.count(seq))
          << "acknowledged seq " << seq << " is missing";
    }
    rows_before = result.rows_checked;
  }
}

}  // namespace
}  // namespace bowden::audit
