// The relay audits authentication, sessions, denials, admin actions and
// policy loads; `bowden audit` shows them to admins only, and `bowden audit
// verify` detects a row edited behind the relay's back.

#include <sqlite3.h>

#include <sys/socket.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "audit/audit_log.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "proto/tunnel.grpc.pb.h"
#include "tests/harness.h"
#include "transport/relay_channel.h"

namespace bowden::testing {
namespace {

class AuditE2eTest : public ::testing::Test {
 protected:
  AuditE2eTest() : echo_(EchoUntilEof) {
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"bob\" printers: \"prusa-*\" }\n";
  }

  Farm::Options Options() {
    Farm::Options options;
    options.relay_extra_flags = {"--policy", policy_dir_.File("policy.textproto")};
    options.targets = {absl::StrCat("octoprint=127.0.0.1:", echo_.port(), ",guard=none")};
    return options;
  }

  int Cli(Farm& farm, const std::string& user, std::vector<std::string> command,
          std::string* out) {
    std::vector<std::string> argv = farm.CliAs(user);
    argv.insert(argv.end(), command.begin(), command.end());
    return RunToCompletion(argv, out);
  }

  TempDir policy_dir_;
  TcpTarget echo_;
};

TEST_F(AuditE2eTest, RecordsWhatHappenedAndShowsItToAdminsOnly) {
  Farm farm(Options());
  farm.pki().Issue("user", "bob");
  farm.pki().Issue("user", "carol");
  ASSERT_TRUE(farm.WaitAttached());

  std::string echoed;
  ASSERT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("bob"), "prusa-01",
                       "octoprint", "twelve bytes", &echoed)
                  .ok());
  EXPECT_FALSE(DialOnce(farm.relay_address(), farm.pki().Files("carol"), "prusa-01",
                        "octoprint")
                   .ok());
  // An agent certificate knocking on the user service.
  EXPECT_FALSE(DialOnce(farm.relay_address(), farm.pki().Files("prusa-01"), "prusa-01",
                        "octoprint")
                   .ok());

  std::string out;
  ASSERT_EQ(Cli(farm, "alice", {"audit"}, &out), 0) << out;
  for (const char* expected :
       {"policy ", "policy loaded: 2 grant(s)", "auth ", "agent attached from",
        "spiffe://farm.test/agent/prusa-01", "session.open", "session.close",
        "bytes_up=", "role=operator", "denial", "carol",
        "is not permitted to reach 'octoprint' on printer 'prusa-01'",
        "cannot call the user service"}) {
    EXPECT_TRUE(absl::StrContains(out, expected)) << expected << " missing in:\n" << out;
  }

  ASSERT_EQ(Cli(farm, "alice", {"audit", "--json", "--user", "bob"}, &out), 0) << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << out;
  for (const std::string& line : lines) {
    EXPECT_TRUE(absl::StartsWith(line, "{")) << line;
    EXPECT_TRUE(absl::StrContains(line, "\"actor\":\"bob\"")) << line;
  }

  EXPECT_EQ(Cli(farm, "bob", {"audit"}, &out), 1);
  EXPECT_TRUE(absl::StrContains(out, "not a relay admin")) << out;
  ASSERT_EQ(Cli(farm, "alice", {"audit", "verify"}, &out), 0)
      << out << farm.relay().Stderr();
  EXPECT_TRUE(absl::StrContains(out, "intact")) << out;
}

