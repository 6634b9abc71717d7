#ifndef BOWDEN_GUARD_HTTP_GUARD_H_
#define BOWDEN_GUARD_HTTP_GUARD_H_

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "guard/http_parsers.h"
#include "guard/rules.h"
#include "policy/policy.h"

namespace bowden::guard {

// One request as the audit log sees it.
struct GuardEvent {
  std::string method;
  std::string path;     // canonical, without the query
  std::string rule;     // the rule that decided
  std::string verdict;  // "allow", "deny" or "bad-request"
  std::string reason;   // why, for denials
  int status = 0;       // the response status the client got
};

struct GuardConfig {
  TargetKind kind = TargetKind::kOctoPrint;
  policy::Role role = policy::Role::kViewer;
  std::string user;
  LocalCeiling ceiling;
  // Judges a request body the rules asked to inspect (G-code commands,
  // heater set-points). Returns a denial reason, or "" to allow.
  std::function<std::string(Inspect, absl::string_view body)> inspect_body;
  // Inspected bodies are buffered whole; larger ones are refused with 413.
  size_t max_inspected_body = 64 * 1024;
};

// What the guard wants sent after consuming some bytes.
struct GuardOutput {
  std::string to_target;
  std::string to_client;
};

// The agent's HTTP guard for one client connection to an HTTP target: parses
// each request with Beast (keep-alive, pipelining, Content-Length and chunked
// bodies, Expect: 100-continue), canonicalises its path, applies the role's
// rules, forwards an allowed request with a rebuilt head (proxy-owned headers
// stripped, the agent's own set), and answers a denied one itself with a 403
// whose JSON names the rule. Responses pass through unchanged; the guard
// parses them only to know where each ends, so its own answers to pipelined
// requests go out in order. After a 101 Switching Protocols both directions
// pass as bytes. Requests it cannot parse unambiguously get 400 and the
// connection closes after the responses before them.
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
  // on to the target (false while an unfinished request is held back).
  bool ClientEof();

  // True once the client connection should close after `to_client` drains.
  bool close_client() const { return close_client_; }
  // Requests decided since the last call, with their response status.
  std::vector<GuardEvent> TakeEvents();

 private:
  enum class Mode { kStream, kInspect, kDiscard };
  struct Pending {
    bool local = false;        // answered by the guard, not the target
    std::string response;      // for local entries
    bool close_after = false;  // for local entries
    bool head = false;         // HEAD: the response has no body
    bool upgrade = false;      // asked for a protocol upgrade
    GuardEvent event;
  };

  void ParseClient(GuardOutput* out);
  void OnRequestHeader(absl::string_view raw_header, GuardOutput* out);
  void OnRequestBody(absl::string_view raw, GuardOutput* out);
  void OnRequestDone(GuardOutput* out);
  void QueueLocal(int status, absl::string_view rule, absl::string_view reason,
                  GuardEvent event, bool close_after, GuardOutput* out);
  void Refuse(int status, absl::string_view rule, absl::string_view reason,
              GuardOutput* out);
  void CompleteResponse(int status, GuardOutput* out);
  void FlushLocal(GuardOutput* out);
  void GoRaw(GuardOutput* out);

  GuardConfig config_;
  std::string forwarded_for_;

  // Client side.
  std::string client_buf_;
  std::unique_ptr<RequestParser> request_;
  bool header_seen_ = false;
  Mode mode_ = Mode::kStream;
  Inspect inspect_ = Inspect::kNone;
  std::string held_head_;
  std::string held_body_;
  GuardEvent current_;
  bool stop_parsing_ = false;     // no further requests on this connection
  bool upgrade_pending_ = false;  // client bytes wait for the 101 (or not)

  // Target side.
  std::string target_buf_;
  std::unique_ptr<ResponseParser> response_;
  std::deque<Pending> pending_;  // in request order

  bool raw_ = false;
  bool close_client_ = false;
  std::vector<GuardEvent> events_;
};

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_HTTP_GUARD_H_
