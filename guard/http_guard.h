#ifndef BOWDEN_GUARD_HTTP_GUARD_H_
#define BOWDEN_GUARD_HTTP_GUARD_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gcode/stream_scanner.h"
#include "guard/body_inspector.h"
#include "guard/forwarding.h"
#include "guard/http_parsers.h"
#include "guard/rules.h"
#include "guard/upload_inspector.h"
#include "policy/policy.h"

namespace bowden::guard {

// One request as the audit log sees it.
struct GuardEvent {
  std::string method;
  std::string path;     // canonical, without the query
  std::string rule;     // the rule that decided
  // "allow", "deny", "bad-request", or "moved": the request belongs to the
  // other target of a shared port (GuardConfig::shared_port), so it was
  // neither forwarded nor answered and the connection closed; the client
  // sends it again on a fresh connection, where it gets its own event.
  std::string verdict;
  std::string reason;   // why, for denials
  int status = 0;       // the response status the client got
  // The connection ended before the response did (a download cut off, a
  // client that gave up, every webcam stream): `status` is the response's
  // if its head had arrived, else 0. Audited with outcome "interrupted".
  bool interrupted = false;
  // Uploads: the file's name, size, SHA-256 and scan result (see
  // UploadInspector::fields()).
  std::map<std::string, std::string> fields;
};

struct GuardConfig {
  TargetKind kind = TargetKind::kOctoPrint;
  policy::Role role = policy::Role::kViewer;
  std::string user;
  LocalCeiling ceiling;
  // Judges a request body the rules asked to inspect (G-code commands,
  // heater set-points, ...): normally InspectBody with the agent's ceiling.
  // A verdict with an emergency_body forwards that body instead of the
  // request's; if it also refuses, the client gets the 403, not the
  // target's answer to the emergency commands.
  std::function<BodyVerdict(const BodyRequest&)> inspect_body;
  // Inspected bodies are buffered whole; larger ones are refused with 413.
  size_t max_inspected_body = 64 * 1024;
  // A fresh scanner with the agent's G-code ceiling for each uploaded file.
  // Empty: uploads are refused with 403.
  std::function<std::unique_ptr<gcode::StreamScanner>()> new_upload_scanner;
  // The least of an upload held back until it is judged (at least 1).
  // Holding more than the longest G-code line keeps a refused line itself
  // from reaching the target; tests and the fuzzer shrink it.
  size_t upload_hold_bytes = 64 * 1024;
  // Requests read but not yet answered (in order) before the guard reads no
  // further request and GuardProxy stops reading the client: a flood of
  // pipelined requests behind a slow one waits in the client's socket, not
  // in memory.
  size_t max_pending_answers = 64;
  // The guard's own answers (refusals) produced in one call before it stops
  // parsing until Resume(), so one read of tiny refused requests cannot turn
  // into an unbounded burst of answers.
  size_t max_answer_bytes = 64 * 1024;
  // OctoPrint's settings (GET /api/settings below admin) are buffered whole
  // to be rewritten; a larger body is refused with 502 and the connection
  // ends.
  size_t max_redacted_body = 4 * 1024 * 1024;
  // Single sign-on (OctoPrint targets only): send `user` in this header
  // (RemoteUserHeaderName of OctoPrint's remoteUserHeader), so OctoPrint
  // with trustRemoteUser logs the session in as the OctoPrint user of the
  // same name. Empty: off, and clients can never set it either way.
  std::string remote_user_header;
  // `bowden open PRINTER` serves OctoPrint and the printer's webcam target on
  // one local port and sends each connection to one of them by its first
  // request: `GET|HEAD /webcam/...` to the webcam, anything else to
  // OctoPrint. The agent sets this on both guards when it offers both
  // targets. A browser reuses a kept-alive connection for its next request,
  // which may belong to the other target: on OctoPrint a request under
  // /webcam/, on a webcam connection whose first request was under /webcam/
  // anything not under it. Such a request (not the first on its connection)
  // is neither forwarded nor answered: the connection closes after the
  // answers owed before it, and browsers and curl send a request again on a
  // fresh connection when a reused one closes before any byte of the answer
  // (Chromium's HttpNetworkTransaction::ShouldResendRequest), which the CLI
  // then routes right. A connection's first request is always judged here,
  // so a client that does not retry still gets an answer.
  bool shared_port = false;
};

// What the guard wants sent after consuming some bytes.
struct GuardOutput {
  std::string to_target;
  std::string to_client;
};

// The text of the 403 for uploads when GuardConfig::new_upload_scanner is
// empty.
extern const char kUploadsNotScanned[];

// The agent's HTTP guard for one client connection to an HTTP target: parses
// each request with Beast (keep-alive, pipelining, Content-Length and chunked
// bodies, Expect: 100-continue), canonicalises its path, applies the role's
// rules, forwards an allowed request with a rebuilt head (proxy-owned headers
// stripped, the agent's own set), and answers a denied one itself with a 403
// whose JSON names the rule. Responses pass through unchanged; the guard
// parses them only to know where each ends, so its own answers to pipelined
// requests go out in order. The one exception: for an OctoPrint target and a
// role below admin, the answer to GET /api/settings is asked for in plain
// bytes, buffered (GuardConfig::max_redacted_body), de-chunked, stripped of
// secrets by RedactSettings and sent with a rebuilt head (Content-Length,
// no Transfer-Encoding or Content-Encoding); answers without a body (304)
// pass as they are. A compressed or oversized answer gets 502 and both
// connections end; one that is not a JSON object gets 502. Its unredacted
// bytes never reach the client. After a 101 Switching Protocols both directions
// pass as bytes. Requests it cannot parse unambiguously get 400 and the
// connection closes after the responses before them. A response whose
// framing it cannot follow passes on as bytes and ends the connection; the
// client's bytes never pass unjudged except after a 101.
//
// Uploads (Inspect::kUpload) stream through an UploadInspector: the rebuilt
// head and the raw body go on to the target as they come, except that the
// newest GuardConfig::upload_hold_bytes to twice that (64 to 128 KiB) are
// always held back, so the target cannot complete the request before the
// whole body has been read and every file passed the G-code ceiling. Then
// the held tail follows. A refused or malformed upload gets 403 (naming the
// file, line and command) or 400, the client connection closes, and, if
// any of it reached the target, abort_target() asks for the target
// connection to be reset so OctoPrint drops the partial upload. A small
// upload is judged before any of it reaches the target. Expect:
// 100-continue is answered by the guard, as for other inspected bodies.
// Memory per connection for an upload: at most 2 * upload_hold_bytes held
// plus the bytes of one FromClient call, a part header (8 KiB) and one
// G-code line (Ceiling::max_line_bytes): never the size of the file.
//
// A pure byte transformer, with no I/O: GuardProxy drives it.
// Thread-compatible.
class HttpGuard {
 public:
  explicit HttpGuard(GuardConfig config);

