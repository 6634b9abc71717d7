#include "agent/event_queue.h"

#include <cstdlib>
#include <string>
#include <vector>

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

bowden::v1::AuditEvent Denial(
    const std::string& session, const std::string& rule,
    const std::string& path = "/api/printer/command") {
  bowden::v1::AuditEvent event = Event(path);
  event.set_actor("mallory");
  event.set_session_id(session);
  event.set_outcome("denied");
  (*event.mutable_fields())["rule"] = rule;
  return event;
}

std::string TempPath(const std::string& name) {
  return std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
}

// Everything the queue holds, acknowledged as it is read.
std::vector<bowden::v1::AuditEvent> Drain(EventQueue& queue) {
  std::vector<bowden::v1::AuditEvent> all;
  while (true) {
    int64_t last = 0;
    std::vector<bowden::v1::AuditEvent> batch = queue.Peek(500, &last);
    if (batch.empty()) return all;
    for (auto& event : batch) all.push_back(std::move(event));
    queue.Ack(last);
  }
}

uint64_t Count(const bowden::v1::AuditEvent& event) {
  return event.kind() == "http.denials"
             ? std::stoull(event.fields().at("count"))
             : 1;
}

// A viewer pipelines 120,000 denied requests (one event-loop turn per 500)
// while the relay is away, with a handful of allowed requests among them.
// The queue is bounded at 1,000: every allowed event survives, in order,
// every denial is either queued or counted in a summary, and the SQL run per
// event does not grow with the flood.
void ExpectFloodOfDenialsKeepsAllowedEvents(EventQueue& queue) {
  constexpr int kDenials = 120000;
  constexpr int kTurn = 500;
  int allowed = 0;
  for (int i = 0; i < kDenials; ++i) {
    queue.Push(
        Denial("s" + std::to_string(i % 3), "octoprint.printer.command"));
    if (i % 20000 == 7)
      queue.Push(Event("/allowed" + std::to_string(allowed++)));
    if (i % kTurn == kTurn - 1) queue.Commit();
  }
  queue.Commit();
  ASSERT_EQ(allowed, 6);
  // The queue's accounting: bounded by the denials' bound plus the allowed
  // events, whatever the flood's size.
  EXPECT_LE(queue.size(), 1000u + allowed);
  EXPECT_GT(queue.denials_counted(), 100000u);
  const uint64_t turns = kDenials / kTurn + 1;
  if (queue.persistent()) {
    // One BEGIN, one prepared INSERT, one step per queued row and one COMMIT
    // per turn: bounded by the rows kept, not the 120,000 pushed (the old
    // queue ran a DELETE and a COUNT(*) for each denial past the bound).
    EXPECT_LE(queue.statements(), 3 * turns + queue.size() + 2)
        << queue.statements();
  } else {
    EXPECT_EQ(queue.statements(), 0u);
  }

  std::vector<bowden::v1::AuditEvent> all = Drain(queue);
  std::vector<std::string> allowed_paths;
  uint64_t denials = 0;
  int summaries = 0;
  for (const auto& event : all) {
    if (event.outcome() != "denied") {
      allowed_paths.push_back(event.fields().at("path"));
      continue;
    }
    denials += Count(event);
    if (event.kind() == "http.denials") {
      ++summaries;
      EXPECT_EQ(event.actor(), "mallory");
      EXPECT_EQ(event.fields().at("rule"), "octoprint.printer.command");
      EXPECT_LE(std::stoll(event.fields().at("first_unix_micros")),
                std::stoll(event.fields().at("last_unix_micros")));
      EXPECT_NE(event.detail().find(
                    "denial(s) of rule octoprint.printer.command by user "
                    "mallory"),
                std::string::npos)
          << event.detail();
    }
  }
  EXPECT_EQ(allowed_paths,
            (std::vector<std::string>{"/allowed0", "/allowed1", "/allowed2",
                                      "/allowed3", "/allowed4", "/allowed5"}));
  EXPECT_EQ(denials, static_cast<uint64_t>(kDenials));
  EXPECT_GT(summaries, 0);
  // Far fewer rows than denials reach the relay.
  EXPECT_LT(all.size(), 2000u);
  EXPECT_EQ(queue.denials_counted(), 0u);
}

