// HttpGuard's upload path: multipart uploads stream through to the target
// with their tail held back until every file passed the G-code ceiling.
// See the class comment in http_guard.h.

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "guard/forwarding.h"
#include "guard/http_guard.h"

namespace bowden::guard {

const char kUploadsNotScanned[] =
    "this agent does not yet scan uploaded G-code files, so uploads through "
    "the tunnel are refused; upload on the printer's own network";

size_t HttpGuard::buffered_bytes() const {
  return client_buf_.size() + target_buf_.size() + held_head_.size() + held_body_.size() +
         upload_held_.size() + redacted_head_.size() +
         (response_ != nullptr ? response_->body.size() : 0);
}

void HttpGuard::StartUpload(const CanonicalTarget& target, GuardOutput* out) {
  if (!config_.new_upload_scanner) {
    GuardEvent event = current_;
    event.verdict = "deny";
    event.reason = kUploadsNotScanned;
    QueueLocal(403, current_.rule, kUploadsNotScanned, event, !request_->keep_alive(), out);
    return;  // mode_ stays kDiscard: the body is read and dropped
  }
  // OctoPrint's upload endpoint takes no query; refusing one spares the
  // guard from reading query keys the way OctoPrint does (a "*.path" key
  // there is as dangerous as a form field).
  if (!target.query.empty()) {
    Refuse(403, current_.rule, "an upload takes no query string", out);
    return;
  }
  std::string content_type;
  int content_types = 0;
  for (const auto& [name, value] : request_->fields) {
    if (absl::EqualsIgnoreCase(name, "content-type")) {
      ++content_types;
      content_type = value;
    }
    // The guard reads the body as sent; a coded one it cannot judge.
    if (absl::EqualsIgnoreCase(name, "content-encoding") &&
        !absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(value), "identity")) {
      Refuse(400, "bad-multipart", "an upload must not have a Content-Encoding", out);
      return;
    }
  }
  absl::StatusOr<std::unique_ptr<UploadInspector>> upload =
      content_types == 1
          ? UploadInspector::Create(content_type, config_.new_upload_scanner)
          : absl::InvalidArgumentError("an upload needs exactly one Content-Type");
  if (!upload.ok()) {
    Refuse(400, "bad-multipart", upload.status().message(), out);
    return;
  }
  mode_ = Mode::kUpload;
  upload_ = *std::move(upload);
  upload_head_sent_ = false;
  upload_id_ = 0;
  request_->keep_body = true;  // each put()'s decoded bytes, then cleared
  request_->body.clear();
  // The head is held with the body: a small upload is judged before the
  // target sees any of it. The guard answers 100 Continue itself (when no
  // other answer is owed first) so the client sends the body it must see.
  upload_held_ = BuildForwardedHead(*request_, target, proxy_, /*drop_expect=*/true);
  bool expect = false;
  for (const auto& [name, value] : request_->fields) {
    if (absl::EqualsIgnoreCase(name, "expect") &&
        absl::StrContains(absl::AsciiStrToLower(value), "100-continue")) {
      expect = true;
    }
  }
  if (expect && pending_.empty()) out->to_client += "HTTP/1.1 100 Continue\r\n\r\n";
}

void HttpGuard::UploadBody(absl::string_view raw, GuardOutput* out) {
  upload_held_.append(raw.data(), raw.size());
  absl::Status fed = upload_->Feed(request_->body);
  request_->body.clear();
  if (!fed.ok()) {
    UploadFailed(fed, out);
    return;
  }
  // Release in steps of the hold, so the copying stays linear.
  const size_t hold = std::max<size_t>(1, config_.upload_hold_bytes);
  if (upload_held_.size() >= 2 * hold) ReleaseUpload(hold, out);
}

void HttpGuard::FinishUpload(GuardOutput* out) {
  absl::Status done = upload_->Finish();
  if (!done.ok()) {
    UploadFailed(done, out);
    return;
  }
  ReleaseUpload(0, out);
  if (Pending* entry = FindPending(upload_id_); entry != nullptr) {
    entry->event.fields = upload_->fields();
  }
  upload_.reset();
  upload_held_ = std::string();
  upload_head_sent_ = false;
}

void HttpGuard::UploadFailed(const absl::Status& status, GuardOutput* out) {
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    Refuse(400, "bad-multipart", status.message(), out);
    return;
  }
  // A refusal, or anything else that kept the upload from being judged.
  std::string extra = upload_->refusal_json();
  Refuse(403, current_.rule, status.message(), out, extra);
}

void HttpGuard::ReleaseUpload(size_t keep, GuardOutput* out) {
  if (upload_held_.size() <= keep) return;
  if (!upload_head_sent_) {
    upload_head_sent_ = true;
    Pending forwarded;
    forwarded.id = upload_id_ = next_id_++;
    forwarded.event = current_;
    pending_.push_back(std::move(forwarded));
  }
  size_t n = upload_held_.size() - keep;
  out->to_target.append(upload_held_, 0, n);
  upload_held_.erase(0, n);
}

void HttpGuard::AbortPartialUpload(int status, absl::string_view rule,
                                   absl::string_view reason, GuardEvent event,
                                   absl::string_view extra_json, GuardOutput* out) {
  Pending* entry = FindPending(upload_id_);
  if (entry == &pending_.front() && response_ != nullptr) entry = nullptr;
  if (entry == nullptr) {
    // The target already answers (e.g. 413 before reading the body); the
    // client has (some of) that answer, so only the connections end.
    event.status = 0;
    events_.push_back(std::move(event));
    abort_target_ = true;
    close_client_ = true;
    return;
  }
  // The refusal takes the upload's place among the answers owed, so the
  // answers to earlier requests still come first; when it goes out, the
  // target connection is reset with the upload unfinished.
  *entry = MakeLocal(status, rule, reason, std::move(event), /*close_after=*/true, extra_json);
  entry->abort_target = true;
  FlushLocal(out);
}

HttpGuard::Pending* HttpGuard::FindPending(uint64_t id) {
  if (id == 0) return nullptr;
  for (Pending& pending : pending_) {
    if (pending.id == id) return &pending;
  }
  return nullptr;
}

}  // namespace bowden::guard
