// The relay runs every gRPC reaction on one callback thread
// (relay/callback_threads.h), so its handlers that wait on the disk run on
// its offload thread (relay/offload_thread.h). Here another SQLite connection
// holds the write lock on the relay's identities.db: `bowden revoke` waits
// for it (the store waits up to 5 s for a lock, and says so in the log), and
// meanwhile a live session still answers HTTP. Once the lock goes, the
// revocation completes. With the store's write on the callback thread, the
// session's request could only be answered once the revocation had given up.

#include <sqlite3.h>

#include <fstream>

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

TEST(RelayOffloadTest,
     ASessionCarriesRequestsWhileAnAdminWriteWaitsForTheDatabaseLock) {
  TcpTarget http(AnswerOk);
  TempDir policy_dir;
  std::ofstream(policy_dir.File("policy.textproto"))
      << "admins: \"alice\"\n"
      << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n";
  Farm::Options options;
  options.relay_extra_flags = {"--policy", policy_dir.File("policy.textproto")};
  options.targets = {
      absl::StrCat("octoprint=127.0.0.1:", http.port(), ",guard=none")};
  Farm farm(options);
  ASSERT_TRUE(farm.WaitAttached());
  // From now on one callback thread runs every reaction.
  ASSERT_TRUE(farm.relay().WaitForOutput("one of gRPC's callback threads parks",
                                         1, absl::Seconds(30)))
      << farm.relay().Stderr();
  int port = farm.Open("alice", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);
  ASSERT_EQ(CurlStatus(port), "200");

  WriteLock lock(farm.dir().File("state/identities.db"));
  std::vector<std::string> argv = farm.CliAs("alice");
  argv.insert(argv.end(),
              {"revoke", "user", "carol", "--reason", "left the farm"});
  Process revoke(argv, "revoke");
  ASSERT_TRUE(farm.relay().WaitForOutput(
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
  std::vector<std::string> list = farm.CliAs("alice");
  list.insert(list.end(), {"admin", "ls"});
  EXPECT_EQ(RunToCompletion(list, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "carol")) << out;
}

}  // namespace
}  // namespace bowden::testing
