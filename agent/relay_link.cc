#include "agent/relay_link.h"

#include <sys/socket.h>

#include <deque>
#include <random>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "agent/agent_metrics.h"
#include "gcode/stream_scanner.h"
#include "glog/logging.h"
#include "guard/body_inspector.h"
#include "guard/guard_proxy.h"
#include "guard/http_guard.h"
#include "transport/relay_channel.h"
#include "tunnel/connector.h"
#include "tunnel/notice_mailbox.h"
#include "tunnel/socket_pump.h"

namespace bowden::agent {
namespace {

using bowden::v1::AgentMessage;
using bowden::v1::AgentService;
using bowden::v1::RelayMessage;

constexpr absl::Duration kTargetConnectTimeout = absl::Seconds(5);
// Audit events wait this long to travel in one batch: the relay commits
// (and fsyncs) each batch, so one batch per request would cost a disk sync,
// two messages and their wake-ups per request.
constexpr absl::Duration kAuditFlushDelay = absl::Milliseconds(25);
constexpr int kAuditBatchMax = 200;

}  // namespace

// One Attach call. Reactions (on the completion thread) post to the loop; all
// state is on the loop thread. A hold keeps the call from ending while the
// loop may still write to it; it is released once the read side has ended.
class RelayLink::AttachCall final
    : public tunnel::CqBidiReactor<AgentMessage, RelayMessage> {
 public:
  AttachCall(RelayLink* link, const TargetList& targets) : link_(link) {
    AgentMessage hello;
    for (const auto& [name, target] : targets) {
      hello.mutable_hello()->add_targets(name);
    }
    hello.mutable_hello()->set_version("bowden-agent/1");
    AgentService::Stub* stub = link_->stub_.get();
    BindCall(link_->calls_, &context_,
             [stub](grpc::ClientContext* context, grpc::CompletionQueue* cq) {
               return stub->PrepareAsyncAttach(context, cq);
             });
    AddHold();
    StartRead(&in_);
    Send(std::move(hello));
    StartCall();
  }

  // Loop thread.
  void Send(AgentMessage message) {
    if (closing_) return;
    out_.push_back(std::move(message));
    if (out_.size() == 1) StartWrite(&out_.front());
  }
  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    link_->loop_->Post([this, ok] {
      if (!ok) {
        closing_ = true;
        RemoveHold();
        return;
      }
      link_->OnRelayMessage(in_);
      StartRead(&in_);
    });
  }
  void OnWriteDone(bool ok) override {
    link_->loop_->Post([this, ok] {
      out_.pop_front();
      if (ok && !closing_ && !out_.empty()) StartWrite(&out_.front());
    });
  }
  void OnDone(const grpc::Status& status) override {
    link_->loop_->Post([this, status] {
      link_->OnAttachEnded(status);
      delete this;
    });
  }

 private:
  RelayLink* const link_;
  grpc::ClientContext context_;
  RelayMessage in_;
  std::deque<AgentMessage> out_;  // front is being written
  bool closing_ = false;
};

// After an outage of any length an agent tries again at most this long
// after the relay is back, plus the jitter of Backoff (each delay is drawn
// from [base/2, base]), so a farm comes back spread over a few seconds
// rather than all at once or minutes later.
constexpr absl::Duration kMaxReconnectDelay = absl::Seconds(10);

RelayLink::RelayLink(tunnel::EventLoop* loop, tunnel::CompletionThread* calls,
                     std::string relay_address,
                     std::shared_ptr<grpc::Channel> channel,
                     const TargetList* targets, const LocalSafety* safety,
                     EventQueue* events, LoginWatch* logins)
    : loop_(loop),
      calls_(calls),
      relay_address_(std::move(relay_address)),
      channel_(std::move(channel)),
      stub_(bowden::v1::AgentService::NewStub(channel_)),
      targets_(targets),
      safety_(safety),
      events_(events),
      logins_(logins),
      backoff_(absl::Milliseconds(500), kMaxReconnectDelay,
               [gen = std::make_shared<absl::BitGen>()] {
                 return absl::Uniform<double>(*gen, 0.0, 1.0);
               }) {}

RelayLink::~RelayLink() = default;

void RelayLink::Start() {
  loop_->Post([this] { Connect(); });
}

void RelayLink::Connect() {
  LOG(INFO) << "relay " << relay_address_ << ": connecting";
  if (attempted_) AgentMetrics::Get().reconnects.Increment();
  attempted_ = true;
  // The agent's own backoff decides when to try again; gRPC's reconnect
  // backoff for the channel would otherwise stack on it (after a long outage
  // a call could fail fast for up to its cap after the relay was back).
  grpc::experimental::ChannelResetConnectionBackoff(channel_.get());
  attached_ = false;
  attempt_started_ = absl::Now();
  call_ = new AttachCall(this, *targets_);
}