  void FromClient(absl::string_view data, GuardOutput* out);
  void FromTarget(absl::string_view data, GuardOutput* out);
  // The target closed its side: a response delimited by EOF ends here.
  void TargetEof(GuardOutput* out);
  // The client closed its write side. Returns whether to pass the half-close
  // on to the target (false while an unfinished request is held back). A
  // request cut off mid-way is dropped; if its head already went on, the
  // target's answer to it is owed to nobody (finished() does not wait).
  bool ClientEof();

  // Flow control, so one connection cannot queue without bound: while
  // backlogged() the guard wants no more client bytes (it holds
  // max_pending_answers unanswered requests, or stopped parsing after
  // max_answer_bytes of its own answers in one call). Once wants_resume(),
  // Resume() parses the requests it holds.
  bool backlogged() const;
  bool wants_resume() const;
  void Resume(GuardOutput* out);

  // For the connection's timeouts: a request head has begun and is not
  // complete; no request is in progress and no answer is owed; the client
  // closed its side and every answer owed to it has been produced.
  bool reading_head() const;
  bool idle() const;
  bool finished() const;
  // After a 101: both directions pass as bytes.
  bool raw() const { return raw_; }

  // True once the client connection should close after `to_client` drains.
  bool close_client() const { return close_client_; }
  // True once the target connection must be reset at once, without sending
  // anything more: it holds part of an upload that must not complete.
  bool abort_target() const { return abort_target_; }
  // Bytes the guard holds right now (for tests and metrics).
  size_t buffered_bytes() const;
  // Requests decided since the last call, with their response status.
  // Each request's event comes once, when its response is complete (one
  // audit row per request, not two), or from EndConnection().
  std::vector<GuardEvent> TakeEvents();
  // The connection is gone (either side closed for good, an error, a
  // timeout): every request still owed an answer gets its event now, a
  // forwarded one marked interrupted, so no request the target saw is
  // missing from the audit log. Nothing is parsed afterwards.
  void EndConnection();

 private:
  enum class Mode { kStream, kInspect, kDiscard, kUpload };
  struct Pending {
    uint64_t id = 0;
    bool local = false;        // answered by the guard, not the target
    std::string response;      // for local entries
    bool close_after = false;  // for local entries
    bool head = false;         // HEAD: the response has no body
    bool upgrade = false;      // asked for a protocol upgrade
    bool abort_target = false; // reset the target once this goes out
    bool redact = false;       // the answer is OctoPrint's settings, rewritten
    // Forwarded in place of a refused request (its emergency commands):
    // the target's answer is swallowed and this local answer goes out.
    std::string replace_response;
    bool replace_close = false;
    GuardEvent event;
  };

