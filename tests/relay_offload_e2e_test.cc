// The relay runs every gRPC reaction on one callback thread
// (relay/callback_threads.h), so its handlers that wait on the disk run on
// its offload thread (relay/offload_thread.h). Here another SQLite connection
// holds the write lock on the relay's identities.db: `bowden revoke` waits
// for it (the store waits up to 5 s for a lock, and says so in the log), and
// meanwhile a live session still answers HTTP. Once the lock goes, the
// revocation completes. With the store's write on the callback thread, the
// session's request could only be answered once the revocation had given up.
//
// The audit's long jobs (queries, verification) have an offload thread of
// their own: while another connection holds audit.db's write lock, an audit
// query waits (its flush cannot commit the queued events; the writer waits
// for the lock rather than drop them) and `bowden ls` and revocations still
// answer; once the lock goes, the query answers with the events recorded
// meanwhile.

#include <sqlite3.h>

#include <csignal>
#include <fstream>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

// Answers one HTTP request with 200 and closes.
void AnswerOk(tunnel::UniqueFd socket) {
  std::string request;
  char buffer[4096];
  while (!absl::StrContains(request, "\r\n\r\n")) {
    ssize_t n = read(socket.get(), buffer, sizeof(buffer));
    if (n <= 0) return;
    request.append(buffer, n);
  }
  WriteAll(
      socket.get(),
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}

// curl through `bowden open` on `port`; returns the HTTP status it printed.
std::string CurlStatus(int port) {
  std::string out;
  RunToCompletion(
      {"/usr/bin/curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
       "--max-time", "30", absl::StrCat("http://127.0.0.1:", port, "/")},
      &out, absl::Seconds(40));
  return out;
}

// Another program's connection to a SQLite file, holding its write lock.
class WriteLock {
 public:
  explicit WriteLock(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK) << path;
    // The relay may be in the middle of a short transaction of its own (an
    // audit batch, a checkpoint): wait for it, as any other program would.
    sqlite3_busy_timeout(db_, 30000);
    EXPECT_EQ(sqlite3_exec(db_, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db_);
  }
  ~WriteLock() { sqlite3_close(db_); }  // rolls back if still open
  void Release() {
    EXPECT_EQ(sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr),
              SQLITE_OK)
        << sqlite3_errmsg(db_);
  }

 private:
  sqlite3* db_ = nullptr;
};

// A farm whose relay runs every reaction on one callback thread, with a
// session of alice's to prusa-01 that answers HTTP.
class RelayOffloadTest : public ::testing::Test {
 protected:
  explicit RelayOffloadTest(std::vector<std::string> relay_flags = {})
      : http_(AnswerOk) {
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n";
    options_.relay_extra_flags = {"--policy",
                                  policy_dir_.File("policy.textproto")};
    options_.relay_extra_flags.insert(options_.relay_extra_flags.end(),
                                      relay_flags.begin(), relay_flags.end());
    options_.targets = {
        absl::StrCat("octoprint=127.0.0.1:", http_.port(), ",guard=none")};
    farm_ = std::make_unique<Farm>(options_);
  }

  // Returns the session's local port, or 0.
  int StartSession() {
    if (!farm_->WaitAttached()) return 0;
    // From now on one callback thread runs every reaction.
    EXPECT_TRUE(farm_->relay().WaitForOutput(
        "one of gRPC's callback threads parks", 1, absl::Seconds(30)))
        << farm_->relay().Stderr();
    int port = farm_->Open("alice", "prusa-01", "octoprint");
    if (port != 0) {
      EXPECT_EQ(CurlStatus(port), "200");
    }
    return port;
  }

  std::string StateFile(const std::string& name) {
    return farm_->dir().File("state/" + name);
  }

  TempDir policy_dir_;
  TcpTarget http_;
  Farm::Options options_;
  std::unique_ptr<Farm> farm_;
};

TEST_F(RelayOffloadTest,
       ASessionCarriesRequestsWhileAnAdminWriteWaitsForTheDatabaseLock) {
  int port = StartSession();
  ASSERT_NE(port, 0);

  WriteLock lock(StateFile("identities.db"));
  std::vector<std::string> argv = farm_->CliAs("alice");
  argv.insert(argv.end(),
              {"revoke", "user", "carol", "--reason", "left the farm"});
  Process revoke(argv, "revoke");
  ASSERT_TRUE(farm_->relay().WaitForOutput(
      "identities.db is locked by another connection", 1, absl::Seconds(20)))
      << "the relay never waited for the lock:\n"
      << revoke.Stdout() << revoke.Stderr();

  // The revocation waits for the lock; the session does not wait for it.
  EXPECT_EQ(CurlStatus(port), "200");
  EXPECT_TRUE(revoke.running())
      << "the revocation ended while the lock was still held:\n"
      << revoke.Stdout() << revoke.Stderr();

  lock.Release();
  EXPECT_EQ(revoke.Wait(), 0) << revoke.Stdout() << revoke.Stderr();
  EXPECT_TRUE(absl::StrContains(revoke.Stdout(), "Revoked user carol"))
      << revoke.Stdout();
  std::string out;
  std::vector<std::string> list = farm_->CliAs("alice");
  list.insert(list.end(), {"admin", "ls"});
  EXPECT_EQ(RunToCompletion(list, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "carol")) << out;
}

