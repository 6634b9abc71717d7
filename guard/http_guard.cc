#include "guard/http_guard.h"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "guard/forwarding.h"
#include "guard/origin_check.h"

namespace bowden::guard {
namespace {

constexpr uint32_t kHeaderLimit = 16 * 1024;

std::string Reason(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 413:
      return "Payload Too Large";
    case 502:
      return "Bad Gateway";
    default:
      return "Error";
  }
}

bool HasToken(const RequestParser& request, absl::string_view name,
              absl::string_view token) {
  for (const auto& [field, value] : request.fields) {
    if (absl::EqualsIgnoreCase(field, name) &&
        absl::StrContains(absl::AsciiStrToLower(value), token)) {
      return true;
    }
  }
  return false;
}

}  // namespace

// OctoPrint's API errors are {"error": "..."} and its UI shows
// responseJSON.error where it shows a server's reason at all
// (docs/refusals.md), so "error" says in one sentence who refused what and
// why; "rule" and "reason" stay for scripts.
std::string HttpGuard::LocalAnswer(int status, absl::string_view rule, absl::string_view reason,
                                   bool close_after, absl::string_view extra_json,
                                   const GuardEvent& request, policy::Role role) {
  const std::string what =
      request.method.empty()
          ? std::string("a request")
          : absl::StrCat(request.method, " ", request.path.empty() ? "?" : request.path);
  const std::string error =
      absl::StrCat(status == 400 ? "Bowden could not read " : "Bowden refused ", what, " (",
                   policy::RoleName(role), "): ", reason, " [", rule, "]");
  std::string body = absl::StrCat("{\"error\":\"", JsonEscape(error), "\",\"rule\":\"",
                                  JsonEscape(rule), "\",\"reason\":\"", JsonEscape(reason),
                                  "\"", extra_json, ",\"by\":\"bowden-agent\"}\n");
  return absl::StrCat("HTTP/1.1 ", status, " ", Reason(status),
                      "\r\nContent-Type: application/json\r\nContent-Length: ", body.size(),
                      close_after ? "\r\nConnection: close" : "", "\r\n\r\n", body);
}

HttpGuard::HttpGuard(GuardConfig config)
    : config_(std::move(config)),
      proxy_{ForwardedForAddress(config_.user),
             config_.kind == TargetKind::kOctoPrint ? config_.remote_user_header : "",
             config_.kind == TargetKind::kOctoPrint ? config_.user : ""} {}

std::vector<GuardEvent> HttpGuard::TakeEvents() {
  std::vector<GuardEvent> events;
  events.swap(events_);
  return events;
}

void HttpGuard::FromClient(absl::string_view data, GuardOutput* out) {
  // Beast must not be handed the same bytes again after need_more (it
  // asserts on a repeated final chunk), so no data means no parse.
  if (data.empty()) return;
  if (raw_) {
    out->to_target.append(data.data(), data.size());
    return;
  }
  // After a refusal or a reset of the target nothing more is read.
  if (stop_parsing_ || abort_target_) return;
  client_buf_.append(data.data(), data.size());
  if (!parse_paused_) ParseClient(out);
}

bool HttpGuard::backlogged() const {
  return !raw_ && !stop_parsing_ &&
         (parse_paused_ || pending_.size() >= config_.max_pending_answers);
}

bool HttpGuard::wants_resume() const {
  return parse_paused_ && !raw_ && !stop_parsing_ &&
         pending_.size() < config_.max_pending_answers;
}

void HttpGuard::Resume(GuardOutput* out) {
  if (!wants_resume()) return;
  parse_paused_ = false;
  ParseClient(out);
  if (client_eof_ && !parse_paused_ && !raw_) EndOfClientInput();
}

bool HttpGuard::reading_head() const {
  if (raw_ || stop_parsing_ || parse_paused_ || upgrade_pending_) return false;
  return request_ != nullptr ? !header_seen_ : !client_buf_.empty();
}

bool HttpGuard::idle() const {
  return !raw_ && !close_client_ && pending_.empty() && request_ == nullptr &&
         client_buf_.empty();
}

bool HttpGuard::finished() const {
  return client_eof_ && !raw_ && !parse_paused_ && pending_.empty();
}

