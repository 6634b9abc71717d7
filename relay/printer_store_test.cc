#include "relay/printer_store.h"

#include <cstdlib>
#include <string>

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
  EXPECT_TRUE(*(*store)->Contains("mk4-02"));
  EXPECT_FALSE(*(*store)->Contains("nope"));
}

TEST(PrinterStoreTest, UnusableDirectoryIsAClearError) {
  auto store = PrinterStore::Open("/proc/bowden-cannot-exist");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/proc/bowden-cannot-exist"),
            std::string::npos);
}

}  // namespace
}  // namespace bowden::relay
