// Replays the requests OctoPrint 1.10.3's own web UI made (recorded in
// shared/research, copied to tests/data) through the guard's rules and body
// inspection, for each role, and checks every verdict against what
// docs/security.md and docs/gcode-surface.md promise: the UI's requests pass,
// except the ones listed here with the reason they are refused.

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gcode/checker.h"
#include "gtest/gtest.h"
#include "guard/body_inspector.h"
#include "guard/canonical_path.h"
#include "guard/rules.h"

namespace bowden::guard {
namespace {

struct Row {
  std::string user, flow, step, method, target, content_type, body;
};

std::vector<Row> Rows() {
  std::ifstream in("tests/data/octoprint-1.10.3-ui-traffic.tsv");
  std::vector<Row> rows;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() < 7) continue;
    rows.push_back({f[0], f[1], f[2], f[3], f[4], f[5], f[6]});
  }
  return rows;
}

// "allow" or the refusing rule id (with "/body" when the body was refused).
std::string Verdict(const Row& row, policy::Role role) {
  static const gcode::Checker* checker =
      new gcode::Checker(*gcode::Checker::Create(gcode::Ceiling()));
  absl::StatusOr<CanonicalTarget> target = Canonicalize(row.target);
  if (!target.ok()) return "bad-path";
  Decision d = Decide(TargetKind::kOctoPrint, role, row.method, *target, LocalCeiling{});
  if (!d.allow) return d.rule;
  if (d.inspect == Inspect::kNone || d.inspect == Inspect::kUpload) return "allow";
  BodyVerdict v = InspectBody(*checker, LocalCeiling{}, BodyRequest{d.inspect, target->path, row.body});
  return v.allowed() ? "allow" : d.rule + "/body: " + v.denial;
}

// Which of the UI's requests each role's guard refuses, as "METHOD /path
// -> rule" (path without the query; a body refusal adds "/body"). Anything
// the UI sends that is not listed here must pass. The lists are what the
// rule table and docs/security.md say today; issue 11 (the stock UI for
// every role) shrinks them.
std::set<std::string> Refused(policy::Role role) {
  std::set<std::string> refused;
  for (const Row& row : Rows()) {
    if (row.user == "user") continue;  // the file's header line
    std::string v = Verdict(row, role);
    if (v == "allow") continue;
    const std::string path = row.target.substr(0, row.target.find('?'));
    refused.insert(absl::StrCat(row.method, " ", path, " -> ", v.substr(0, v.find(':'))));
  }
  return refused;
}

// Reads and admin pages the rule table refuses below admin or for everyone
// (plugin routes not in the table, user management, system, plugin manager).
const std::set<std::string> kRefusedForEveryone = {
    "GET /api/access/groups -> octoprint.access",
    "GET /api/access/users -> octoprint.access",
    "GET /api/access/users/admin -> octoprint.access",
    "GET /api/access/users/bob -> octoprint.access",
    "GET /api/plugin/action_command_notification -> default-deny",
    "GET /api/plugin/appkeys -> octoprint.appkeys",
    "GET /api/plugin/file_check -> default-deny",
    "GET /api/plugin/firmware_check -> default-deny",
    "GET /api/system/commands -> octoprint.system",
    "GET /api/system/info -> octoprint.system",
    "GET /api/system/startup -> octoprint.system",
    "GET /i18n/en/messages.js -> default-deny",
    "GET /plugin/achievements/ -> default-deny",
    "GET /plugin/backup/ -> octoprint.backup",
    "GET /plugin/gcodeviewer/skipuntilcheck/local/rec-admin-folder/rec-admin.gcode -> default-deny",
    "GET /plugin/gcodeviewer/skipuntilcheck/local/rec-bob-folder/rec-bob.gcode -> default-deny",
    "GET /plugin/logging/ -> default-deny",
    "GET /plugin/pluginmanager/orphans -> octoprint.pluginmanager",
    "GET /plugin/pluginmanager/plugins -> octoprint.pluginmanager",
    "GET /plugin/pluginmanager/repository -> octoprint.pluginmanager",
    // The G-code ceiling, for every role: the terminal's M997, and the
    // temperature offset +5 (a positive offset would lift any target past
    // the cap the guard checked; docs/gcode-surface.md).
    "POST /api/printer/command -> octoprint.printer.command/body",
    "POST /api/printer/tool -> octoprint.printer.tool/body",
};

std::set<std::string> Union(std::set<std::string> a, const std::set<std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

TEST(UiTrafficReplayTest, AdminsGetEverythingButTheCeilingAndTheLocalFlags) {
  EXPECT_EQ(Refused(policy::Role::kAdmin), kRefusedForEveryone);
}

TEST(UiTrafficReplayTest, OperatorsControlThePrinterButNotItsSettingsOrTerminal) {
  EXPECT_EQ(Refused(policy::Role::kOperator),
            Union(kRefusedForEveryone,
                  {"GET /api/languages -> octoprint.languages",
                   "GET /downloads/logs/serial.log -> octoprint.logs",
                   "GET /reverse_proxy_test/ -> octoprint.proxy-test",
                   // The UI's connect carries "autoconnect", which writes settings.
                   "POST /api/connection -> octoprint.connection.control/body",
                   "POST /api/settings -> octoprint.settings.write"}));
}

TEST(UiTrafficReplayTest, ViewersOnlyWatch) {
  std::set<std::string> refused = Refused(policy::Role::kViewer);
  // Nothing that moves, heats, prints, stores or changes anything passes.
  for (const Row& row : Rows()) {
    if (row.user == "user" || row.method == "GET") continue;
    const bool harmless = absl::StartsWith(row.target, "/api/login") ||
                          absl::StartsWith(row.target, "/api/logout") ||
                          absl::StartsWith(row.target, "/api/files/test");
    EXPECT_EQ(Verdict(row, policy::Role::kViewer) == "allow", harmless)
        << row.method << " " << row.target << " " << row.body;
  }
  for (const char* read : {"GET /api/settings -> octoprint.settings.read",
                           "GET /downloads/files/local/rec-bob-folder/rec-bob.gcode -> "
                           "octoprint.files.download"}) {
    EXPECT_TRUE(refused.count(read)) << read;
  }
}

// Every body the UI sends to an inspected endpoint passes the inspection for
// the roles the rules let through, except the two ceiling refusals above and
// the operator's terminal and connect: typing and % rendering must not break
// the UI's own requests.
TEST(UiTrafficReplayTest, TheUisOwnBodiesPassTheirInspection) {
  int inspected = 0;
  for (const Row& row : Rows()) {
    if (row.user == "user") continue;
    absl::StatusOr<CanonicalTarget> target = Canonicalize(row.target);
    ASSERT_TRUE(target.ok()) << row.target;
    Decision d = Decide(TargetKind::kOctoPrint, policy::Role::kAdmin, row.method, *target,
                        LocalCeiling{});
    if (!d.allow || d.inspect == Inspect::kNone || d.inspect == Inspect::kUpload) continue;
    ++inspected;
    const std::string v = Verdict(row, policy::Role::kAdmin);
    const bool ceiling = absl::StrContains(row.body, "M997") ||
                         absl::StrContains(row.body, R"("offsets":{"tool0":5})");
    EXPECT_EQ(v == "allow", !ceiling) << row.target << " " << row.body << " -> " << v;
  }
  EXPECT_EQ(inspected, 70);  // jog, heaters, terminal, files, connect, settings
}

}  // namespace
}  // namespace bowden::guard