void HttpGuard::ParseClient(GuardOutput* out) {
  const size_t answered_before = out->to_client.size();
  while (!client_buf_.empty() && !stop_parsing_ && !upgrade_pending_ && !raw_) {
    if (request_ == nullptr) {
      // Between requests: stop while too many answers are owed, or this call
      // has answered enough itself; the rest waits for Resume().
      if (pending_.size() >= config_.max_pending_answers ||
          out->to_client.size() - answered_before >= config_.max_answer_bytes) {
        parse_paused_ = true;
        return;
      }
      request_ = std::make_unique<RequestParser>();
      request_->eager(false);  // stop after the header, then per body piece
      request_->header_limit(kHeaderLimit);
      request_->body_limit(std::numeric_limits<std::uint64_t>::max());
      header_seen_ = false;
      head_raw_.clear();
    }
    error_code ec;
    size_t n = request_->put(boost::asio::buffer(client_buf_), ec);
    // Beast may consume bytes and still ask for more (a start line parsed,
    // the fields not yet; a chunk header read, its data not yet): those bytes
    // are its own now and must not be fed again, so they are taken either way.
    const bool need_more = ec == http::error::need_more;
    if (ec && !need_more) {
      Refuse(400, "bad-request", absl::StrCat("the request cannot be parsed: ", ec.message()),
             out);
      return;
    }
    absl::string_view raw(client_buf_.data(), n);
    if (!header_seen_) {
      // The head may come in several pieces; it is judged whole.
      head_raw_.append(raw.data(), raw.size());
      if (request_->is_header_done()) {
        header_seen_ = true;
        std::string head = std::move(head_raw_);
        head_raw_.clear();
        OnRequestHeader(head, out);
      }
    } else if (n > 0) {
      OnRequestBody(raw, out);
    }
    client_buf_.erase(0, n);
    if (stop_parsing_) return;
    if (request_ != nullptr && request_->is_done()) OnRequestDone(out);
    if (need_more || n == 0) break;
  }
}

void HttpGuard::OnRequestHeader(absl::string_view raw_header, GuardOutput* out) {
  current_ = GuardEvent{};
  // Nothing of this request has gone anywhere yet; a refusal below must not
  // take the place of an earlier request still waiting for its answer.
  mode_ = Mode::kDiscard;
  current_.method = request_->method;
  absl::Status framing = CheckFraming(*request_, raw_header);
  if (!framing.ok()) {
    Refuse(400, "bad-request", framing.message(), out);
    return;
  }
  absl::StatusOr<CanonicalTarget> target = Canonicalize(request_->target);
  if (!target.ok()) {
    Refuse(400, "bad-path", target.status().message(), out);
    return;
  }
  current_.path = target->path;
  // Judged where it belongs, the Host and Origin checks included.
  if (absl::string_view moved = OtherTargetsRequest(target->path);
      !moved.empty()) {
    CloseUnanswered(moved, out);
    return;
  }
  // Before the rules: no role may be reached by another web page.
  if (std::optional<OriginRefusal> foreign = CheckHostAndOrigin(request_->fields)) {
    GuardEvent event = current_;
    event.verdict = "deny";
    event.rule = foreign->rule;
    event.reason = foreign->reason;
    QueueLocal(403, foreign->rule, foreign->reason, event, !request_->keep_alive(), out);
    return;
  }
  Decision decision =
      Decide(config_.kind, config_.role, request_->method, *target, config_.ceiling);
  current_.rule = decision.rule;
  if (!decision.allow) {
    mode_ = Mode::kDiscard;
    GuardEvent event = current_;
    event.verdict = "deny";
    event.reason = decision.reason;
    QueueLocal(403, decision.rule, decision.reason, event, !request_->keep_alive(), out);
    return;
  }
  current_.verdict = "allow";
  // What the target routes on; the audit keeps the path as requested.
  CanonicalTarget forward = *target;
  forward.path.erase(0, decision.strip_prefix.size());
  if (decision.inspect == Inspect::kUpload) {
    StartUpload(*target, out);
    return;
  }
  if (decision.inspect != Inspect::kNone) {
    mode_ = Mode::kInspect;
    inspect_ = decision.inspect;
    held_target_ = *target;
    request_->keep_body = true;
    held_head_ =
        BuildForwardedHead(*request_, forward, proxy_, /*drop_expect=*/true);
    held_body_.clear();
    // The client may wait for 100 Continue before sending the body the
    // guard needs; answer it here when nothing else is owed to the client.
    if (HasToken(*request_, "expect", "100-continue") && pending_.empty()) {
      out->to_client += "HTTP/1.1 100 Continue\r\n\r\n";
    }
    return;
  }
  mode_ = Mode::kStream;
  const bool redact = RedactsResponse(request_->method, *target);
  out->to_target += BuildForwardedHead(*request_, forward, proxy_, false, std::nullopt,
                                       /*plain_response=*/redact);
  Pending forwarded;
  forwarded.redact = redact;
  forwarded.head = request_->method == "HEAD";
  forwarded.upgrade = request_->upgrade();
  forwarded.event = current_;
  pending_.push_back(std::move(forwarded));
}

