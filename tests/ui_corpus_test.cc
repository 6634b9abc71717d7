#include "tests/ui_corpus.h"

#include <fstream>

#include "gtest/gtest.h"

namespace bowden::tests {
namespace {

UiRequest Request(std::string method, std::string target,
                  std::string body = "") {
  UiRequest r;
  r.method = std::move(method);
  r.target = std::move(target);
  r.body = std::move(body);
  return r;
}

TEST(PathGlobTest, OneStarStaysInItsSegmentTwoStarsCross) {
  EXPECT_TRUE(PathGlobMatches("/api/files/*", "/api/files/local"));
  EXPECT_FALSE(PathGlobMatches("/api/files/*", "/api/files/local/a.gcode"));
  EXPECT_TRUE(PathGlobMatches("/api/files/*/**", "/api/files/local/a/b.gcode"));
  EXPECT_TRUE(PathGlobMatches("/static/**", "/static/"));
  EXPECT_FALSE(PathGlobMatches("/static/**", "/staticx"));
  EXPECT_TRUE(PathGlobMatches("/", "/"));
  EXPECT_FALSE(PathGlobMatches("/", "/login"));
}

TEST(UiCorpusTest, ReadsEveryRecordedRequestWithOctoPrintsAnswer) {
  absl::StatusOr<std::vector<UiRequest>> corpus = LoadUiCorpus();
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  ASSERT_EQ(corpus->size(), 487u);  // the .md: admin 283, bob 204
  EXPECT_EQ((*corpus)[0].method, "GET");
  EXPECT_EQ((*corpus)[0].target, "/");
  EXPECT_EQ((*corpus)[0].status, 302);
  EXPECT_EQ((*corpus)[0].response_content_type, "text/html; charset=utf-8");
}

TEST(VerdictTableTest, FirstMatchingRowDecidesAndBodiesNarrowRows) {
  const std::string path = testing::TempDir() + "/table.md";
  {
    std::ofstream out(path);
    out << "prose\n<!-- ui-verdicts:begin -->\n"
        << "| method | path | body contains | viewer | operator | admin | rule "
           "| shows |\n"
        << "|---|---|---|---|---|---|---|---|\n"
        << "| POST | `/api/printer/command` | `\"M18\"` | refused | allow | "
           "allow | "
           "`octoprint.printer.command` | x |\n"
        << "| POST | `/api/printer/command` | - | refused | refused | allow | "
           "`octoprint.printer.command` | y |\n"
        << "| GET | `/static/**` | - | allow | allow | allow | - | |\n"
        << "<!-- ui-verdicts:end -->\n";
  }
  absl::StatusOr<VerdictTable> table = VerdictTable::Load(path);
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->rows().size(), 3u);
  const UiRequest motors_off =
      Request("POST", "/api/printer/command", R"({"commands":["M18"]})");
  const UiRequest terminal =
      Request("POST", "/api/printer/command", R"({"commands":["M105"]})");
  const UiRequest asset = Request("GET", "/static/js/app.js?v=1");
  const UiRequest unknown = Request("GET", "/nowhere");
  ASSERT_NE(table->Match(motors_off), nullptr);
  EXPECT_TRUE(table->Match(motors_off)->Allows(policy::Role::kOperator));
  EXPECT_FALSE(table->Match(terminal)->Allows(policy::Role::kOperator));
  EXPECT_TRUE(table->Match(terminal)->Allows(policy::Role::kAdmin));
  EXPECT_TRUE(table->Match(asset)->Allows(policy::Role::kViewer));
  EXPECT_EQ(table->Match(unknown), nullptr);
}

TEST(VerdictTableTest, AMissingTableOrAWrongVerdictIsAnError) {
  const std::string path = testing::TempDir() + "/bad.md";
  {
    std::ofstream out(path);
    out << "<!-- ui-verdicts:begin -->\n| GET | `/` | - | yes | allow | allow "
           "| - | |\n"
        << "<!-- ui-verdicts:end -->\n";
  }
  EXPECT_FALSE(VerdictTable::Load(path).ok());
  EXPECT_FALSE(VerdictTable::Load(testing::TempDir() + "/absent.md").ok());
}

}  // namespace
}  // namespace bowden::tests