void RelayLink::OnRelayMessage(const RelayMessage& message) {
  if (message.has_attached()) {
    if (!attached_) AgentMetrics::Get().relay_connected.Add(1);
    attached_ = true;
    backoff_.Reset();
    LOG(INFO) << "relay " << relay_address_ << ": attached as printer '"
              << message.attached().printer_id() << "'";
    if (events_->size() > 0) {
      LOG(INFO) << "relay " << relay_address_ << ": delivering " << events_->size()
                << " queued audit event(s)";
    }
    SendAuditBatch();
  } else if (message.has_open_session()) {
    OpenSession(message.open_session());
  } else if (message.has_audit_ack()) {
    if (message.audit_ack().batch_id() == audit_in_flight_) {
      events_->Ack(audit_in_flight_);
      audit_in_flight_ = 0;
      ScheduleAuditBatch();
    }
  }
}

void RelayLink::OnAttachEnded(const grpc::Status& status) {
  call_ = nullptr;
  audit_in_flight_ = 0;  // unacknowledged events are sent again next time
  // Right after the reset above, gRPC can still fail a call at once with the
  // outage's old error while its new connection attempt is under way (the
  // channel stays in TRANSIENT_FAILURE until then): measured, such agents
  // came back a whole backoff late. One quick retry looks at the fresh
  // attempt instead, without spending a step of the backoff.
  if (!attached_ && !quick_retry_used_ &&
      status.error_code() == grpc::StatusCode::UNAVAILABLE &&
      absl::Now() - attempt_started_ < absl::Milliseconds(100)) {
    quick_retry_used_ = true;
    loop_->RunAfter(absl::Milliseconds(250), [this] { Connect(); });
    return;
  }
  quick_retry_used_ = false;
  if (attached_) AgentMetrics::Get().relay_connected.Add(-1);
  absl::Duration delay = backoff_.Next();
  LOG(WARNING) << "relay " << relay_address_ << ": "
               << (attached_ ? "detached" : "could not attach")
               << "; backing off " << absl::FormatDuration(delay) << ": "
               << transport::DescribeCallError(status, relay_address_);
  attached_ = false;
  loop_->RunAfter(delay, [this] { Connect(); });
}

void RelayLink::OpenSession(const bowden::v1::OpenSession& request) {
  auto it = targets_->find(request.target());
  if (it == targets_->end()) {
    ReportFailure(request.session_id(),
                  absl::NotFoundError(absl::StrCat(
                      "the agent has no target '", request.target(), "' on its list")));
    return;
  }
  const Target& target = it->second;
  // Named for the user at the other end of the tunnel, whose CLI prints it:
  // the printer host's own service, not the relay, refused or timed out.
  const char* service = target.guard == GuardKind::kOctoPrint ? "OctoPrint at "
                        : target.guard == GuardKind::kWebcam  ? "the webcam at "
                                                              : "";
  std::string describe = absl::StrCat("the printer's local service '", target.name, "' (",
                                      service, target.host_port.ToString(), ")");
  // The role is logged now and enforced by the HTTP guard (issue 4).
  const std::string opened = absl::StrCat("session ", request.session_id(), ": ",
                                          request.user(), " (", request.role(), ") -> ",
                                          describe);
  LoginWatch::Decision login;
  if (target.guard == GuardKind::kOctoPrint && logins_ != nullptr) {
    login = logins_->Check(target.name);
  }
  switch (login.verdict) {
    case LoginWatch::Verdict::kServe:
      LOG(INFO) << opened;
      break;
    case LoginWatch::Verdict::kUnchecked:
    case LoginWatch::Verdict::kAllowed:
      LOG(WARNING) << opened << " (WARNING: " << login.message << ")";
      break;
    case LoginWatch::Verdict::kRefuse:
      // Fail closed: the user would act as OctoPrint's autologin user.
      LOG(WARNING) << opened << " refused: " << login.message;
      ReportFailure(request.session_id(), absl::FailedPreconditionError(login.message));
      return;
  }
  tunnel::ConnectAsync(
      loop_, target.address, describe, kTargetConnectTimeout,
      [this, request, &target](absl::StatusOr<tunnel::UniqueFd> socket) {
        if (!socket.ok()) {
          LOG(WARNING) << "session " << request.session_id() << ": "
                       << socket.status().message();
          absl::Status failed = socket.status();
          if (absl::IsUnavailable(failed) || absl::IsDeadlineExceeded(failed)) {
            failed = absl::Status(failed.code(), absl::StrCat(failed.message(),
                                                              ": is it running on the "
                                                              "printer host?"));
          }
          ReportFailure(request.session_id(), failed);
          return;
        }
        Carry(request, target, *std::move(socket));
      });
}