TEST_F(AuditE2eTest, VerifyFindsARowEditedWhileTheRelayWasDown) {
  Farm farm(Options());
  farm.pki().Issue("user", "bob");
  ASSERT_TRUE(farm.WaitAttached());
  ASSERT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("bob"), "prusa-01",
                       "octoprint", "hello")
                  .ok());
  std::string out;
  ASSERT_EQ(Cli(farm, "alice", {"audit", "verify"}, &out), 0) << out;

  farm.relay().Signal(SIGKILL);
  farm.relay().Wait();
  // Someone with the file hides bob's session: drop the guard triggers and
  // rewrite the row.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(farm.dir().File("state/audit.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type='trigger'",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::vector<std::string> triggers;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    triggers.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  }
  sqlite3_finalize(stmt);
  ASSERT_FALSE(triggers.empty());
  for (const std::string& trigger : triggers) {
    ASSERT_EQ(sqlite3_exec(db, ("DROP TRIGGER " + trigger).c_str(), nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  ASSERT_EQ(sqlite3_exec(db, "UPDATE audit_log SET actor = 'nobody' WHERE actor = 'bob'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_GT(sqlite3_changes(db), 0);
  sqlite3_close(db);

  farm.StartRelay();
  ASSERT_TRUE(farm.WaitAttached(2));
  // A start checks only what follows the last verified head (its cost must
  // not grow with the log), and bob's rows are before it: the full check on
  // demand is what finds them.
  EXPECT_TRUE(farm.relay().WaitForOutput("rows checked"));
  EXPECT_EQ(Cli(farm, "alice", {"audit", "verify"}, &out), 3) << out;
  EXPECT_TRUE(absl::StrContains(out, "BROKEN at row")) << out;
  EXPECT_TRUE(absl::StrContains(out, "hash mismatch")) << out;
  // The relay keeps serving.
  EXPECT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("bob"), "prusa-01",
                       "octoprint", "still")
                  .ok());
}

// The JSON lines of `bowden audit --json` that contain every one of
// `needles`.
std::vector<std::string> LinesWith(const std::string& text,
                                   const std::vector<std::string>& needles) {
  std::vector<std::string> found;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    bool all = !line.empty();
    for (const std::string& needle : needles) all = all && absl::StrContains(line, needle);
    if (all) found.emplace_back(line);
  }
  return found;
}

std::string SessionIdOf(const std::string& json_line) {
  std::smatch match;
  if (!std::regex_search(json_line, match, std::regex("\"session_id\":\"([^\"]+)\""))) {
    return "";
  }
  return match[1];
}

// A session open when the relay is SIGKILLed has no session.close; the
// restarted relay writes one, outcome "aborted", before it listens.
TEST_F(AuditE2eTest, SessionOpenWhenTheRelayIsKilledIsClosedAsAbortedAtRestart) {
  Farm farm(Options());
  farm.pki().Issue("user", "bob");
  ASSERT_TRUE(farm.WaitAttached());
  const int port = farm.Open("bob", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);
  tunnel::UniqueFd connection = ConnectTo(port);
  ASSERT_TRUE(connection.valid());
  ASSERT_TRUE(WriteAll(connection.get(), "ping"));
  std::string echoed(4, '\0');
  ASSERT_EQ(recv(connection.get(), echoed.data(), echoed.size(), MSG_WAITALL), 4);
  ASSERT_EQ(echoed, "ping");  // the session is spliced and open

  std::string out;
  std::string session;
  ASSERT_TRUE(WaitFor([&] {
    Cli(farm, "alice", {"audit", "--json", "--user", "bob"}, &out);
    std::vector<std::string> opens = LinesWith(out, {"\"session.open\""});
    if (opens.size() != 1) return false;
    session = SessionIdOf(opens[0]);
    return true;
  })) << out;
  ASSERT_FALSE(session.empty()) << out;
  EXPECT_TRUE(LinesWith(out, {"\"session.close\""}).empty()) << out;

  farm.relay().Signal(SIGKILL);
  farm.relay().Wait();
  farm.StartRelay();
  EXPECT_TRUE(farm.relay().WaitForOutput("closed as aborted")) << farm.relay().Stderr();

  ASSERT_EQ(Cli(farm, "alice", {"audit", "--json", "--user", "bob"}, &out), 0) << out;
  std::vector<std::string> closes = LinesWith(out, {"\"session.close\""});
  ASSERT_EQ(closes.size(), 1u) << out;
  EXPECT_EQ(SessionIdOf(closes[0]), session);
  EXPECT_TRUE(absl::StrContains(closes[0], "\"outcome\":\"aborted\"")) << closes[0];
  EXPECT_TRUE(absl::StrContains(closes[0], "the relay stopped while the session was open"))
      << closes[0];
  ASSERT_EQ(Cli(farm, "alice", {"audit", "verify"}, &out), 0) << out;
}

int CountLines(const std::string& text, const std::string& needle) {
  int count = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, needle)) ++count;
  }
  return count;
}

