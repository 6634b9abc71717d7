// HttpGuard: OctoPrint's settings for roles below admin. OctoPrint sends the
// global API key and plugin secrets to any session logged in as an OctoPrint
// admin, and the OctoPrint login of a tunnel viewer may be an admin's, so
// the guard rewrites the answer itself (RedactSettings) rather than trust
// OctoPrint's permission checks.

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "guard/http_guard.h"
#include "guard/settings_redactor.h"

namespace bowden::guard {
namespace {

// Fields that describe the body as OctoPrint sent it, not as rewritten.
bool DescribesOriginalBody(absl::string_view name) {
  static constexpr absl::string_view kDropped[] = {
      "content-length", "transfer-encoding", "content-encoding", "trailer", "content-md5",
      "digest",         "content-digest",    "repr-digest",
  };
  const std::string lower = absl::AsciiStrToLower(name);
  for (absl::string_view dropped : kDropped) {
    if (lower == dropped) return true;
  }
  return false;
}

std::string RebuiltHead(const ResponseParser& response, size_t body_size) {
  std::string head = absl::StrCat("HTTP/", response.version / 10, ".", response.version % 10, " ",
                                  response.status, " ", response.reason, "\r\n");
  for (const auto& [name, value] : response.fields) {
    if (!DescribesOriginalBody(name)) absl::StrAppend(&head, name, ": ", value, "\r\n");
  }
  absl::StrAppend(&head, "Content-Length: ", body_size, "\r\n\r\n");
  return head;
}

// For the audit event: how many values became null, and which (names only,
// never values), at most ten.
std::string Summary(const std::vector<std::string>& paths) {
  constexpr size_t kListed = 10;
  std::string summary = absl::StrCat(paths.size(), paths.size() == 1 ? " field" : " fields");
  if (paths.empty()) return summary;
  std::vector<std::string> listed(paths.begin(), paths.begin() + std::min(paths.size(), kListed));
  absl::StrAppend(&summary, ": ", absl::StrJoin(listed, ", "),
                  paths.size() > kListed ? ", ..." : "");
  return summary;
}

constexpr char kSettingsPath[] = "/api/settings";

}  // namespace

bool HttpGuard::RedactsResponse(absl::string_view method, const CanonicalTarget& target) const {
  // HEAD has no body; writes (POST) are admin's and answered to an admin.
  return config_.kind == TargetKind::kOctoPrint && config_.role < policy::Role::kAdmin &&
         method == "GET" && target.path == kSettingsPath;
}

bool HttpGuard::OnRedactedHead(GuardOutput* out) {
  // No body at all (304 Not Modified, 204, an interim 1xx, an empty 200):
  // nothing to rewrite, and the browser's cached copy came through here.
  if (response_->is_done() && response_->body.empty()) {
    redaction_ = Redaction::kPassThrough;
    out->to_client += redacted_head_;
    redacted_head_.clear();
    return true;
  }
  for (const auto& [name, value] : response_->fields) {
    if (!absl::EqualsIgnoreCase(name, "content-encoding")) continue;
    const absl::string_view coding = absl::StripAsciiWhitespace(value);
    if (!coding.empty() && !absl::EqualsIgnoreCase(coding, "identity")) {
      RefuseRedacted(absl::StrCat("OctoPrint sent its settings encoded (Content-Encoding: ", coding,
                                  "), which the agent cannot rewrite to remove their secrets; "
                                  "check that nothing between the agent and OctoPrint "
                                  "compresses answers"),
                     out);
      return false;
    }
  }
  // The raw head and body bytes are dropped: the parser keeps the decoded
  // body, and the head is rebuilt for the rewritten body.
  redaction_ = Redaction::kBody;
  redacted_head_.clear();
  return true;
}

void HttpGuard::FinishRedacted(GuardOutput* out) {
  Pending& front = pending_.front();
  int status = response_->status;
  absl::StatusOr<RedactedSettings> redacted = RedactSettings(response_->body);
  if (redacted.ok()) {
    out->to_client += RebuiltHead(*response_, redacted->json.size());
    out->to_client += redacted->json;
    front.event.fields["redacted"] = Summary(redacted->paths);
  } else {
    // The answer is complete, so the connection can go on.
    const std::string reason =
        absl::StrCat("OctoPrint's answer to GET ", kSettingsPath,
                     " is not a JSON object, so the agent cannot remove secrets from it");
    out->to_client += LocalAnswer(502, front.event.rule, reason, /*close_after=*/false, "", front.event,
                                  config_.role);
    front.event.reason = reason;
    front.event.fields["redacted"] = "refused";
    status = 502;
  }
  response_.reset();
  redaction_ = Redaction::kNone;
  CompleteResponse(status, out);
}

void HttpGuard::RefuseRedacted(absl::string_view reason, GuardOutput* out) {
  Pending done = std::move(pending_.front());
  pending_.pop_front();
  done.event.status = 502;
  done.event.reason = std::string(reason);
  if (done.redact) done.event.fields["redacted"] = "refused";
  out->to_client += LocalAnswer(502, done.event.rule, reason, /*close_after=*/true, "", done.event,
                                config_.role);
  events_.push_back(std::move(done.event));
  // The rest of the answer must not reach the client, and where the answers
  // after it begin is unknown: both connections end (the answers still owed
  // are audited by EndConnection).
  response_.reset();
  redaction_ = Redaction::kNone;
  redacted_head_.clear();
  target_buf_.clear();
  abort_target_ = true;
  close_client_ = true;
  stop_parsing_ = true;
  client_buf_.clear();
  request_.reset();
}

}  // namespace bowden::guard