void HttpGuard::OnRequestBody(absl::string_view raw, GuardOutput* out) {
  switch (mode_) {
    case Mode::kStream:
      out->to_target.append(raw.data(), raw.size());
      return;
    case Mode::kInspect:
      held_body_.append(raw.data(), raw.size());
      if (request_->body.size() > config_.max_inspected_body) {
        Refuse(413, current_.rule,
               absl::StrCat("a body the guard must inspect is larger than ",
                            config_.max_inspected_body, " bytes"),
               out);
      }
      return;
    case Mode::kUpload:
      UploadBody(raw, out);
      return;
    case Mode::kDiscard:
      return;
  }
}

void HttpGuard::FinishInspected(GuardOutput* out) {
  BodyVerdict verdict;
  if (config_.inspect_body) {
    verdict = config_.inspect_body(BodyRequest{inspect_, held_target_.path, request_->body});
  } else {
    verdict.denial = "the agent has no inspector for this request";
  }
  if (!verdict.emergency_body.empty()) {
    // The emergency commands go on alone, whatever else the request held,
    // and never wait for the rest to be judged acceptable.
    out->to_target += BuildForwardedHead(*request_, held_target_, proxy_, /*drop_expect=*/true,
                                         verdict.emergency_body.size());
    out->to_target += verdict.emergency_body;
    Pending forwarded;
    forwarded.event = current_;
    forwarded.event.fields["emergency"] = verdict.emergency_commands;
    if (!verdict.allowed()) {
      const std::string reason = absl::StrCat(verdict.denial, "; ", verdict.emergency_commands,
                                              " went to the printer on its own");
      forwarded.event.verdict = "deny";
      forwarded.event.reason = reason;
      forwarded.replace_close = !request_->keep_alive();
      forwarded.replace_response = LocalAnswer(
          403, current_.rule, reason, forwarded.replace_close,
          absl::StrCat(",\"sent\":\"", JsonEscape(verdict.emergency_commands),
                       "\""),
          current_, config_.role);
    }
    pending_.push_back(std::move(forwarded));
  } else if (verdict.allowed()) {
    out->to_target += held_head_;
    out->to_target += held_body_;
    Pending forwarded;
    forwarded.event = current_;
    pending_.push_back(std::move(forwarded));
  } else {
    GuardEvent event = current_;
    event.verdict = "deny";
    event.reason = verdict.denial;
    QueueLocal(403, current_.rule, verdict.denial, event, !request_->keep_alive(), out);
  }
  held_head_.clear();
  held_body_.clear();
}

void HttpGuard::OnRequestDone(GuardOutput* out) {
  if (mode_ == Mode::kInspect) FinishInspected(out);
  if (mode_ == Mode::kUpload) {
    FinishUpload(out);
    if (request_ == nullptr) return;  // refused
  }
  bool keep_alive = request_->keep_alive();
  bool upgrade = mode_ == Mode::kStream && request_->upgrade();
  request_.reset();
  if (!keep_alive) stop_parsing_ = true;
  // Bytes after an upgrade request belong to the new protocol if the target
  // agrees (101), so they wait for its answer.
  if (upgrade) upgrade_pending_ = true;
}

HttpGuard::Pending HttpGuard::MakeLocal(int status, absl::string_view rule,
                                        absl::string_view reason, GuardEvent event,
                                        bool close_after, absl::string_view extra_json) {
  Pending local;
  local.id = next_id_++;
  local.local = true;
  local.close_after = close_after;
  local.response = LocalAnswer(status, rule, reason, close_after, extra_json,
                               event, config_.role);
  local.event = std::move(event);
  local.event.status = status;
  return local;
}

void HttpGuard::QueueLocal(int status, absl::string_view rule, absl::string_view reason,
                           GuardEvent event, bool close_after, GuardOutput* out,
                           absl::string_view extra_json) {
  pending_.push_back(MakeLocal(status, rule, reason, std::move(event), close_after, extra_json));
  FlushLocal(out);
}