// An agent's events for a session the relay's registry does not know (one
// opened before the relay restarted) are attributed from the audit log's
// session.open row, which the relay reads on its audit thread while the
// agent's stream waits; one for a session never opened is refused. Each
// batch is acknowledged, and the stream goes on reading afterwards.
TEST_F(AuditE2eTest, AgentEventsForSessionsFromBeforeARestartAreAttributedFromTheLog) {
  Farm farm(Options());
  ASSERT_TRUE(farm.WaitAttached());
  const std::string path = farm.dir().File("state/audit.db");
  {
    auto log = audit::AuditLog::Open(path);
    ASSERT_TRUE(log.ok()) << log.status();
    bowden::v1::AuditEvent open;
    open.set_kind("session.open");
    open.set_actor("bob");
    open.set_outcome("ok");
    open.set_printer("prusa-02");
    open.set_target("webcam");
    open.set_session_id("0123456789abcdef01234567");
    (*open.mutable_fields())["role"] = "viewer";
    ASSERT_TRUE((*log)->Append(open).ok());
  }

  farm.pki().Issue("agent", "prusa-02");
  auto stub = bowden::v1::AgentService::NewStub(
      transport::MakeRelayChannel(farm.relay_address(), farm.pki().Files("prusa-02")));
  grpc::ClientContext context;  // a stream that stops reading fails the test, not hangs it
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto attach = stub->Attach(&context);
  bowden::v1::AgentMessage message;
  message.mutable_hello()->add_targets("webcam");
  ASSERT_TRUE(attach->Write(message));
  bowden::v1::RelayMessage reply;
  ASSERT_TRUE(attach->Read(&reply));
  ASSERT_TRUE(reply.has_attached()) << reply.DebugString();

  for (int64_t batch_id : {7, 8}) {
    message.Clear();
    bowden::v1::AuditBatch* batch = message.mutable_audit();
    batch->set_batch_id(batch_id);
    bowden::v1::AuditEvent* event = batch->add_events();
    event->set_kind("http.request");
    event->set_actor("admin");  // the agent's word, not taken
    event->set_outcome("ok");
    event->set_session_id("0123456789abcdef01234567");
    (*event->mutable_fields())["path"] = absl::StrCat("/webcam/?batch=", batch_id);
    event = batch->add_events();
    event->set_kind("http.request");
    event->set_outcome("ok");
    event->set_session_id(absl::StrCat("feedfacefeedfacefeed000", batch_id));
    ASSERT_TRUE(attach->Write(message));
    ASSERT_TRUE(attach->Read(&reply));
    EXPECT_EQ(reply.audit_ack().batch_id(), batch_id) << reply.DebugString();
  }
  context.TryCancel();

  auto log = audit::AuditLog::Open(path);
  ASSERT_TRUE(log.ok()) << log.status();
  bowden::v1::AuditQuery query;
  query.set_printer("prusa-02");
  query.set_limit(100);
  auto rows = (*log)->Query(query);
  ASSERT_TRUE(rows.ok()) << rows.status();
  int attributed = 0;
  std::string refusals;
  for (const auto& row : *rows) {
    if (row.kind() == "http.request") {
      EXPECT_EQ(row.actor(), "bob");
      EXPECT_EQ(row.target(), "webcam");
      EXPECT_EQ(row.fields().at("role"), "viewer");
      ++attributed;
    }
    if (row.kind() == "denial") absl::StrAppend(&refusals, row.detail(), "\n");
  }
  EXPECT_EQ(attributed, 2);
  EXPECT_TRUE(absl::StrContains(
      refusals, "session 'feedfacefeedfacefeed0007', which this relay never opened"))
      << refusals;
}