// state.db's printer row is written when an agent attaches; the store waits
// up to 5 s for the lock (logging that it waits), then logs the failure
// ("another program kept state.db locked"). Meanwhile sessions go on, and so
// does a dial to a printer that is not attached (unknown or offline?).
TEST_F(RelayOffloadTest,
       AnAgentAttachesAndSessionsAndDialsGoOnWhileItsPrinterRowWaitsForTheLock) {
  int port = StartSession();
  ASSERT_NE(port, 0);
  farm_->pki().Issue("agent", "mk4-02");
  identity::TlsFiles tls = farm_->pki().Files("mk4-02");

  WriteLock lock(StateFile("state.db"));
  Process agent({BinaryPath("agent/bowden-agent"), "--relay",
                 farm_->relay_address(), "--cert", tls.cert, "--key", tls.key,
                 "--ca", tls.ca, "--target", options_.targets[0]},
                farm_->dir().File("agent-mk4-02"));
  ASSERT_TRUE(agent.WaitForOutput("attached as printer")) << agent.Stderr();
  EXPECT_EQ(CurlStatus(port), "200");
  // Registered before its row was written: the write is still waiting.
  EXPECT_FALSE(absl::StrContains(farm_->relay().Stderr(),
                                 "another program kept state.db locked"))
      << farm_->relay().Stderr();
  // A dial to a printer that is not attached asks whether the relay knows
  // it, on the callback thread: the answer comes from memory, not from
  // behind the waiting write (which would hold every session up until the
  // write gave up, 5 s later, and log its failure first).
  grpc::Status dialed = DialOnce(farm_->relay_address(),
                                 farm_->pki().Files("alice"), "nope-01",
                                 "octoprint", "", nullptr);
  EXPECT_EQ(dialed.error_code(), grpc::StatusCode::NOT_FOUND)
      << dialed.error_message();
  EXPECT_TRUE(absl::StrContains(dialed.error_message(),
                                "'nope-01' is unknown to this relay"))
      << dialed.error_message();
  EXPECT_EQ(CurlStatus(port), "200");
  EXPECT_FALSE(absl::StrContains(farm_->relay().Stderr(),
                                 "another program kept state.db locked"))
      << "the dial waited for the printer row's write:\n"
      << farm_->relay().Stderr();

  lock.Release();
  EXPECT_TRUE(WaitFor([&] {
    sqlite3* db = nullptr;
    sqlite3_open(StateFile("state.db").c_str(), &db);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "SELECT 1 FROM printers WHERE id = 'mk4-02'", -1,
                       &stmt, nullptr);
    bool found = stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return found;
  })) << "mk4-02's row never reached state.db:\n"
      << farm_->relay().Stderr();
  EXPECT_FALSE(absl::StrContains(farm_->relay().Stderr(),
                                 "another program kept state.db locked"))
      << farm_->relay().Stderr();
}

