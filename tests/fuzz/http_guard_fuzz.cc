// Fuzz target: the agent's HTTP guard. The input is a role, a target kind
// and a script of client bytes, target bytes and half-closes, each piece cut
// where the input says. Nothing may crash, and the target must only ever
// see what the guard allows: replaying everything sent to the target
// through a fresh parser, every complete request is one the rules allow
// whose body (JSON commands, set-points, uploaded files) passes the same
// G-code ceiling. Once the guard asks for the target to be reset, nothing
// more goes to it, and the upload it cut off is never complete there.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "gcode/checker.h"
#include "gcode/stream_scanner.h"
#include "guard/body_inspector.h"
#include "guard/canonical_path.h"
#include "guard/http_guard.h"
#include "guard/http_parsers.h"
#include "guard/rules.h"
#include "guard/upload_inspector.h"

namespace {

using bowden::guard::CanonicalTarget;
using bowden::guard::Canonicalize;
using bowden::guard::Decide;
using bowden::guard::Decision;
using bowden::guard::GuardConfig;
using bowden::guard::GuardOutput;
using bowden::guard::HttpGuard;
using bowden::guard::Inspect;
using bowden::guard::BodyRequest;
using bowden::guard::BodyVerdict;
using bowden::guard::InspectBody;
using bowden::guard::RequestParser;
using bowden::guard::TargetKind;
using bowden::guard::UploadInspector;

[[noreturn]] void Fail(absl::string_view what, absl::string_view sent) {
  std::cerr << what << "; the target got \"" << absl::CHexEscape(sent.substr(0, 2000))
            << "\"\n";
  std::abort();
}

const bowden::gcode::Checker& DefaultChecker() {
  static const auto* checker =
      new bowden::gcode::Checker(*bowden::gcode::Checker::Create(bowden::gcode::Ceiling()));
  return *checker;
}

std::unique_ptr<bowden::gcode::StreamScanner> NewScanner() {
  return std::make_unique<bowden::gcode::StreamScanner>(DefaultChecker());
}

// Judges one complete request the target received, as the guard should
// have; returns "" when it passes.
std::string Judge(const GuardConfig& config, const RequestParser& request, bool* upload) {
  absl::StatusOr<CanonicalTarget> target = Canonicalize(request.target);
  if (!target.ok()) return "a target the guard cannot canonicalise";
  Decision decision =
      Decide(config.kind, config.role, request.method, *target, config.ceiling);
  if (!decision.allow) return "a request the rules deny";
  *upload = decision.inspect == Inspect::kUpload;
  if (decision.inspect == Inspect::kNone) return "";
  if (decision.inspect != Inspect::kUpload) {
    BodyVerdict verdict = InspectBody(DefaultChecker(), config.ceiling,
                                      BodyRequest{decision.inspect, target->path, request.body});
    // Emergency commands reach the target only as the canonical body.
    if (!verdict.emergency_body.empty() && verdict.emergency_body != request.body) {
      return "emergency commands in a body other than the guard's own";
    }
    return verdict.denial;
  }
  std::string content_type;
  for (const auto& [name, value] : request.fields) {
    if (absl::EqualsIgnoreCase(name, "content-type")) content_type = value;
  }
  auto inspector = UploadInspector::Create(content_type, NewScanner);
  if (!inspector.ok()) return "an upload that is not multipart";
  absl::Status status = (*inspector)->Feed(request.body);
  if (status.ok()) status = (*inspector)->Finish();
  return status.ok() ? "" : std::string(status.message());
}

// Replays `sent` (all the target received) request by request.
void CheckWhatTheTargetSaw(const GuardConfig& config, const HttpGuard& guard,
                           absl::string_view sent, bool redaction_refused) {
  bool upload = false;  // the last complete request was an upload
  while (!sent.empty()) {
    RequestParser request;
    request.eager(true);
    request.keep_body = true;
    request.header_limit(64 * 1024);
    request.body_limit(std::numeric_limits<std::uint64_t>::max());
    boost::beast::error_code ec;
    size_t n = request.put(boost::asio::buffer(sent.data(), sent.size()), ec);
    if (ec == boost::beast::http::error::need_more) {
      // The last request is unfinished: an upload cut off, or one still
      // streaming. Its head must still be one the rules allow.
      if (request.is_header_done()) {
        absl::StatusOr<CanonicalTarget> target = Canonicalize(request.target);
        if (!target.ok() ||
            !Decide(config.kind, config.role, request.method, *target, config.ceiling).allow) {
          Fail("the head of a denied request reached the target", sent);
        }
      }
      return;
    }
    if (ec) {
      // Only a streamed body found broken after its head went on.
      if (!guard.close_client()) Fail("the target got bytes it cannot parse", sent);
      return;
    }
    if (!request.is_done()) return;
    std::string why = Judge(config, request, &upload);
    if (!why.empty()) Fail("the target got a request the guard must refuse: " + why, sent);
    sent.remove_prefix(n);
  }
  // The guard resets the target only to cut an upload off (or to drop the
  // rest of OctoPrint's settings it refused to pass on), so that upload must
  // still be unfinished there.
  if (guard.abort_target() && upload && !redaction_refused) {
    Fail("an upload the guard cut off is complete at the target", sent);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  const uint8_t setup = static_cast<uint8_t>(input[0]);
  input.remove_prefix(1);
  GuardConfig config;
  config.role = setup % 3 == 0   ? bowden::policy::Role::kViewer
                : setup % 3 == 1 ? bowden::policy::Role::kOperator
                                 : bowden::policy::Role::kAdmin;
  config.kind = (setup & 0x10) ? TargetKind::kWebcam : TargetKind::kOctoPrint;
  config.user = "fuzz";
  // `bowden open`'s one port for OctoPrint and the webcam: requests for the
  // other target are left unanswered and close the connection.
  config.shared_port = (setup & 0x08) != 0;
  config.inspect_body = [&config](const BodyRequest& request) {
    return InspectBody(DefaultChecker(), config.ceiling, request);
  };
  if (!(setup & 0x20)) config.new_upload_scanner = NewScanner;
  // Mostly a tiny hold, so short inputs reach the streaming and reset paths.
  if (setup & 0xc0) config.upload_hold_bytes = (setup >> 6) * 8 - 7;
  HttpGuard guard(config);

  std::string sent;
  std::string answers;  // everything the target said
  bool redaction_refused = false;
  // Each step: an op byte (0 client bytes, 1 target bytes, 2 client EOF,
  // 3 target EOF), a length byte, then that many bytes.
  while (!input.empty()) {
    const int op = static_cast<uint8_t>(input[0]) % 4;
    size_t length = input.size() > 1 ? static_cast<uint8_t>(input[1]) : 0;
    input.remove_prefix(std::min<size_t>(2, input.size()));
    absl::string_view piece = input.substr(0, length);
    input.remove_prefix(piece.size());
    const bool aborted = guard.abort_target();
    GuardOutput out;
    switch (op) {
      case 0:
        guard.FromClient(piece, &out);
        break;
      case 1:
        answers.append(piece.data(), piece.size());
        guard.FromTarget(piece, &out);
        break;
      case 2:
        guard.ClientEof();
        break;
      default:
        guard.TargetEof(&out);
    }
    // As GuardProxy does once the client reads its answers again.
    while (guard.wants_resume()) guard.Resume(&out);
    if (aborted && !out.to_target.empty()) Fail("bytes after the target reset", sent);
    sent += out.to_target;
    // The guard answers 502 only when it refuses to pass OctoPrint's
    // settings on, and then resets the target.
    for (const bowden::guard::GuardEvent& event : guard.TakeEvents()) {
      if (event.status == 502) redaction_refused = true;
    }
  }
  // After a 101 the client's bytes belong to another protocol and may be
  // anything: only judge runs whose target never said 101.
  if (!absl::StrContains(answers, "101")) CheckWhatTheTargetSaw(config, guard, sent, redaction_refused);
  return 0;
}
