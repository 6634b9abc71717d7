#include "relay/open_timeouts.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

std::shared_ptr<Splice> PendingSession(const std::string& id) {
  return std::make_shared<Splice>(
      SessionInfo{id, "alice", "prusa-01", "octoprint", "operator", "01"},
      nullptr);
}

// Waits (at most 10 s) until no session is pending.
bool WaitUntilNonePending(Registry& registry) {
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (registry.HasPending()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST(OpenTimeoutsTest, FailsOnlySessionsPendingLongerThanTheTimeout) {
  Registry registry;
  OpenTimeouts timeouts(&registry, absl::Seconds(15));
  auto waiting = PendingSession("s1");
  registry.AddPending(waiting);

  EXPECT_EQ(timeouts.FailExpired(waiting->started() + absl::Seconds(14)), 0);
  EXPECT_TRUE(registry.HasPending());
  EXPECT_FALSE(absl::StrContains(waiting->end_reason(), "failed"))
      << waiting->end_reason();

  EXPECT_EQ(timeouts.FailExpired(waiting->started() + absl::Seconds(16)), 1);
  EXPECT_FALSE(registry.HasPending());
  EXPECT_EQ(waiting->end_reason(),
            "failed: printer 'prusa-01' did not open the session within 15s");
}

TEST(OpenTimeoutsTest, ASessionItsAgentOpenedIsNeverFailed) {
  Registry registry;
  OpenTimeouts timeouts(&registry, absl::Seconds(15));
  auto opened = PendingSession("s1");
  registry.AddPending(opened);
  ASSERT_NE(registry.TakePending("s1", "prusa-01"), nullptr);  // as Carry does
  EXPECT_EQ(timeouts.FailExpired(opened->started() + absl::Hours(1)), 0);
  EXPECT_FALSE(absl::StrContains(opened->end_reason(), "failed"))
      << opened->end_reason();
}

// The thread: a watched session fails once its timeout has passed, and so
// does one watched after the thread found nothing left and went idle.
TEST(OpenTimeoutsTest, TheThreadFailsWatchedSessionsAfterTheTimeout) {
  Registry registry;
  OpenTimeouts timeouts(&registry, absl::Milliseconds(50),
                        absl::Milliseconds(10));
  auto first = PendingSession("s1");
  registry.AddPending(first);
  timeouts.Watch();
  ASSERT_TRUE(WaitUntilNonePending(registry));
  EXPECT_EQ(first->end_reason(),
            "failed: printer 'prusa-01' did not open the session within 50ms");

  absl::SleepFor(absl::Milliseconds(100));  // a few empty looks: idle now
  auto second = PendingSession("s2");
  registry.AddPending(second);
  timeouts.Watch();
  ASSERT_TRUE(WaitUntilNonePending(registry));
  EXPECT_EQ(second->end_reason(),
            "failed: printer 'prusa-01' did not open the session within 50ms");
}

}  // namespace
}  // namespace bowden::relay
