#include "relay/printer_store.h"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

std::string TempDir(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

TEST(PrinterStoreTest, RemembersPrintersAcrossReopen) {
  std::string dir = TempDir("state");
  {
    auto store = PrinterStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->RecordSeen("prusa-01", {"octoprint", "webcam"}).ok());
    ASSERT_TRUE((*store)->RecordSeen("mk4-02", {"octoprint"}).ok());
    ASSERT_TRUE((*store)->RecordSeen("prusa-01", {"octoprint"}).ok());
  }
  auto store = PrinterStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  auto printers = (*store)->List();
  ASSERT_TRUE(printers.ok()) << printers.status();
  ASSERT_EQ(printers->size(), 2u);
  EXPECT_EQ((*printers)[0].id, "mk4-02");
  EXPECT_EQ((*printers)[1].id, "prusa-01");
  EXPECT_EQ((*printers)[1].targets, std::vector<std::string>{"octoprint"});
  EXPECT_GT((*printers)[1].last_seen_unix, 0);
  EXPECT_TRUE((*store)->Contains("mk4-02"));
  EXPECT_FALSE((*store)->Contains("nope"));
}

// Dial asks Contains on the relay's one callback thread: it must answer
// while a RecordSeen waits for another program's write lock (up to 5 s).
TEST(PrinterStoreTest, ContainsAnswersWhileARecordWaitsForTheLock) {
  std::string dir = TempDir("locked");
  auto store = PrinterStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->RecordSeen("prusa-01", {"octoprint"}).ok());

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir + "/state.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::atomic<bool> written{false};
  absl::Status recorded;
  std::thread writer([&] {
    recorded = (*store)->RecordSeen("mk4-02", {"octoprint"});
    written = true;
  });
  // Known as soon as it is recorded, before its row is written.
  while (!(*store)->Contains("mk4-02")) absl::SleepFor(absl::Milliseconds(1));
  // Let the writer reach SQLite's wait for the lock.
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_TRUE((*store)->Contains("prusa-01"));
  EXPECT_FALSE((*store)->Contains("nope"));
  EXPECT_FALSE(written) << "Contains waited for the write";

  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr),
            SQLITE_OK);
  writer.join();
  sqlite3_close(other);
  EXPECT_TRUE(recorded.ok()) << recorded;
  auto printers = (*store)->List();
  ASSERT_TRUE(printers.ok()) << printers.status();
  EXPECT_EQ(printers->size(), 2u);
}

TEST(PrinterStoreTest, UnusableDirectoryIsAClearError) {
  auto store = PrinterStore::Open("/proc/bowden-cannot-exist");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/proc/bowden-cannot-exist"),
            std::string::npos);
}

}  // namespace
}  // namespace bowden::relay