void RelayLink::Carry(const bowden::v1::OpenSession& request, const Target& target,
                      tunnel::UniqueFd socket) {
  const std::string id = request.session_id();
  // Refusals travel to this session's CLI with the printer's answers.
  std::shared_ptr<tunnel::NoticeMailbox> outbox;
  if (target.guard != GuardKind::kNone) {
    outbox = std::make_shared<tunnel::NoticeMailbox>();
    // The guard sits between the tunnel and the target: the pump carries one
    // end of a socketpair, the guard proxies the other end to the target.
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
      ReportFailure(id, absl::InternalError("the agent could not create a socketpair"));
      return;
    }
    guard::GuardConfig config;
    config.kind = target.guard == GuardKind::kWebcam ? guard::TargetKind::kWebcam
                                                     : guard::TargetKind::kOctoPrint;
    // A missing or unknown role gets the least power.
    config.role = policy::ParseRole(request.role()).value_or(policy::Role::kViewer);
    if (request.role().empty()) config.role = policy::Role::kViewer;
    config.user = request.user();
    config.ceiling = safety_->ceiling;
    config.remote_user_header = safety_->remote_user_header;
    // `bowden open` serves both on one local port (GuardConfig::shared_port).
    config.shared_port =
        (target.name == "octoprint" || target.name == "webcam") &&
        targets_->count("octoprint") != 0 && targets_->count("webcam") != 0;
    const LocalSafety* safety = safety_;
    config.inspect_body = [safety](const guard::BodyRequest& request) {
      return guard::InspectBody(safety->checker, safety->ceiling, request);
    };
    // Uploaded files go through the same G-code ceiling, line by line.
    config.new_upload_scanner = [safety] {
      return std::make_unique<gcode::StreamScanner>(safety->checker);
    };
    guard::GuardProxy::Start(
        loop_, tunnel::UniqueFd(pair[1]), std::move(socket),
        std::make_unique<guard::HttpGuard>(std::move(config)),
        [this, request, outbox](std::vector<guard::GuardEvent> events) {
          // The user hears of a refusal before its answer is written to
          // the socketpair (GuardProxy::Apply), so it cannot lag behind.
          TellUser(request, events, outbox.get());
          RecordGuardEvents(request, events);
        },
        // After the guard's last events: the session's static assets.
        [this, request] { FlushStaticTally(request); }, safety_->limits);
    socket = tunnel::UniqueFd(pair[0]);
  }
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("bowden-session-id", id);
  AgentService::Stub* stub = stub_.get();
  AgentMetrics& metrics = AgentMetrics::Get();
  metrics.live_sessions.Add(1);
  tunnel::SocketPump::Start(
      loop_, calls_, std::move(socket), std::move(context),
      [stub](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return stub->PrepareAsyncCarry(ctx, cq);
      },
      [id](const tunnel::PumpResult& result) {
        AgentMetrics::Get().live_sessions.Add(-1);
        // The pump's "up" is this socket toward the relay: the printer's
        // answer to the user.
        LOG(INFO) << "session " << id << " closed: user->printer=" << result.bytes_down
                  << " printer->user=" << result.bytes_up
                  << (result.status.ok()
                          ? std::string(" (clean)")
                          : absl::StrCat(" (", result.status.error_message(), ")"));
      },
      tunnel::PumpNotices{outbox, nullptr},
      // The pump's up is the printer's answer: the metrics' "down".
      tunnel::PumpTally{metrics.bytes_down.cell(), metrics.bytes_up.cell()});
}

void RelayLink::TellUser(const bowden::v1::OpenSession& request,
                         const std::vector<guard::GuardEvent>& events,
                         tunnel::NoticeMailbox* outbox) {
  for (const guard::GuardEvent& e : events) {
    // A moved request is not refused: the browser sends it again to the
    // other target of `bowden open`'s shared port.
    if (e.verdict == "allow" || e.verdict == "moved") continue;
    bowden::v1::Notice notice;
    notice.set_method(e.method);
    notice.set_path(e.path);
    notice.set_rule(e.rule);
    notice.set_reason(e.reason);
    // The role the guard applied (Carry: a missing or unknown one is viewer).
    notice.set_role(std::string(policy::RoleName(
        policy::ParseRole(request.role()).value_or(policy::Role::kViewer))));
    notice.set_status(e.status);
    notice.set_verdict(e.verdict);
    outbox->Post(std::move(notice));
  }
}

