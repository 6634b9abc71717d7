#include "relay/registry.h"

#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

std::shared_ptr<Splice> PendingSession(const std::string& id,
                                       const std::string& printer) {
  return std::make_shared<Splice>(
      SessionInfo{id, "alice", printer, "octoprint", "operator", "01"},
      nullptr);
}

TEST(RegistryTest, FirstAgentWinsAndOnlyItCanBeRemoved) {
  Registry registry;
  auto first = std::make_shared<AgentChannel>("prusa-01", "ipv4:127.0.0.1:1");
  auto second = std::make_shared<AgentChannel>("prusa-01", "ipv4:127.0.0.1:2");
  ASSERT_TRUE(registry.AddAgent(first).ok());
  absl::Status refused = registry.AddAgent(second);
  EXPECT_EQ(refused.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(refused.message().find("ipv4:127.0.0.1:1"), std::string::npos)
      << refused;
  registry.RemoveAgent(second.get());  // not registered: no effect
  EXPECT_EQ(registry.FindAgent("prusa-01"), first);
  registry.RemoveAgent(first.get());
  EXPECT_EQ(registry.FindAgent("prusa-01"), nullptr);
  EXPECT_TRUE(registry.AddAgent(second).ok());
}

TEST(RegistryTest, AnAgentCanOnlyClaimItsOwnSessions) {
  Registry registry;
  registry.AddPending(PendingSession("s1", "prusa-01"));
  EXPECT_EQ(registry.TakePending("s1", "prusa-02"), nullptr);
  EXPECT_EQ(registry.TakePending("nope", "prusa-01"), nullptr);
  auto taken = registry.TakePending("s1", "prusa-01");
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(taken->info().id, "s1");
  EXPECT_EQ(registry.TakePending("s1", "prusa-01"), nullptr);  // only once
}

TEST(RegistryTest, TakePendingForTakesOnlyThatPrintersSessions) {
  Registry registry;
  registry.AddPending(PendingSession("a", "prusa-01"));
  registry.AddPending(PendingSession("b", "prusa-02"));
  registry.AddPending(PendingSession("c", "prusa-01"));
  EXPECT_EQ(registry.TakePendingFor("prusa-01").size(), 2u);
  EXPECT_EQ(registry.TakePendingFor("prusa-01").size(), 0u);
  EXPECT_NE(registry.TakePending("b", "prusa-02"), nullptr);
}

TEST(RegistryTest, TakePendingStartedBeforeTakesOnlyOlderSessions) {
  Registry registry;
  EXPECT_FALSE(registry.HasPending());
  auto older = PendingSession("old", "prusa-01");
  registry.AddPending(older);
  while (absl::Now() <= older->started()) {
  }
  auto newer = PendingSession("new", "prusa-02");
  registry.AddPending(newer);
  ASSERT_LT(older->started(), newer->started());

  std::vector<std::shared_ptr<Splice>> taken =
      registry.TakePendingStartedBefore(newer->started());
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0], older);
  EXPECT_TRUE(registry.HasPending());
  EXPECT_EQ(registry.TakePending("old", "prusa-01"), nullptr);
  EXPECT_EQ(registry.TakePendingStartedBefore(newer->started() + absl::Nanoseconds(1))
                .size(),
            1u);
  EXPECT_FALSE(registry.HasPending());
}

TEST(RegistryTest, RemembersWhoASessionWasForAfterItCloses) {
  Registry registry;
  {
    auto splice = PendingSession("s1", "prusa-01");
    ASSERT_TRUE(registry.AddSession(splice, 64).ok());
    registry.RemoveSession("s1");
  }
  EXPECT_EQ(registry.FindSession("s1"), nullptr);
  std::optional<SessionInfo> info = registry.FindSessionInfo("s1");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->user, "alice");
  EXPECT_EQ(info->printer, "prusa-01");
  EXPECT_FALSE(registry.FindSessionInfo("s2").has_value());
}

// The relay's memory must not follow the number of sessions it has ever
// opened: only the last kRememberedSessions are remembered, in records that
// are reused, and a record reused for a newer session says only what that
// session was.
TEST(RegistryTest, RemembersOnlyABoundedNumberOfPastSessions) {
  static_assert(Registry::kRememberedSessions <= 4096,
                "keep the remembered sessions to a few hundred KiB");
  Registry registry;
  const size_t total = 2 * Registry::kRememberedSessions + 10;
  for (size_t i = 0; i < total; ++i) {
    auto splice = PendingSession("s" + std::to_string(i),
                                 "prusa-" + std::to_string(i % 7));
    ASSERT_TRUE(registry.AddSession(splice, 64).ok());
    registry.RemoveSession(splice->info().id);
  }
  // The same session added again takes no second record.
  auto again = PendingSession("s" + std::to_string(total - 1), "prusa-x");
  ASSERT_TRUE(registry.AddSession(again, 64).ok());
  const size_t oldest_kept = total - Registry::kRememberedSessions;
  for (size_t i = 0; i < total; ++i) {
    std::optional<SessionInfo> info =
        registry.FindSessionInfo("s" + std::to_string(i));
    if (i < oldest_kept) {
      EXPECT_FALSE(info.has_value()) << "s" << i;
      continue;
    }
    ASSERT_TRUE(info.has_value()) << "s" << i;
    EXPECT_EQ(info->id, "s" + std::to_string(i));
    EXPECT_EQ(info->printer,
              i == total - 1 ? "prusa-x" : "prusa-" + std::to_string(i % 7));
  }
}

TEST(RegistryTest, EachUserHoldsAtMostTheCapOfSessions) {
  Registry registry;
  std::vector<std::shared_ptr<Splice>> alices;
  for (int i = 0; i < 3; ++i) {
    alices.push_back(PendingSession("a" + std::to_string(i), "prusa-01"));
    ASSERT_TRUE(registry.AddSession(alices.back(), 3).ok());
  }
  auto fourth = PendingSession("a3", "prusa-01");
  absl::Status refused = registry.AddSession(fourth, 3);
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(refused.message().find("`bowden sessions`"), std::string::npos)
      << refused;
  // Another user is not affected, and a session that ends frees its place
  // even without RemoveSession.
  auto bob = std::make_shared<Splice>(
      SessionInfo{"b0", "bob", "prusa-01", "octoprint", "viewer", "02"},
      nullptr);
  EXPECT_TRUE(registry.AddSession(bob, 3).ok());
  alices.pop_back();
  EXPECT_TRUE(registry.AddSession(fourth, 3).ok());
  EXPECT_EQ(registry.Sessions().size(), 4u);
}

}  // namespace
}  // namespace bowden::relay