void HttpGuard::Refuse(int status, absl::string_view rule, absl::string_view reason,
                       GuardOutput* out, absl::string_view extra_json) {
  GuardEvent event = current_;
  event.verdict = status == 400 ? "bad-request" : "deny";
  event.rule = std::string(rule);
  event.reason = std::string(reason);
  const bool upload = request_ != nullptr && header_seen_ && mode_ == Mode::kUpload;
  const bool partial_upload = upload && upload_head_sent_;
  if (upload && upload_ != nullptr) event.fields = upload_->fields();
  upload_.reset();
  upload_held_ = std::string();  // the held tail never goes out
  upload_head_sent_ = false;
  // A streamed request whose body turns out to be broken was already sent on;
  // the target will never answer half a request, so the refusal takes its
  // place in the queue of answers owed to the client.
  if (request_ != nullptr && header_seen_ && mode_ == Mode::kStream && !pending_.empty() &&
      !pending_.back().local) {
    pending_.pop_back();
  }
  stop_parsing_ = true;
  client_buf_.clear();
  request_.reset();
  if (partial_upload) {
    AbortPartialUpload(status, rule, reason, std::move(event), extra_json, out);
    return;
  }
  QueueLocal(status, rule, reason, event, /*close_after=*/true, out, extra_json);
}

absl::string_view HttpGuard::OtherTargetsRequest(absl::string_view path) {
  const bool under_webcam = absl::StartsWith(path, "/webcam/");
  if (++requests_seen_ == 1) {
    first_under_webcam_ = under_webcam;
    return "";
  }
  if (!config_.shared_port) return "";
  if (config_.kind == TargetKind::kOctoPrint && under_webcam)
    return "moved-to-webcam";
  if (config_.kind == TargetKind::kWebcam && first_under_webcam_ &&
      !under_webcam) {
    return "moved-to-octoprint";
  }
  return "";
}

void HttpGuard::CloseUnanswered(absl::string_view rule, GuardOutput* out) {
  Pending moved;
  moved.id = next_id_++;
  moved.local = true;  // with no response: nothing is sent for it
  moved.close_after = true;
  moved.event = current_;
  moved.event.verdict = "moved";
  moved.event.rule = std::string(rule);
  moved.event.reason = absl::StrCat(
      "the request belongs to the ",
      config_.kind == TargetKind::kOctoPrint ? "webcam" : "OctoPrint",
      " target on this shared port; the connection closed unanswered so the "
      "client "
      "sends it again on a fresh one");
  stop_parsing_ = true;
  client_buf_.clear();
  request_.reset();
  pending_.push_back(std::move(moved));
  FlushLocal(out);
}

void HttpGuard::FlushLocal(GuardOutput* out) {
  while (!pending_.empty() && pending_.front().local) {
    Pending& front = pending_.front();
    out->to_client += front.response;
    events_.push_back(front.event);
    if (front.close_after) close_client_ = true;
    if (front.abort_target) abort_target_ = true;
    pending_.pop_front();
  }
}

bool HttpGuard::ClientEof() {
  client_eof_ = true;
  if (raw_) return true;
  // Requests still wait in client_buf_: Resume() reads them, then ends.
  if (parse_paused_) return false;
  return EndOfClientInput();
}

bool HttpGuard::EndOfClientInput() {
  if (mode_ == Mode::kUpload && request_ != nullptr && upload_head_sent_) {
    // Part of an upload sits at the target and the rest will never come:
    // reset the target so OctoPrint drops it rather than waits.
    GuardEvent event = current_;
    event.verdict = "bad-request";
    event.reason = "the client closed its side before the upload was complete";
    if (upload_ != nullptr) event.fields = upload_->fields();
    events_.push_back(std::move(event));
    abort_target_ = true;
    close_client_ = true;
    stop_parsing_ = true;
    request_.reset();
    upload_.reset();
    upload_held_ = std::string();
    return false;
  }
  // A request cut off mid-way is dropped, not forwarded.
  if (request_ == nullptr && client_buf_.empty() && held_head_.empty()) return true;
  if (request_ != nullptr && header_seen_ && mode_ == Mode::kStream && !pending_.empty() &&
      !pending_.back().local) {
    // Its head and part of its body went on; no answer to it is owed.
    GuardEvent event = std::move(pending_.back().event);
    pending_.pop_back();
    event.verdict = "bad-request";
    event.reason = "the client closed its side before the request was complete";
    events_.push_back(std::move(event));
  }
  stop_parsing_ = true;
  request_.reset();
  client_buf_.clear();
  head_raw_.clear();
  held_head_.clear();
  held_body_.clear();
  upload_.reset();
  upload_held_ = std::string();
  return false;
}

}  // namespace bowden::guard