void RelayLink::FlushStaticTally(const bowden::v1::OpenSession& request) {
  auto it = static_tallies_.find(request.session_id());
  if (it == static_tallies_.end()) return;
  if (!it->second.empty()) {
    bowden::v1::AuditEvent summary = it->second.TakeSummary();
    summary.set_actor(request.user());
    summary.set_target(request.target());
    summary.set_session_id(request.session_id());
    (*summary.mutable_fields())["role"] = request.role();
    events_->Push(std::move(summary));
    ScheduleAuditBatch();
  }
  static_tallies_.erase(it);
}

void RelayLink::RecordGuardEvents(const bowden::v1::OpenSession& request,
                                  const std::vector<guard::GuardEvent>& events) {
  StaticTally* tally = nullptr;
  const absl::Time now = absl::Now();
  for (const guard::GuardEvent& e : events) {
    if (e.verdict != "allow" && e.verdict != "moved") {
      AgentMetrics::Get().CountGuardRefusal(e.rule);
    }
    if (tally == nullptr) tally = &static_tallies_[request.session_id()];
    if (tally->Add(e, now)) continue;  // summarised: FlushStaticTally
    // Every request is in the relay's audit log; the agent's own log keeps
    // the refusals, and every request only with GLOG_v=1 (one line per
    // request would be an access log on the printer host's journal).
    if ((e.verdict != "allow" && e.verdict != "moved") || VLOG_IS_ON(1)) {
      LOG(INFO) << "session " << request.session_id() << " http " << request.user() << " "
                << e.method << " " << e.path << " -> " << e.status << " " << e.verdict
                << " [" << e.rule << "]" << (e.reason.empty() ? "" : ": ") << e.reason;
    }
    bowden::v1::AuditEvent event;
    event.set_kind("http.request");
    event.set_actor(request.user());
    event.set_target(request.target());
    event.set_session_id(request.session_id());
    // A moved request is no refusal: the client sends it again to the
    // other target, where it gets its own row.
    event.set_outcome(e.verdict == "moved"   ? "moved"
                      : e.verdict != "allow" ? "denied"
                      : e.interrupted        ? "interrupted"
                                             : "ok");
    event.set_detail(e.reason);
    auto& fields = *event.mutable_fields();
    // An upload's file, size, sha256 and scan verdict (and, if refused, the
    // line and command); the request's own fields below take precedence.
    fields.insert(e.fields.begin(), e.fields.end());
    fields["method"] = e.method;
    fields["path"] = e.path;
    fields["status"] = absl::StrCat(e.status);
    fields["verdict"] = e.verdict;
    fields["rule"] = e.rule;
    fields["role"] = request.role();
    events_->Push(std::move(event));
  }
  if (tally != nullptr && tally->Due(now)) FlushStaticTally(request);
  // Everything the guards report in this turn of the loop goes to disk in
  // one transaction, before the loop waits again.
  if (!commit_posted_) {
    commit_posted_ = true;
    loop_->Post([this] {
      commit_posted_ = false;
      events_->Commit();
    });
  }
  ScheduleAuditBatch();
}

void RelayLink::ScheduleAuditBatch() {
  if (events_->size() >= kAuditBatchMax) return SendAuditBatch();
  if (audit_flush_scheduled_ || events_->size() == 0) return;
  audit_flush_scheduled_ = true;
  loop_->RunAfter(kAuditFlushDelay, [this] {
    audit_flush_scheduled_ = false;
    SendAuditBatch();
  });
}

void RelayLink::SendAuditBatch() {
  if (call_ == nullptr || !attached_ || audit_in_flight_ != 0) return;
  int64_t last_id = 0;
  std::vector<bowden::v1::AuditEvent> batch = events_->Peek(kAuditBatchMax, &last_id);
  if (batch.empty()) return;
  AgentMessage message;
  message.mutable_audit()->set_batch_id(last_id);
  for (auto& event : batch) *message.mutable_audit()->add_events() = std::move(event);
  audit_in_flight_ = last_id;
  call_->Send(std::move(message));
}

void RelayLink::ReportFailure(const std::string& session_id,
                              const absl::Status& status) {
  if (call_ == nullptr) return;  // the relay fails its pending sessions itself
  AgentMessage failed;
  failed.mutable_session_failed()->set_session_id(session_id);
  failed.mutable_session_failed()->set_code(static_cast<int>(status.code()));
  failed.mutable_session_failed()->set_message(std::string(status.message()));
  call_->Send(std::move(failed));
}

}  // namespace bowden::agent
