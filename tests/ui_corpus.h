#ifndef BOWDEN_TESTS_UI_CORPUS_H_
#define BOWDEN_TESTS_UI_CORPUS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "policy/policy.h"

namespace bowden::tests {

// One HTTP request the real OctoPrint 1.10.3 web UI made, and OctoPrint's
// answer to it, as recorded in tests/data/octoprint-1.10.3-ui-traffic.tsv
// (copied from shared/research; columns described in its .md).
struct UiRequest {
  int line = 0;  // in the .tsv, for messages
  std::string user, flow, step, method;
  std::string target;  // path and query
  std::string content_type, body;
  int status = 0;  // what OctoPrint answered
  std::string response_content_type;

  std::string path() const { return target.substr(0, target.find('?')); }
};

// Reads the recording; an unreadable file or a malformed line is an error.
absl::StatusOr<std::vector<UiRequest>> LoadUiCorpus(
    const std::string& path = "tests/data/octoprint-1.10.3-ui-traffic.tsv");

// One row of the verdict table in docs/octoprint-ui.md: what the guard does
// with the UI's requests that match it, for each role.
struct VerdictRow {
  int line = 0;  // in the markdown file
  std::string method;
  std::string path_glob;      // `*` within one segment, `**` across segments
  std::string body_contains;  // empty: any body
  bool allow_viewer = false, allow_operator = false, allow_admin = false;
  std::string rule;  // the refusing rule id, "" when every role is allowed

  bool Allows(policy::Role role) const;
};

// The table between <!-- ui-verdicts:begin --> and <!-- ui-verdicts:end -->
// in docs/octoprint-ui.md, with the columns
//   | method | path | body contains | viewer | operator | admin | rule | ... |
// where path and body are in backticks (body `-` for any), verdicts are
// "allow" or "refused", and further columns are prose. The first row that
// matches a request decides. Docs and tests read the same table, so the
// document cannot drift from what is tested.
//
// Thread-compatible; immutable after Load().
class VerdictTable {
 public:
  static absl::StatusOr<VerdictTable> Load(
      const std::string& path = "docs/octoprint-ui.md");

  // The first row matching `request`, or nullptr.
  const VerdictRow* Match(const UiRequest& request) const;
  const std::vector<VerdictRow>& rows() const { return rows_; }

 private:
  std::vector<VerdictRow> rows_;
};

// `*` matches any run of characters but '/', `**` any run at all.
bool PathGlobMatches(absl::string_view glob, absl::string_view path);

}  // namespace bowden::tests

#endif  // BOWDEN_TESTS_UI_CORPUS_H_