// With audit.db's write lock held by another connection.
class AuditLockTest : public RelayOffloadTest {
 protected:
  std::vector<std::string> Cli(std::vector<std::string> args) {
    std::vector<std::string> argv = farm_->CliAs("alice");
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  // Queues an event the writer cannot commit (the revocation's), then starts
  // an audit query, which flushes the queue first, and returns once the
  // relay says the query waits for the writer.
  std::unique_ptr<Process> StartQueryBehindTheLock() {
    std::string out;
    EXPECT_EQ(RunToCompletion(Cli({"revoke", "user", "carol"}), &out), 0)
        << out;
    EXPECT_TRUE(farm_->relay().WaitForOutput(
        "audit.db is locked by another connection", 1, absl::Seconds(30)))
        << farm_->relay().Stderr();
    auto query = std::make_unique<Process>(Cli({"audit", "--limit", "1000"}),
                                           farm_->dir().File("audit-query"));
    EXPECT_TRUE(farm_->relay().WaitForOutput(
        "an audit query waits for the audit writer", 1, absl::Seconds(30)))
        << farm_->relay().Stderr() << query->Stdout() << query->Stderr();
    return query;
  }
};

TEST_F(AuditLockTest, LsAndRevocationsAnswerWhileAnAuditQueryWaitsForTheLock) {
  ASSERT_TRUE(farm_->WaitAttached());
  WriteLock lock(StateFile("audit.db"));
  std::unique_ptr<Process> query = StartQueryBehindTheLock();
  ASSERT_FALSE(HasFailure());

  // Quick store jobs do not queue behind it.
  std::string out;
  EXPECT_EQ(RunToCompletion(Cli({"ls"}), &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "prusa-01")) << out;
  EXPECT_EQ(RunToCompletion(Cli({"revoke", "user", "dave"}), &out), 0) << out;
  EXPECT_TRUE(query->running())
      << "the audit query ended while audit.db was still locked:\n"
      << query->Stdout() << query->Stderr();

  lock.Release();
  EXPECT_EQ(query->Wait(), 0) << query->Stdout() << query->Stderr();
  EXPECT_TRUE(absl::StrContains(query->Stdout(), "subject=carol"))
      << query->Stdout();
  // Nothing recorded while the lock was held was dropped.
  ASSERT_EQ(RunToCompletion(Cli({"audit", "--limit", "1000"}), &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "subject=dave")) << out;
  EXPECT_FALSE(
      absl::StrContains(farm_->relay().Stderr(), "audit log append failed"))
      << farm_->relay().Stderr();
}

// Stopping gives up on the lock: the relay must not hang on another
// program's transaction, and says how many events that loses.
TEST_F(AuditLockTest, TheRelayStopsWhileAnAuditQueryWaitsForTheLock) {
  ASSERT_TRUE(farm_->WaitAttached());
  WriteLock lock(StateFile("audit.db"));
  std::unique_ptr<Process> query = StartQueryBehindTheLock();
  ASSERT_FALSE(HasFailure());

  farm_->relay().Signal(SIGTERM);
  EXPECT_EQ(farm_->relay().Wait(absl::Seconds(60)), 0)
      << "the relay did not stop while audit.db was locked:\n"
      << farm_->relay().Stderr();
  EXPECT_TRUE(
      absl::StrContains(farm_->relay().Stderr(), "1 audit event(s) are lost"))
      << farm_->relay().Stderr();
  query->Wait();
}

// With audit.db locked by another program, the audit events of new sessions
// would only pile up in memory (and, at the queue's bound, stop the relay's
// one callback thread): past --audit-backlog-limit the relay refuses new
// sessions with a sentence saying why, serves the open ones, and opens new
// ones again once the events are written.
class AuditBacklogTest : public RelayOffloadTest {
 protected:
  AuditBacklogTest() : RelayOffloadTest({"--audit-backlog-limit", "20"}) {}

  grpc::Status Dial() {
    return DialOnce(farm_->relay_address(), farm_->pki().Files("alice"),
                    "prusa-01", "octoprint", "GET / HTTP/1.0\r\n\r\n");
  }
};

TEST_F(AuditBacklogTest, NewSessionsWaitForALockedAuditLogAndOpenOnesGoOn) {
  const int port = StartSession();
  ASSERT_NE(port, 0);
  const int opened_before =
      CountOccurrences(farm_->relay().Stderr(), " opening: ");
  tunnel::UniqueFd open_session = ConnectTo(port);  // dialled before the lock
  ASSERT_TRUE(open_session.valid());
  ASSERT_TRUE(farm_->relay().WaitForOutput(" opening: ", opened_before + 1,
                                           absl::Seconds(30)))
      << farm_->relay().Stderr();

  WriteLock lock(StateFile("audit.db"));
  grpc::Status refused;
  int admitted = 0;
  for (int i = 0; i < 100 && refused.ok(); ++i) {
    grpc::Status status = Dial();
    if (status.ok()) {
      ++admitted;
    } else {
      refused = status;
    }
  }
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAVAILABLE)
      << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(),
                                "the relay cannot write its audit log now"))
      << refused.error_message();
  EXPECT_LE(admitted, 20) << "each session queues at least two events";

  // The session opened before goes on.
  ASSERT_TRUE(WriteAll(open_session.get(), "GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(absl::StrContains(ReadAll(open_session.get()), "\r\n\r\nok"));

  lock.Release();
  grpc::Status again = Dial();
  for (int i = 0; i < 60 && !again.ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(500));
    again = Dial();
  }
  EXPECT_TRUE(again.ok()) << again.error_message();
  std::string out;
  std::vector<std::string> argv = farm_->CliAs("alice");
  argv.insert(argv.end(), {"audit", "--limit", "1000"});
  ASSERT_EQ(RunToCompletion(argv, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "cannot write its audit log now")) << out;
  EXPECT_FALSE(
      absl::StrContains(farm_->relay().Stderr(), "audit log append failed"))
      << farm_->relay().Stderr();
}

}  // namespace
}  // namespace bowden::testing