// A log far larger than one gRPC message (5,000 rows of ~1 KB), and an admin
// action whose reason carries terminal escapes: `bowden audit` shows the
// newest rows first, a page at a time, and never prints a control character.
TEST_F(AuditE2eTest,
       ShowsTheNewestRowsAPageAtATimeWithControlCharactersEscaped) {
  Farm farm(Options());
  ASSERT_TRUE(farm.WaitAttached());
  {
    // A second writer on the relay's own log, as busy printers would make it.
    auto log = audit::AuditLog::Open(farm.dir().File("state/audit.db"));
    ASSERT_TRUE(log.ok()) << log.status();
    for (int batch = 0; batch < 10; ++batch) {
      std::vector<bowden::v1::AuditEvent> events;
      for (int i = 1; i <= 500; ++i) {
        bowden::v1::AuditEvent& event = events.emplace_back();
        event.set_kind("http.request");
        event.set_actor("bob");
        event.set_printer("prusa-01");
        event.set_outcome("ok");
        event.set_detail(absl::StrCat("bulk row #", batch * 500 + i, " ",
                                      std::string(1000, 'x')));
      }
      ASSERT_TRUE((*log)->AppendBatch(events).ok());
    }
  }
  std::string out;
  ASSERT_EQ(Cli(farm, "alice",
                {"revoke", "user", "mallory", "--reason",
                 "\x1b[2J\x1b]0;pwned\x07\xc2\x9b"
                 "31m red"},
                &out),
            0)
      << out;

  // Default: the newest 50, newest first, and a hint that there is more.
  ASSERT_EQ(Cli(farm, "alice", {"audit"}, &out), 0) << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 51u) << out;
  EXPECT_TRUE(absl::StrContains(lines[0], "revoke")) << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[0],
                                "\\x1b[2J\\x1b]0;pwned\\x07\\xc2\\x9b31m red"))
      << lines[0];
  EXPECT_TRUE(absl::StrContains(lines[1], "bulk row #5000 ")) << lines[1];
  EXPECT_TRUE(absl::StrContains(out, "more match")) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_EQ(out.find('\x07'), std::string::npos);
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos);

  // Every row, though together they are larger than gRPC's 4 MB message cap.
  ASSERT_EQ(Cli(farm, "alice", {"audit", "--all"}, &out), 0)
      << out.substr(0, 2000);
  EXPECT_EQ(CountLines(out, "bulk row #"), 5000);
  EXPECT_LT(out.find("bulk row #5000 "), out.find("bulk row #1 "))
      << "newest first";
  EXPECT_TRUE(absl::StrContains(out, "policy loaded"));
  EXPECT_FALSE(absl::StrContains(out, "more match"));

  ASSERT_EQ(
      Cli(farm, "alice", {"audit", "--oldest-first", "--limit", "2"}, &out), 0)
      << out;
  lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), 2u) << out;
  EXPECT_TRUE(absl::StartsWith(lines[0], "     1 ")) << out;
  EXPECT_TRUE(absl::StrContains(lines[0], "policy loaded")) << out;

  ASSERT_EQ(Cli(farm, "alice", {"audit", "--json", "--limit", "1"}, &out), 0)
      << out;
  std::string lower = absl::AsciiStrToLower(out);
  EXPECT_TRUE(absl::StrContains(lower, "\\u001b[2j")) << out;
  EXPECT_TRUE(absl::StrContains(lower, "\\u009b31m")) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos);
}

TEST_F(AuditE2eTest, RetentionPrunesOldSegmentsAndVerifyStillProvesTheRest) {
  Farm::Options options = Options();
  // Segments of 3 rows whose rows go a second after they are sealed.
  for (const char* flag : {"--audit-segment-rows", "3", "--audit-segment-age",
                           "0", "--audit-retention", "1s"}) {
    options.relay_extra_flags.push_back(flag);
  }
  Farm farm(options);
  farm.pki().Issue("user", "bob");
  ASSERT_TRUE(farm.WaitAttached());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(DialOnce(farm.relay_address(), farm.pki().Files("bob"),
                         "prusa-01", "octoprint", "hello")
                    .ok());
  }
  // "N sealed segments (M pruned by retention)": wait for M >= 2.
  const std::regex counts(R"((\d+) sealed segments \((\d+) pruned)");
  std::string out;
  EXPECT_TRUE(WaitFor([&] {
    if (Cli(farm, "alice", {"audit", "verify"}, &out) != 0) return false;
    std::smatch match;
    return std::regex_search(out, match, counts) && std::stoll(match[2]) >= 2;
  })) << out;
  EXPECT_TRUE(absl::StrContains(out, "intact")) << out;
  // The oldest rows are gone from what `bowden audit` shows.
  ASSERT_EQ(Cli(farm, "alice",
                {"audit", "--oldest-first", "--limit", "1", "--json"}, &out),
            0)
      << out;
  EXPECT_FALSE(absl::StrContains(out, "\"seq\":\"1\"")) << out;
  EXPECT_TRUE(absl::StrContains(out, "\"seq\":")) << out;

  // A restart verifies from the first kept row; full verification still
  // passes.
  farm.relay().Signal(SIGKILL);
  farm.relay().Wait();
  farm.StartRelay();
  ASSERT_TRUE(farm.WaitAttached(2));  // the new relay is listening
  ASSERT_EQ(Cli(farm, "alice", {"audit", "verify"}, &out), 0) << out;
  EXPECT_TRUE(absl::StrContains(out, "intact")) << out;
}

}  // namespace
}  // namespace bowden::testing
