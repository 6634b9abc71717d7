// HttpGuard's response side: the target's answers, framed with Beast so
// each one ends where it should, the guard's own answers queued between
// them in request order, and the end of the connection.

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "guard/http_guard.h"

namespace bowden::guard {

void HttpGuard::FromTarget(absl::string_view data, GuardOutput* out) {
  // A reset connection says nothing more; and see FromClient on no data.
  if (abort_target_ || data.empty()) return;
  if (raw_ || target_unframed_ || pending_.empty()) {
    // Raw mode, or bytes nobody asked for (e.g. a 408 before the target
    // closes): pass them on as they are.
    out->to_client.append(data.data(), data.size());
    return;
  }
  target_buf_.append(data.data(), data.size());
  while (!target_buf_.empty() && !pending_.empty() && !raw_ && !abort_target_) {
    if (response_ == nullptr) {
      response_ = std::make_unique<ResponseParser>();
      response_->eager(true);
      response_->header_limit(64 * 1024);
      response_->body_limit(std::numeric_limits<std::uint64_t>::max());
      if (pending_.front().head) response_->skip(true);
      redaction_ = Redaction::kNone;
      if (pending_.front().redact) {
        redaction_ = Redaction::kHead;
        response_->keep = true;
        response_->body_limit(config_.max_redacted_body);
      }
    }
    error_code ec;
    size_t n = response_->put(boost::asio::buffer(target_buf_), ec);
    // As for requests: bytes consumed before need_more are passed on now.
    const bool need_more = ec == http::error::need_more;
    if (ec && !need_more) {
      if (std::any_of(pending_.begin(), pending_.end(),
                      [](const Pending& owed) { return owed.redact; })) {
        // Passing the rest on as bytes would pass OctoPrint's settings
        // unredacted: they end the connection instead.
        RefuseRedacted(
            ec == http::error::body_limit
                ? absl::StrCat("OctoPrint's settings are larger than the ",
                               config_.max_redacted_body,
                               " bytes the agent rewrites to remove their secrets")
                : absl::StrCat("OctoPrint's answer cannot be parsed (", ec.message(),
                               "), so its settings cannot be rewritten to remove their secrets"),
            out);
        return;
      }
      // The target's framing cannot be followed, so neither can the order
      // of answers: pass what it says on as it is and end the connection.
      // The client's side stays guarded (never raw): nothing more of it is
      // read, and an upload cut off at the target is reset there.
      target_unframed_ = true;
      out->to_client += target_buf_;
      target_buf_.clear();
      if (mode_ == Mode::kUpload && request_ != nullptr && upload_head_sent_) {
        abort_target_ = true;
      }
      stop_parsing_ = true;
      client_buf_.clear();
      request_.reset();
      close_client_ = true;
      return;
    }
    switch (redaction_) {
      case Redaction::kHead:
        redacted_head_.append(target_buf_, 0, n);
        break;
      case Redaction::kBody:
        break;  // the parser keeps the decoded body
      case Redaction::kNone:
      case Redaction::kPassThrough:
        // A request forwarded in place of a refused one has its own answer.
        if (pending_.front().replace_response.empty()) out->to_client.append(target_buf_, 0, n);
        break;
    }
    target_buf_.erase(0, n);
    if (redaction_ == Redaction::kHead && response_->is_header_done() && !OnRedactedHead(out)) {
      return;
    }
    if (need_more) break;
    if (response_->is_header_done() && response_->status == 101 &&
        pending_.front().upgrade) {
      CompleteResponse(101, out);
      GoRaw(out);
      return;
    }
    if (response_->is_done()) {
      if (response_->status >= 100 && response_->status < 200) {
        response_.reset();
        continue;  // interim; the final follows
      }
      ResponseDone(out);
    }
    if (n == 0) break;
  }
}

void HttpGuard::ResponseDone(GuardOutput* out) {
  if (redaction_ == Redaction::kBody) {
    FinishRedacted(out);
    return;
  }
  const int status = response_->status;
  response_.reset();
  redaction_ = Redaction::kNone;
  CompleteResponse(status, out);
}

void HttpGuard::CompleteResponse(int status, GuardOutput* out) {
  Pending done = std::move(pending_.front());
  pending_.pop_front();
  done.event.status = status;
  if (!done.replace_response.empty()) {
    out->to_client += done.replace_response;
    done.event.status = 403;
    if (done.replace_close) close_client_ = true;
  }
  events_.push_back(std::move(done.event));
  if (done.upgrade && status != 101 && upgrade_pending_) {
    upgrade_pending_ = false;  // refused: the next bytes are HTTP again
    FlushLocal(out);
    ParseClient(out);
    return;
  }
  FlushLocal(out);
}

void HttpGuard::EndConnection() {
  // After a 101 the upgrade's event is out and nothing else is owed.
  if (!raw_) {
    for (Pending& owed : pending_) {
      GuardEvent event = std::move(owed.event);
      if (!owed.local) {  // a local answer's event is already complete
        event.interrupted = true;
        const bool answering = &owed == &pending_.front() &&
                               response_ != nullptr &&
                               response_->is_header_done();
        event.status = answering ? static_cast<int>(response_->status) : 0;
      }
      events_.push_back(std::move(event));
    }
  }
  pending_.clear();
  response_.reset();
  stop_parsing_ = true;
  request_.reset();
  client_buf_.clear();
}

void HttpGuard::GoRaw(GuardOutput* out) {
  raw_ = true;
  upgrade_pending_ = false;
  out->to_client += target_buf_;
  target_buf_.clear();
  out->to_target += client_buf_;
  client_buf_.clear();
}

void HttpGuard::TargetEof(GuardOutput* out) {
  if (raw_ || abort_target_ || response_ == nullptr || pending_.empty()) return;
  error_code ec;
  response_->put_eof(ec);
  if (!ec && response_->is_done()) ResponseDone(out);
}

}  // namespace bowden::guard
