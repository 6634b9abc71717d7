// `bowden ls`, `sessions` and `admin ls --json` print one JSON document each
// that a real JSON parser (protobuf's) reads, with snake_case names, bytes
// as numbers and times as RFC 3339 UTC, and with text others chose (a
// revocation reason) escaped so the document is terminal-safe and reads
// back to the same text. The human tables show sizes in B/KiB/MiB.

#include <sys/socket.h>

#include <fstream>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

struct CliRun {
  int code = -1;
  std::string out;  // stdout only: what a program would parse
  std::string err;
};

CliRun Cli(Farm& farm, const std::string& user,
           const std::vector<std::string>& command) {
  std::vector<std::string> argv = farm.CliAs(user);
  argv.insert(argv.end(), command.begin(), command.end());
  TempDir logs;
  Process process(argv, logs.File("cli"));
  CliRun run;
  run.code = process.Wait(absl::Seconds(30));
  run.out = process.Stdout();
  run.err = process.Stderr();
  return run;
}

// Parses `json` (one document) with protobuf's JSON parser; ADD_FAILUREs
// when it is not JSON.
Struct Parse(const std::string& json) {
  Struct parsed;
  google::protobuf::util::Status status =
      google::protobuf::util::JsonStringToMessage(json, &parsed);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return parsed;
}

const Value& Field(const Struct& object, const std::string& name) {
  static const Value* missing = new Value();
  auto it = object.fields().find(name);
  EXPECT_TRUE(it != object.fields().end()) << "no field " << name;
  return it == object.fields().end() ? *missing : it->second;
}

bool IsRfc3339Utc(const Value& value) {
  return value.kind_case() == Value::kStringValue &&
         std::regex_match(
             value.string_value(),
             std::regex(
                 "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"));
}

