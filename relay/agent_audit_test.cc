#include "relay/agent_audit.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

constexpr char kAgent[] = "spiffe://farm.test/agent/prusa-01";

std::optional<SessionInfo> Lookup(const std::string& id) {
  if (id == "mine")
    return SessionInfo{"mine", "bob", "prusa-01", "octoprint", "viewer", "01"};
  if (id == "other")
    return SessionInfo{"other",     "alice", "prusa-02",
                       "octoprint", "admin", "02"};
  return std::nullopt;
}

bowden::v1::AuditEvent Event(const std::string& session,
                             const std::string& outcome = "ok") {
  bowden::v1::AuditEvent event;
  event.set_kind("http.request");
  event.set_actor("admin");  // what the agent claims
  event.set_printer("prusa-02");
  event.set_target("webcam");
  event.set_session_id(session);
  event.set_outcome(outcome);
  (*event.mutable_fields())["path"] = "/api/version";
  (*event.mutable_fields())["role"] = "admin";
  (*event.mutable_fields())["source"] = "forged";
  return event;
}

const absl::Time kNow = absl::FromUnixSeconds(1700000000);

TEST(AgentAuditFilterTest, SessionEventsTakeTheRelaysRecordOfTheSession) {
  AgentAuditBudget budget;
  AgentAuditFilter filter("prusa-01", kAgent, Lookup, &budget);
  bowden::v1::AuditBatch batch;
  *batch.add_events() = Event("mine");
  bowden::v1::AuditEvent agent_level = Event("");
  agent_level.set_kind("http.denials");
  *batch.add_events() = agent_level;
  std::vector<bowden::v1::AuditEvent> stored = filter.Filter(batch, kNow);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].actor(), "bob");
  EXPECT_EQ(stored[0].printer(), "prusa-01");
  EXPECT_EQ(stored[0].target(), "octoprint");
  EXPECT_EQ(stored[0].fields().at("role"), "viewer");
  EXPECT_EQ(stored[0].fields().at("source"), kAgent);
  EXPECT_EQ(stored[0].fields().at("path"), "/api/version");
  // Without a session the event is the agent's own.
  EXPECT_EQ(stored[1].actor(), kAgent);
  EXPECT_EQ(stored[1].printer(), "prusa-01");
}

TEST(AgentAuditFilterTest, EventsForOtherSessionsAreRefusedAndReportedOnce) {
  AgentAuditBudget budget;
  AgentAuditFilter filter("prusa-01", kAgent, Lookup, &budget);
  bowden::v1::AuditBatch batch;
  *batch.add_events() = Event("other");
  *batch.add_events() = Event("never-opened");
  bowden::v1::AuditEvent relay_kind = Event("mine");
  relay_kind.set_kind("session.open");
  *batch.add_events() = relay_kind;
  *batch.add_events() = Event("mine");
  std::vector<bowden::v1::AuditEvent> stored = filter.Filter(batch, kNow);
  ASSERT_EQ(stored.size(), 2u);
  EXPECT_EQ(stored[0].session_id(), "mine");
  EXPECT_EQ(stored[1].kind(), "denial");
  EXPECT_EQ(stored[1].actor(), kAgent);
  EXPECT_EQ(stored[1].fields().at("count"), "3");
  EXPECT_EQ(stored[1].fields().at("rule"), "relay.agent_audit_scope");
  EXPECT_TRUE(absl::StrContains(stored[1].detail(),
                                "session 'other' of printer 'prusa-02'"))
      << stored[1].detail();

  // Reports are rate-limited; what is not reported is counted into the next.
  int reports = 0;
  for (int i = 0; i < 100; ++i) {
    bowden::v1::AuditBatch forged;
    *forged.add_events() = Event("other");
    for (const auto& event : filter.Filter(forged, kNow)) {
      EXPECT_EQ(event.kind(), "denial");
      ++reports;
    }
  }
  EXPECT_LT(reports, 10);
  std::vector<bowden::v1::AuditEvent> rest = filter.Unreported(kNow);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].fields().at("count"), std::to_string(100 - reports));
}