  // The guard's own answer to `request` (method and path) for `role`: a
  // JSON body naming the rule and the reason.
  static std::string LocalAnswer(int status, absl::string_view rule, absl::string_view reason,
                                 bool close_after, absl::string_view extra_json,
                                 const GuardEvent& request, policy::Role role);
  void ParseClient(GuardOutput* out);
  // The client's last bytes are parsed: drops a request cut off mid-way.
  // Returns whether nothing of one was left.
  bool EndOfClientInput();
  void OnRequestHeader(absl::string_view raw_header, GuardOutput* out);
  void OnRequestBody(absl::string_view raw, GuardOutput* out);
  void OnRequestDone(GuardOutput* out);
  void FinishInspected(GuardOutput* out);
  Pending MakeLocal(int status, absl::string_view rule, absl::string_view reason,
                    GuardEvent event, bool close_after, absl::string_view extra_json);
  void QueueLocal(int status, absl::string_view rule, absl::string_view reason,
                  GuardEvent event, bool close_after, GuardOutput* out,
                  absl::string_view extra_json = "");
  void Refuse(int status, absl::string_view rule, absl::string_view reason,
              GuardOutput* out, absl::string_view extra_json = "");
  // GuardConfig::shared_port: the rule id ("moved-to-webcam",
  // "moved-to-octoprint") when a request on `path` belongs to the other
  // target, else "". Also notes the connection's first request.
  absl::string_view OtherTargetsRequest(absl::string_view path);
  // Leaves the current request unanswered and closes the connection after
  // the answers owed before it (see GuardConfig::shared_port).
  void CloseUnanswered(absl::string_view rule, GuardOutput* out);
  // Uploads (http_guard_upload.cc).
  void StartUpload(const CanonicalTarget& target, GuardOutput* out);
  void UploadBody(absl::string_view raw, GuardOutput* out);
  void FinishUpload(GuardOutput* out);
  void UploadFailed(const absl::Status& status, GuardOutput* out);
  // Sends all but the last `keep` held bytes of the upload to the target.
  void ReleaseUpload(size_t keep, GuardOutput* out);
  // A refused upload part of which the target holds.
  void AbortPartialUpload(int status, absl::string_view rule, absl::string_view reason,
                          GuardEvent event, absl::string_view extra_json,
                          GuardOutput* out);
  Pending* FindPending(uint64_t id);
  void CompleteResponse(int status, GuardOutput* out);
  void FlushLocal(GuardOutput* out);
  void GoRaw(GuardOutput* out);
  // A response is complete: its answer goes out, the next one's turn comes.
  void ResponseDone(GuardOutput* out);
  // Answers to GET /api/settings below admin (http_guard_redact.cc).
  bool RedactsResponse(absl::string_view method, const CanonicalTarget& target) const;
  // The head of the answer being redacted is complete: pass it on as it is
  // (no body), hold its body, or refuse it. False once the connection ends.
  bool OnRedactedHead(GuardOutput* out);
  // The answer being redacted is complete: send the rewritten answer, or a
  // 502 in its place.
  void FinishRedacted(GuardOutput* out);
  // The answer being redacted cannot be rewritten and is not complete: a 502
  // in its place, then both connections end.
  void RefuseRedacted(absl::string_view reason, GuardOutput* out);

  GuardConfig config_;
  ProxyIdentity proxy_;

  // Client side.
  std::string client_buf_;
  std::unique_ptr<RequestParser> request_;
  bool header_seen_ = false;
  std::string head_raw_;  // the head so far, while it comes in pieces
  Mode mode_ = Mode::kStream;
  Inspect inspect_ = Inspect::kNone;
  std::string held_head_;
  CanonicalTarget held_target_;  // the inspected request's target
  std::string held_body_;
  GuardEvent current_;
  bool stop_parsing_ = false;     // no further requests on this connection
  bool upgrade_pending_ = false;  // client bytes wait for the 101 (or not)
  uint64_t next_id_ = 1;          // for Pending::id
  bool parse_paused_ = false;     // client_buf_ waits for Resume()
  bool client_eof_ = false;
  uint64_t requests_seen_ = 0;       // request heads judged on this connection
  bool first_under_webcam_ = false;  // the first one's path is under /webcam/

  // The upload being read (Mode::kUpload).
  std::unique_ptr<UploadInspector> upload_;
  std::string upload_held_;        // not yet sent to the target
  bool upload_head_sent_ = false;  // some of it reached the target
  uint64_t upload_id_ = 0;         // its Pending::id once queued

  // Target side.
  std::string target_buf_;
  std::unique_ptr<ResponseParser> response_;
  std::deque<Pending> pending_;  // in request order
  // The answer at the front of pending_, when it is to be redacted: its head
  // bytes are held until the head is complete (kHead), then either pass on
  // (kPassThrough: no body) or only its decoded body is kept (kBody).
  enum class Redaction { kNone, kHead, kPassThrough, kBody };
  Redaction redaction_ = Redaction::kNone;
  std::string redacted_head_;

  bool raw_ = false;
  bool target_unframed_ = false;  // its answers pass as bytes; the client's don't
  bool close_client_ = false;
  bool abort_target_ = false;
  std::vector<GuardEvent> events_;
};

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_HTTP_GUARD_H_