TEST(EventQueueTest, MemoryQueueKeepsAllowedEventsThroughAFloodOfDenials) {
  auto queue = EventQueue::Open("", 1000);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ExpectFloodOfDenialsKeepsAllowedEvents(**queue);
}

TEST(EventQueueTest, DiskQueueKeepsAllowedEventsThroughAFloodOfDenials) {
  auto queue = EventQueue::Open(TempPath("agent-flood"), 1000);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ExpectFloodOfDenialsKeepsAllowedEvents(**queue);
}

// Allowed events are never dropped, even past the bound.
void ExpectAllowedEventsPastTheBoundAreKept(EventQueue& queue) {
  for (int i = 0; i < 5; ++i) queue.Push(Event("/e" + std::to_string(i)));
  queue.Push(Denial("s1", "r"));
  queue.Commit();
  EXPECT_EQ(queue.size(), 5u);
  EXPECT_EQ(queue.denials_counted(), 1u);
  std::vector<bowden::v1::AuditEvent> all = Drain(queue);
  ASSERT_EQ(all.size(), 6u);
  EXPECT_EQ(all[4].fields().at("path"), "/e4");
  // The denial that found the queue full comes back as a summary once the
  // relay has acknowledged the batch before it.
  EXPECT_EQ(all[5].kind(), "http.denials");
  EXPECT_EQ(all[5].session_id(), "s1");
  EXPECT_EQ(all[5].fields().at("count"), "1");
  EXPECT_EQ(all[5].fields().at("why"), "queue_full");
  EXPECT_EQ(all[5].fields().at("first_path"), "/api/printer/command");
}

TEST(EventQueueTest, MemoryQueueKeepsAllowedEventsPastTheBound) {
  auto queue = EventQueue::Open("", 3);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ExpectAllowedEventsPastTheBoundAreKept(**queue);
}

TEST(EventQueueTest, DiskQueueKeepsAllowedEventsPastTheBound) {
  auto queue = EventQueue::Open(TempPath("agent-past-bound"), 3);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ExpectAllowedEventsPastTheBoundAreKept(**queue);
}

// Below the bound, repeats of one (session, rule) in one turn are counted
// after the first few; another session's denials are kept apart.
TEST(EventQueueTest, RepeatedDenialsInOneTurnAreSummarised) {
  auto queue = EventQueue::Open("");
  ASSERT_TRUE(queue.ok()) << queue.status();
  for (int i = 0; i < 50; ++i) (*queue)->Push(Denial("s1", "r1"));
  (*queue)->Push(Denial("s2", "r1"));
  (*queue)->Commit();
  for (int i = 0; i < 3; ++i) (*queue)->Push(Denial("s1", "r1"));  // a new turn
  std::vector<bowden::v1::AuditEvent> all = Drain(**queue);
  ASSERT_EQ(all.size(), EventQueue::kDenialsPerTurn + 1 + 1 + 3u);
  const auto& summary = all[EventQueue::kDenialsPerTurn + 1];
  EXPECT_EQ(summary.kind(), "http.denials");
  EXPECT_EQ(summary.session_id(), "s1");
  EXPECT_EQ(summary.fields().at("count"),
            std::to_string(50 - EventQueue::kDenialsPerTurn));
  EXPECT_EQ(summary.fields().at("why"), "repeated");
  EXPECT_EQ(all.back().kind(), "http.request");
}

// Distinct keys beyond kMaxTallies share one catch-all summary.
TEST(EventQueueTest, CountedKeysAreBounded) {
  auto queue = EventQueue::Open("", 1);
  ASSERT_TRUE(queue.ok()) << queue.status();
  (*queue)->Push(Event("/fill"));
  const int keys = EventQueue::kMaxTallies + 500;
  for (int i = 0; i < keys; ++i)
    (*queue)->Push(Denial("s" + std::to_string(i), "r"));
  (*queue)->Commit();
  EXPECT_EQ((*queue)->denials_counted(), static_cast<uint64_t>(keys));
  std::vector<bowden::v1::AuditEvent> all = Drain(**queue);
  ASSERT_EQ(all.size(), EventQueue::kMaxTallies + 2);
  EXPECT_EQ(all.back().fields().at("count"), "500");
  EXPECT_EQ(all.back().session_id(), "");
}

}  // namespace
}  // namespace bowden::agent
