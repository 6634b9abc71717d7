// Replays the requests OctoPrint 1.10.3's own web UI made (recorded in
// shared/research, copied to tests/data) through the guard's rules and body
// inspection for each role, exactly as the agent judges them, and checks
// every verdict against the table in docs/octoprint-ui.md: allowed or
// refused, and for a refusal the rule that refused it. The table is the
// source of truth; a request it does not cover, or a row no request needs,
// fails here, so the document and the guard cannot drift apart.

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gcode/checker.h"
#include "gtest/gtest.h"
#include "guard/body_inspector.h"
#include "guard/canonical_path.h"
#include "guard/rules.h"
#include "tests/ui_corpus.h"

namespace bowden::guard {
namespace {

using policy::Role;
using tests::UiRequest;
using tests::VerdictRow;
using tests::VerdictTable;

constexpr Role kRoles[] = {Role::kViewer, Role::kOperator, Role::kAdmin};

// What the agent does with one request: the rules' decision and, when they
// let it through for inspection, the body's. Uploads are streamed through
// UploadInspector, which the recording's summarised multipart bodies cannot
// feed; their scan is http_guard_upload_test's.
struct GuardVerdict {
  bool allow = false;
  std::string rule;    // the deciding rule, also when a body is refused
  std::string reason;  // why it was refused
  Inspect inspect = Inspect::kNone;
};

GuardVerdict Judge(const UiRequest& request, Role role) {
  static const gcode::Checker* checker =
      new gcode::Checker(*gcode::Checker::Create(gcode::Ceiling()));
  absl::StatusOr<CanonicalTarget> target = Canonicalize(request.target);
  if (!target.ok())
    return {false, "bad-path", std::string(target.status().message())};
  const LocalCeiling local;  // the agent's defaults
  const Decision d =
      Decide(TargetKind::kOctoPrint, role, request.method, *target, local);
  if (!d.allow) return {false, d.rule, d.reason};
  if (d.inspect == Inspect::kNone || d.inspect == Inspect::kUpload) {
    return {true, d.rule, "", d.inspect};
  }
  const BodyVerdict body = InspectBody(
      *checker, local, BodyRequest{d.inspect, target->path, request.body});
  return {body.allowed(), d.rule, body.denial, d.inspect};
}

class UiTrafficReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::vector<UiRequest>> corpus = tests::LoadUiCorpus();
    ASSERT_TRUE(corpus.ok()) << corpus.status();
    corpus_ = *std::move(corpus);
    absl::StatusOr<VerdictTable> table = VerdictTable::Load();
    ASSERT_TRUE(table.ok()) << table.status();
    table_ = *std::move(table);
  }

  static std::string Describe(const UiRequest& r) {
    return absl::StrCat("tsv line ", r.line, ": ", r.method, " ", r.target,
                        r.body.empty() ? "" : " ", r.body.substr(0, 120));
  }

  std::vector<UiRequest> corpus_;
  VerdictTable table_;
};

TEST_F(UiTrafficReplayTest,
       EveryRecordedRequestGetsTheTablesVerdictForEveryRole) {
  ASSERT_EQ(corpus_.size(), 487u);
  for (const UiRequest& request : corpus_) {
    const VerdictRow* row = table_.Match(request);
    ASSERT_NE(row, nullptr)
        << Describe(request)
        << " matches no row of docs/octoprint-ui.md: add one";
    for (Role role : kRoles) {
      const GuardVerdict got = Judge(request, role);
      const std::string where =
          absl::StrCat(Describe(request), " as ", policy::RoleName(role),
                       " (docs/octoprint-ui.md line ", row->line, ")");
      EXPECT_EQ(got.allow, row->Allows(role))
          << where << ": the guard " << (got.allow ? "allows" : "refuses")
          << " it (" << got.rule << ": " << got.reason << ")";
      if (!got.allow && !row->Allows(role)) {
        EXPECT_EQ(got.rule, row->rule) << where << ": " << got.reason;
      }
    }
  }
}

// The first matching row decides, so a row that no recorded request reaches
// (written for nothing, or shadowed by an earlier row) is dead text.
TEST_F(UiTrafficReplayTest, EveryTableRowDecidesSomeRecordedRequest) {
  std::set<int> used;
  for (const UiRequest& request : corpus_) {
    if (const VerdictRow* row = table_.Match(request)) used.insert(row->line);
  }
  for (const VerdictRow& row : table_.rows()) {
    EXPECT_TRUE(used.count(row.line))
        << "docs/octoprint-ui.md line " << row.line << " (" << row.method << " "
        << row.path_glob << " " << row.body_contains
        << ") decides no recorded request";
  }
  EXPECT_GE(table_.rows().size(), 40u);
}

// Every body the UI sends to an inspected endpoint passes the inspection for
// admin, except the ceiling's two refusals (the terminal's M997, and the
// temperature offset +5, which would lift any target past the cap the guard
// checked): typing and % rendering must not break the UI's own requests.
// Operators' bodies pass too, except the terminal's (admin's).
TEST_F(UiTrafficReplayTest, TheUisOwnBodiesPassTheirInspection) {
  int inspected = 0;
  for (const UiRequest& request : corpus_) {
    const bool ceiling =
        absl::StrContains(request.body, "M997") ||
        absl::StrContains(request.body, R"("offsets":{"tool0":5})");
    const GuardVerdict admin = Judge(request, Role::kAdmin);
    if (admin.inspect != Inspect::kNone && admin.inspect != Inspect::kUpload) {
      ++inspected;
      EXPECT_EQ(admin.allow, !ceiling)
          << Describe(request) << " -> " << admin.reason;
    }
    const GuardVerdict op = Judge(request, Role::kOperator);
    if (op.inspect != Inspect::kNone && op.inspect != Inspect::kUpload &&
        op.inspect != Inspect::kOperatorCommand) {
      EXPECT_EQ(op.allow, !ceiling) << Describe(request) << " -> " << op.reason;
    }
  }
  EXPECT_EQ(inspected, 70);  // jog, heaters, terminal, files, settings
}

}  // namespace
}  // namespace bowden::guard
