#include "tests/ui_corpus.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace bowden::tests {
namespace {

constexpr absl::string_view kBegin = "<!-- ui-verdicts:begin -->";
constexpr absl::string_view kEnd = "<!-- ui-verdicts:end -->";

// A cell's text without surrounding spaces and backticks.
std::string Cell(absl::string_view cell) {
  cell = absl::StripAsciiWhitespace(cell);
  if (cell.size() >= 2 && cell.front() == '`' && cell.back() == '`') {
    cell = cell.substr(1, cell.size() - 2);
  }
  return std::string(cell);
}

absl::StatusOr<bool> ParseVerdict(absl::string_view cell, int line) {
  if (cell == "allow") return true;
  if (cell == "refused") return false;
  return absl::InvalidArgumentError(absl::StrCat(
      "line ", line, ": a verdict is 'allow' or 'refused', not '", cell, "'"));
}

}  // namespace

bool PathGlobMatches(absl::string_view glob, absl::string_view path) {
  if (glob.empty()) return path.empty();
  if (absl::StartsWith(glob, "**")) {
    for (size_t i = 0; i <= path.size(); ++i) {
      if (PathGlobMatches(glob.substr(2), path.substr(i))) return true;
    }
    return false;
  }
  if (glob.front() == '*') {
    for (size_t i = 0; i <= path.size(); ++i) {
      if (PathGlobMatches(glob.substr(1), path.substr(i))) return true;
      if (i < path.size() && path[i] == '/') break;
    }
    return false;
  }
  return !path.empty() && path.front() == glob.front() &&
         PathGlobMatches(glob.substr(1), path.substr(1));
}

absl::StatusOr<std::vector<UiRequest>> LoadUiCorpus(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::vector<UiRequest> requests;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (line == 1) continue;  // header
    std::vector<std::string> f = absl::StrSplit(text, '\t');
    UiRequest r;
    if (f.size() != 9 || !absl::SimpleAtoi(f[7], &r.status)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line, ": expected 9 tab-separated columns"));
    }
    r.line = line;
    r.user = f[0];
    r.flow = f[1];
    r.step = f[2];
    r.method = f[3];
    r.target = f[4];
    r.content_type = f[5] == "-" ? "" : f[5];
    r.body = f[6] == "-" ? "" : f[6];
    r.response_content_type = f[8] == "-" ? "" : f[8];
    requests.push_back(std::move(r));
  }
  return requests;
}

bool VerdictRow::Allows(policy::Role role) const {
  switch (role) {
    case policy::Role::kViewer:
      return allow_viewer;
    case policy::Role::kOperator:
      return allow_operator;
    case policy::Role::kAdmin:
      return allow_admin;
  }
  return false;
}

absl::StatusOr<VerdictTable> VerdictTable::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  VerdictTable table;
  std::string text;
  int line = 0;
  bool inside = false, ended = false;
  while (std::getline(in, text)) {
    ++line;
    absl::string_view t = absl::StripAsciiWhitespace(text);
    if (t == kBegin) {
      inside = true;
      continue;
    }
    if (t == kEnd) {
      ended = inside;
      break;
    }
    if (!inside || !absl::ConsumePrefix(&t, "|")) continue;
    absl::ConsumeSuffix(&t, "|");
    std::vector<absl::string_view> cells = absl::StrSplit(t, '|');
    if (cells.size() < 7) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line, ": a verdict row has at least 7 columns"));
    }
    const std::string method = Cell(cells[0]);
    if (method == "method" || absl::StartsWith(method, "---"))
      continue;  // header
    VerdictRow row;
    row.line = line;
    row.method = method;
    row.path_glob = Cell(cells[1]);
    row.body_contains = Cell(cells[2]) == "-" ? "" : Cell(cells[2]);
    absl::StatusOr<bool> viewer = ParseVerdict(Cell(cells[3]), line);
    absl::StatusOr<bool> op = ParseVerdict(Cell(cells[4]), line);
    absl::StatusOr<bool> admin = ParseVerdict(Cell(cells[5]), line);
    if (!viewer.ok()) return viewer.status();
    if (!op.ok()) return op.status();
    if (!admin.ok()) return admin.status();
    row.allow_viewer = *viewer;
    row.allow_operator = *op;
    row.allow_admin = *admin;
    row.rule = Cell(cells[6]) == "-" ? "" : Cell(cells[6]);
    if (row.path_glob.empty() || row.path_glob.front() != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line, ": the path must start with '/'"));
    }
    table.rows_.push_back(std::move(row));
  }
  if (!ended) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": no table between ", kBegin, " and ", kEnd));
  }
  return table;
}

const VerdictRow* VerdictTable::Match(const UiRequest& request) const {
  const std::string path = request.path();
  for (const VerdictRow& row : rows_) {
    if (row.method != request.method) continue;
    if (!PathGlobMatches(row.path_glob, path)) continue;
    if (!row.body_contains.empty() &&
        !absl::StrContains(request.body, row.body_contains)) {
      continue;
    }
    return &row;
  }
  return nullptr;
}

}  // namespace bowden::tests
