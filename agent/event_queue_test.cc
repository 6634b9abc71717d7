#include "agent/event_queue.h"

#include <cstdlib>

#include "gtest/gtest.h"

namespace bowden::agent {
namespace {

bowden::v1::AuditEvent Event(const std::string& path) {
  bowden::v1::AuditEvent event;
  event.set_kind("http.request");
  (*event.mutable_fields())["path"] = path;
  return event;
}

void ExerciseQueue(EventQueue& queue) {
  for (int i = 0; i < 5; ++i) queue.Push(Event("/e" + std::to_string(i)));
  int64_t last = 0;
  auto batch = queue.Peek(3, &last);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].fields().at("path"), "/e0");
  EXPECT_EQ(batch[2].fields().at("path"), "/e2");
  queue.Ack(last);
  EXPECT_EQ(queue.size(), 2u);
  batch = queue.Peek(10, &last);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].fields().at("path"), "/e3");
}

TEST(EventQueueTest, MemoryQueueKeepsOrderUntilAcknowledged) {
  auto queue = EventQueue::Open("");
  ASSERT_TRUE(queue.ok());
  EXPECT_FALSE((*queue)->persistent());
  ExerciseQueue(**queue);
}

TEST(EventQueueTest, DiskQueueSurvivesAReopen) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/agent-state";
  {
    auto queue = EventQueue::Open(dir);
    ASSERT_TRUE(queue.ok()) << queue.status();
    EXPECT_TRUE((*queue)->persistent());
    ExerciseQueue(**queue);
  }
  auto queue = EventQueue::Open(dir);
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ((*queue)->size(), 2u);
  (*queue)->Push(Event("/after"));
  int64_t last = 0;
  auto batch = (*queue)->Peek(10, &last);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[2].fields().at("path"), "/after");
}

// A queue bounded at 3 that was given 5 events.
void ExpectOldestDroppedWithTheGapReported(EventQueue& queue) {
  for (int i = 0; i < 5; ++i) queue.Push(Event("/e" + std::to_string(i)));
  EXPECT_EQ(queue.size(), 3u);
  int64_t last = 0;
  auto batch = queue.Peek(10, &last);
  ASSERT_EQ(batch.size(), 3u);
  EXPECT_EQ(batch[0].fields().at("path"), "/e2");
  // Each event that had to make room says how many older ones it pushed out.
  EXPECT_FALSE(batch[0].fields().contains("dropped_before"));
  EXPECT_EQ(batch[1].fields().at("dropped_before"), "1");
  EXPECT_EQ(batch[2].fields().at("dropped_before"), "1");
}

TEST(EventQueueTest, BoundedWithTheGapReported) {
  auto queue = EventQueue::Open("", 3);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ExpectOldestDroppedWithTheGapReported(**queue);
}

TEST(EventQueueTest, OnlyCommittedEventsAreOnDisk) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/agent-commit";
  auto queue = EventQueue::Open(dir);
  ASSERT_TRUE(queue.ok()) << queue.status();
  (*queue)->Push(Event("/a"));
  (*queue)->Push(Event("/b"));
  (*queue)->Commit();
  (*queue)->Push(Event("/c"));
  EXPECT_EQ((*queue)->size(), 3u);
  // A second reader of the same file, as after a crash of this process.
  auto reader = EventQueue::Open(dir);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->size(), 2u);
  int64_t last = 0;
  auto batch = (*reader)->Peek(10, &last);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[1].fields().at("path"), "/b");
}

TEST(EventQueueTest, DiskQueueIsBoundedWithTheGapReported) {
  std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/agent-bounded";
  auto queue = EventQueue::Open(dir, 3);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ExpectOldestDroppedWithTheGapReported(**queue);
}

}  // namespace
}  // namespace bowden::agent
