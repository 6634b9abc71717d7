#ifndef BOWDEN_AGENT_RELAY_LINK_H_
#define BOWDEN_AGENT_RELAY_LINK_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "agent/backoff.h"
#include "absl/container/flat_hash_map.h"
#include "agent/event_queue.h"
#include "agent/login_watch.h"
#include "agent/static_tally.h"
#include "agent/targets.h"
#include "gcode/checker.h"
#include "grpcpp/channel.h"
#include "guard/guard_proxy.h"
#include "guard/http_guard.h"
#include "guard/rules.h"
#include "proto/tunnel.grpc.pb.h"
#include "tunnel/completion_thread.h"
#include "tunnel/event_loop.h"
#include "tunnel/notice_mailbox.h"

namespace bowden::agent {

// What the agent's HTTP guards enforce, whatever the relay says. Immutable;
// thread-safe.
struct LocalSafety {
  gcode::Checker checker;
  guard::LocalCeiling ceiling;
  // Single sign-on header for OctoPrint targets (GuardConfig), or "".
  std::string remote_user_header;
  // Timeouts and bounds of each guarded connection.
  guard::ProxyLimits limits;
};

// The agent's attachment to one relay: keeps one Attach control stream open,
// reattaching forever with backoff, and opens a Carry stream to a local
// target whenever the relay asks. An agent attached to several relays holds
// one RelayLink per relay; they share the event loop and the target list.
//
// States, each logged: connecting -> attached -> backing off N s: reason ->
// connecting ...
//
// Thread-safety: Start() is thread-safe; everything else runs on the event
// loop thread. The loop, the completion thread (which drives the link's
// streams), the channel, the targets and the login watch must outlive the link.
class RelayLink {
 public:
  // `events` holds what the guards saw until the relay acknowledges it.
  // `logins` (may be null) decides whether OctoPrint targets are served.
  RelayLink(tunnel::EventLoop* loop, tunnel::CompletionThread* calls,
            std::string relay_address,
            std::shared_ptr<grpc::Channel> channel, const TargetList* targets,
            const LocalSafety* safety, EventQueue* events, LoginWatch* logins = nullptr);
  ~RelayLink();

  void Start();

 private:
  class AttachCall;

  void Connect();
  void OnRelayMessage(const bowden::v1::RelayMessage& message);
  void OnAttachEnded(const grpc::Status& status);
  void OpenSession(const bowden::v1::OpenSession& request);
  void ReportFailure(const std::string& session_id, const absl::Status& status);
  // Queues the guard's events for the relay's audit log and sends them.
  void RecordGuardEvents(const bowden::v1::OpenSession& request,
                         const std::vector<guard::GuardEvent>& events);
  // Posts a notice for each refusal among `events` to the session's CLI.
  void TellUser(const bowden::v1::OpenSession& request,
                const std::vector<guard::GuardEvent>& events,
                tunnel::NoticeMailbox* outbox);
  // Queues the session's static-asset summary, if it counted any.
  void FlushStaticTally(const bowden::v1::OpenSession& request);
  // Sends the next batch of queued events when attached and none is in
  // flight.
  void SendAuditBatch();
  // Sends a batch soon: at once when a whole batch is queued, else after a
  // short delay that lets events gather.
  void ScheduleAuditBatch();
  // Carries `socket` over a new Carry stream, through an HTTP guard when the
  // target has one.
  void Carry(const bowden::v1::OpenSession& request, const Target& target,
             tunnel::UniqueFd socket);

  tunnel::EventLoop* const loop_;
  tunnel::CompletionThread* const calls_;
  const std::string relay_address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<bowden::v1::AgentService::Stub> stub_;
  const TargetList* const targets_;
  const LocalSafety* const safety_;
  EventQueue* const events_;
  LoginWatch* const logins_;
  int64_t audit_in_flight_ = 0;  // batch id awaiting the relay's ack
  bool audit_flush_scheduled_ = false;
  bool commit_posted_ = false;
  Backoff backoff_;
  AttachCall* call_ = nullptr;  // the live Attach call, if any
  bool attached_ = false;
  absl::Time attempt_started_;     // of the current Attach
  bool quick_retry_used_ = false;  // for the current backoff step
  bool attempted_ = false;         // a Connect ran before (reconnects metric)
  // Per guarded session: its static assets, summarised (static_tally.h).
  absl::flat_hash_map<std::string, StaticTally> static_tallies_;
};

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_RELAY_LINK_H_