TEST(CliJsonE2eTest, ListingsPrintOneParsableDocument) {
  TempDir policy_dir;
  std::ofstream(policy_dir.File("policy.textproto"))
      << "admins: \"alice\"\n"
      << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
      << "grant { user: \"bob\" printers: \"prusa-*\" }\n";
  TcpTarget echo(EchoUntilEof);
  Farm::Options options;
  options.relay_extra_flags = {"--policy", policy_dir.File("policy.textproto")};
  options.targets = {
      absl::StrCat("octoprint=127.0.0.1:", echo.port(), ",guard=none")};
  Farm farm(options);
  farm.pki().Issue("user", "bob");
  farm.pki().Issue("user", "carol");
  ASSERT_TRUE(farm.WaitAttached());

  // bob's printers.
  CliRun ls = Cli(farm, "bob", {"ls", "--json"});
  ASSERT_EQ(ls.code, 0) << ls.out << ls.err;
  Struct printers = Parse(ls.out);
  const Value& list = Field(printers, "printers");
  ASSERT_EQ(list.list_value().values_size(), 1) << ls.out;
  const Struct& printer = list.list_value().values(0).struct_value();
  EXPECT_EQ(Field(printer, "id").string_value(), "prusa-01");
  EXPECT_TRUE(Field(printer, "online").bool_value());
  ASSERT_EQ(Field(printer, "targets").list_value().values_size(), 1) << ls.out;
  EXPECT_EQ(Field(printer, "targets").list_value().values(0).string_value(),
            "octoprint");
  EXPECT_TRUE(IsRfc3339Utc(Field(printer, "last_seen"))) << ls.out;

  // A live session of bob's that has carried bytes both ways.
  int port = farm.Open("bob", "prusa-01", "octoprint");
  ASSERT_NE(port, 0);
  tunnel::UniqueFd socket = ConnectTo(port);
  ASSERT_TRUE(WriteAll(socket.get(), "ping"));
  char buffer[4];
  ASSERT_EQ(read(socket.get(), buffer, 4), 4);
  CliRun sessions;
  const Struct* session = nullptr;
  Struct parsed_sessions;
  // The relay counts bytes as they pass; wait until the echo is counted.
  ASSERT_TRUE(WaitFor([&] {
    sessions = Cli(farm, "alice", {"sessions", "--json"});
    parsed_sessions = Parse(sessions.out);
    const Value& all = Field(parsed_sessions, "sessions");
    if (sessions.code != 0 || all.list_value().values_size() != 1) return false;
    session = &all.list_value().values(0).struct_value();
    return Field(*session, "bytes_down").number_value() >= 4;
  })) << sessions.out
      << sessions.err;
  EXPECT_TRUE(std::regex_match(Field(*session, "id").string_value(),
                               std::regex("[0-9a-f]{24}")));
  EXPECT_EQ(Field(*session, "user").string_value(), "bob");
  EXPECT_EQ(Field(*session, "printer").string_value(), "prusa-01");
  EXPECT_EQ(Field(*session, "target").string_value(), "octoprint");
  EXPECT_EQ(Field(*session, "role").string_value(), "operator");
  EXPECT_TRUE(IsRfc3339Utc(Field(*session, "started"))) << sessions.out;
  EXPECT_EQ(Field(*session, "age_seconds").kind_case(), Value::kNumberValue);
  EXPECT_GE(Field(*session, "bytes_up").number_value(), 4);
  EXPECT_TRUE(Field(*session, "open").bool_value());

  // The human table: sizes with units.
  CliRun table = Cli(farm, "alice", {"sessions"});
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_TRUE(std::regex_search(
      table.out, std::regex(" bob .* [0-9.]+ (B|KiB) +[0-9.]+ (B|KiB)\n")))
      << table.out;

  // A reason with a quote, a newline and a terminal escape: free text an
  // admin typed, which must read back the same and never reach the
  // terminal raw.
  const std::string reason = "left \"the farm\"\n\x1b[31mred";
  CliRun revoke =
      Cli(farm, "alice", {"revoke", "user", "carol", "--reason", reason});
  ASSERT_EQ(revoke.code, 0) << revoke.err;
  CliRun admin = Cli(farm, "alice", {"admin", "ls", "--json"});
  ASSERT_EQ(admin.code, 0) << admin.err;
  EXPECT_EQ(admin.out.find('\x1b'), std::string::npos) << admin.out;
  EXPECT_EQ(std::count(admin.out.begin(), admin.out.end(), '\n'), 1)
      << admin.out;
  Struct identities = Parse(admin.out);
  const Value& revocations = Field(identities, "revocations");
  ASSERT_EQ(revocations.list_value().values_size(), 1) << admin.out;
  const Struct& revocation = revocations.list_value().values(0).struct_value();
  EXPECT_EQ(Field(revocation, "kind").string_value(), "user");
  EXPECT_EQ(Field(revocation, "subject").string_value(), "carol");
  EXPECT_EQ(Field(revocation, "reason").string_value(), reason);
  EXPECT_TRUE(IsRfc3339Utc(Field(revocation, "revoked_at"))) << admin.out;
  bool saw_bob = false;
  for (const Value& certificate :
       Field(identities, "certificates").list_value().values()) {
    const Struct& c = certificate.struct_value();
    EXPECT_TRUE(IsRfc3339Utc(Field(c, "expires"))) << admin.out;
    if (absl::EndsWith(Field(c, "spiffe_id").string_value(), "/user/bob")) {
      saw_bob = true;
      EXPECT_EQ(Field(c, "state").string_value(), "valid");
      EXPECT_FALSE(Field(c, "serial_hex").string_value().empty());
    }
  }
  EXPECT_TRUE(saw_bob) << admin.out;
  // The human listing escapes the same reason.
  CliRun human = Cli(farm, "alice", {"admin", "ls"});
  EXPECT_EQ(human.out.find('\x1b'), std::string::npos) << human.out;
  EXPECT_TRUE(absl::StrContains(human.out, "\\x1b[31mred")) << human.out;
}

}  // namespace
}  // namespace bowden::testing