// Sessions the registry does not know are handed out to be looked up in the
// audit log (off the callback thread), once each and at most
// kMaxLookupsPerBatch of a batch; what was found there attributes their
// events, and the sessions past the bound are refused as never opened.
TEST(AgentAuditFilterTest, SessionsTheRegistryDoesNotKnowAreLookedUpByTheCaller) {
  AgentAuditBudget budget;
  AgentAuditFilter filter("prusa-01", kAgent, Lookup, &budget);
  bowden::v1::AuditBatch batch;
  *batch.add_events() = Event("mine");  // known in memory
  *batch.add_events() = Event("before-restart");
  *batch.add_events() = Event("before-restart");
  *batch.add_events() = Event("made-up");
  bowden::v1::AuditEvent relay_kind = Event("relay-kind");
  relay_kind.set_kind("session.open");  // refused anyway: not looked up
  *batch.add_events() = relay_kind;
  std::vector<std::string> unknown = filter.Unknown(batch);
  EXPECT_EQ(unknown, (std::vector<std::string>{"before-restart", "made-up"}));

  AgentAuditFilter::Owners looked_up;
  looked_up["before-restart"] =
      SessionInfo{"before-restart", "carol", "prusa-01", "webcam", "viewer", "03"};
  looked_up["made-up"] = std::nullopt;
  std::vector<bowden::v1::AuditEvent> stored =
      filter.Filter(batch, kNow, looked_up);
  ASSERT_EQ(stored.size(), 4u);
  EXPECT_EQ(stored[0].actor(), "bob");
  EXPECT_EQ(stored[1].actor(), "carol");
  EXPECT_EQ(stored[1].target(), "webcam");
  EXPECT_EQ(stored[2].actor(), "carol");
  EXPECT_EQ(stored[3].kind(), "denial");
  EXPECT_EQ(stored[3].fields().at("count"), "2");  // made-up, relay-kind
  // What was looked up is remembered: the next batch asks for nothing.
  EXPECT_TRUE(filter.Unknown(batch).empty());

  bowden::v1::AuditBatch flood;
  for (size_t i = 0; i < 3 * AgentAuditFilter::kMaxLookupsPerBatch; ++i) {
    *flood.add_events() = Event("forged-" + std::to_string(i));
  }
  unknown = filter.Unknown(flood);
  ASSERT_EQ(unknown.size(), AgentAuditFilter::kMaxLookupsPerBatch);
  AgentAuditFilter::Owners found;
  for (const std::string& id : unknown) {
    found[id] = SessionInfo{id, "dave", "prusa-01", "octoprint", "viewer", "04"};
  }
  stored = filter.Filter(flood, kNow, found);
  size_t attributed = 0;
  for (const auto& event : stored) attributed += event.actor() == "dave";
  EXPECT_EQ(attributed, AgentAuditFilter::kMaxLookupsPerBatch);
}

TEST(AgentAuditFilterTest, FieldsAndDetailAreBounded) {
  AgentAuditBudget budget;
  AgentAuditFilter filter("prusa-01", kAgent, Lookup, &budget);
  bowden::v1::AuditEvent event = Event("mine");
  for (int i = 0; i < 100; ++i) {
    (*event.mutable_fields())["f" + std::to_string(1000 + i)] =
        std::string(5000, 'x');
  }
  (*event.mutable_fields())[std::string(200, 'k')] = "long key";
  event.set_detail(std::string(100000, 'd'));
  bowden::v1::AuditBatch batch;
  *batch.add_events() = event;
  std::vector<bowden::v1::AuditEvent> stored = filter.Filter(batch, kNow);
  ASSERT_EQ(stored.size(), 1u);
  const auto& fields = stored[0].fields();
  // 32 of the agent's fields, plus what the relay sets.
  EXPECT_LE(fields.size(), AgentAuditFilter::kMaxFields + 3);
  EXPECT_EQ(fields.at("fields_dropped"), "72");
  for (const auto& [key, value] : fields) {
    EXPECT_LE(key.size(), AgentAuditFilter::kMaxKeyBytes);
    EXPECT_LE(value.size(), AgentAuditFilter::kMaxValueBytes + 32);
  }
  EXPECT_LE(stored[0].detail().size(), AgentAuditFilter::kMaxDetailBytes + 32);
}

// 10,000 denied rows in a few seconds from one agent: past the burst they
// are summarised, not stored and not silently dropped.
TEST(AgentAuditFilterTest, OneAgentsAuditInputIsRateLimited) {
  AgentAuditLimits limits;
  AgentAuditBudget budget(limits);
  AgentAuditFilter filter("prusa-01", kAgent, Lookup, &budget);
  uint64_t rows = 0;
  uint64_t summarised = 0;
  for (int b = 0; b < 50; ++b) {
    bowden::v1::AuditBatch batch;
    for (int i = 0; i < 200; ++i) *batch.add_events() = Event("mine", "denied");
    // 50 batches over 8 seconds.
    for (const auto& event :
         filter.Filter(batch, kNow + absl::Milliseconds(160 * b))) {
      if (event.kind() == "denial") {
        summarised += std::stoull(event.fields().at("count"));
        EXPECT_EQ(event.fields().at("rule"), "relay.agent_audit_rate");
        EXPECT_TRUE(absl::StrContains(event.detail(), "http.request/denied="))
            << event.detail();
      } else {
        ++rows;
      }
    }
  }
  for (const auto& event : filter.Unreported(kNow + absl::Seconds(8))) {
    summarised += std::stoull(event.fields().at("count"));
  }
  // The burst plus 8 s of refill at 100/s.
  EXPECT_LE(rows, limits.denied_burst + 8 * limits.denied_per_minute / 60 + 1);
  EXPECT_EQ(rows + summarised, 10000u);
  // A reconnect (a new filter) does not refill the agent's bucket.
  AgentAuditFilter again("prusa-01", kAgent, Lookup, &budget);
  bowden::v1::AuditBatch batch;
  *batch.add_events() = Event("mine", "denied");
  std::vector<bowden::v1::AuditEvent> stored =
      again.Filter(batch, kNow + absl::Milliseconds(160 * 49));
  for (const auto& event : stored) EXPECT_NE(event.kind(), "http.request");
}

}  // namespace
}  // namespace bowden::relay
