#include "relay/agent_service.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glog/logging.h"
#include "identity/spiffe_id.h"
#include "relay/agent_channel.h"
#include "relay/call_auth.h"
#include "relay/finished_reactor.h"
#include "relay/relay_metrics.h"
#include "relay/status_convert.h"

namespace bowden::relay {
namespace {

using bowden::v1::AgentMessage;
using grpc::ByteBuffer;
using bowden::v1::RelayMessage;

// Who session `id` was opened for, from the audit log's session.open row:
// for sessions the registry does not remember (from before a restart, or
// older than its last 1,024). Reads audit.db, so not on the callback thread.
std::optional<SessionInfo> FindSessionInAuditLog(RelayState& state,
                                                 const std::string& id) {
  bowden::v1::AuditQuery query;
  query.set_kind("session.open");
  query.set_session_id(id);
  query.set_limit(1);
  absl::StatusOr<std::vector<bowden::v1::AuditEvent>> opened =
      state.audit->log().Query(query);
  if (!opened.ok() || opened->empty()) return std::nullopt;
  const bowden::v1::AuditEvent& open = opened->front();
  SessionInfo found;
  found.id = id;
  found.user = open.actor();
  found.printer = open.printer();
  found.target = open.target();
  auto role = open.fields().find("role");
  if (role != open.fields().end()) found.role = role->second;
  return found;
}

// The relay's end of one agent's Attach stream. Registers the agent after its
// hello, forwards SessionFailed reports to the waiting sessions, and on the
// way out unregisters the agent and fails its pending sessions.
// Owned by gRPC; reactions are serialised by gRPC (one read at a time), the
// audit thread's job for a batch (LookUpThenRecord) runs while no read is
// outstanding, and cross-thread writes go through the AgentChannel.
class AttachReactor final : public AttachReactorBase {
 public:
  AttachReactor(RelayState* state, AgentAuditBudget* audit_budget,
                AuthenticatedPeer agent, std::string peer)
      : state_(state),
        agent_(std::move(agent)),
        channel_(std::make_shared<AgentChannel>(agent_.name, std::move(peer),
                                                agent_.serial_hex)),
        audit_filter_(
            channel_->printer_id(), AgentActor(),
            [state](const std::string& id) {
              return state->registry.FindSessionInfo(id);
            },
            audit_budget) {
    channel_->gate().Bind(this);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      channel_->gate().RequestFinish(grpc::Status::OK);
      return;
    }
    bool read_next = true;
    grpc::Status status =
        registered_ ? HandleMessage(&read_next) : HandleHello();
    if (!status.ok()) {
      LOG(WARNING) << "agent " << channel_->printer_id() << " from "
                   << channel_->peer() << " refused: " << status.error_message();
      channel_->gate().RequestFinish(status);
      return;
    }
    if (read_next) {
      channel_->gate().Call([this](AttachReactorBase*) { StartRead(&in_); });
    }
  }

  void OnWriteDone(bool ok) override { channel_->OnWriteDone(ok); }

  void OnCancel() override {
    channel_->gate().RequestFinish(
        grpc::Status(grpc::StatusCode::CANCELLED, "agent went away"));
  }

  void OnDone() override {
    channel_->gate().Unbind();
    if (registered_) {
      state_->registry.RemoveAgent(channel_.get());
      for (auto& splice : state_->registry.TakePendingFor(channel_->printer_id())) {
        splice->Fail(grpc::Status(
            grpc::StatusCode::UNAVAILABLE,
            absl::StrCat("printer '", channel_->printer_id(),
                         "' went offline before the session opened")));
      }
      RecordSeen(channel_->targets());
      for (auto& report : audit_filter_.Unreported(absl::Now())) {
        state_->audit->Record(std::move(report));
      }
      bowden::v1::AuditEvent event = MakeAuditEvent("agent.detach", AgentActor(), "ok");
      event.set_printer(channel_->printer_id());
      state_->audit->Record(std::move(event));
      LOG(INFO) << "agent " << channel_->printer_id() << " detached";
    }
    delete this;
  }

 private:
  grpc::Status HandleHello() {
    if (!in_.has_hello()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the first message on Attach must be a hello");
    }
    std::vector<std::string> targets(in_.hello().targets().begin(),
                                     in_.hello().targets().end());
    for (const std::string& target : targets) {
      if (!identity::IsValidName(target)) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("target name '", target, "' is invalid"));
      }
    }
    channel_->SetTargets(targets);
    absl::Status added = state_->registry.AddAgent(channel_);
    if (!added.ok()) {
      bowden::v1::AuditEvent event = MakeAuditEvent("denial", AgentActor(), "denied");
      event.set_printer(channel_->printer_id());
      event.set_detail(std::string(added.message()));
      state_->audit->Record(std::move(event));
      return ToGrpcStatus(added);
    }
    registered_ = true;
    // Registered now, so a later revocation's cut finds it; one stored since
    // the call started may have looked before.
    if (absl::Status revoked = CheckNotRevokedSince(*state_, agent_);
        !revoked.ok()) {
      return ToGrpcStatus(revoked);
    }
    RelayMetrics::Get().agent_attaches.Increment();
    bowden::v1::AuditEvent event = MakeAuditEvent("auth", AgentActor(), "ok");
    event.set_printer(channel_->printer_id());
    event.set_detail(absl::StrCat("agent attached from ", channel_->peer()));
    (*event.mutable_fields())["targets"] = absl::StrJoin(targets, ",");
    state_->audit->Record(std::move(event));
    RecordSeen(targets);
    RelayMessage attached;
    attached.mutable_attached()->set_printer_id(channel_->printer_id());
    channel_->Send(std::move(attached));
    LOG(INFO) << "agent " << channel_->printer_id() << " attached from "
              << channel_->peer() << " offering [" << absl::StrJoin(targets, ", ")
              << "]";
    return grpc::Status::OK;
  }

  // Sets *read_next to false when a job reads the next message instead.
  grpc::Status HandleMessage(bool* read_next) {
    if (in_.has_session_failed()) {
      const auto& failed = in_.session_failed();
      std::shared_ptr<Splice> splice = state_->registry.TakePending(
          failed.session_id(), channel_->printer_id());
      if (splice != nullptr) {
        int code = failed.code();
        if (code <= 0 || code > 16) code = grpc::StatusCode::UNAVAILABLE;
        splice->Fail(grpc::Status(static_cast<grpc::StatusCode>(code),
                                  failed.message()));
      }
    }
    if (in_.has_audit()) {
      std::vector<std::string> unknown = audit_filter_.Unknown(in_.audit());
      if (unknown.empty()) {
        RecordAgentEvents(in_.audit(), {});
      } else {
        LookUpThenRecord(std::move(unknown));
        *read_next = false;
      }
    }
    // Unknown kinds are ignored: newer agents may send more.
    return grpc::Status::OK;
  }

  // Sessions the registry does not know are looked up in the audit log,
  // which can wait for seconds behind a long `bowden audit` export (it holds
  // the log's reader): on the audit thread, not on the callback thread that
  // carries every session. The stream reads nothing more meanwhile, so its
  // batches stay in order; if it ends first, the batch is not acknowledged
  // and the agent sends it again when it is back.
  void LookUpThenRecord(std::vector<std::string> ids) {
    state_->audit_offload->Run(
        [this, state = state_, channel = channel_, ids = std::move(ids)] {
          AgentAuditFilter::Owners found;
          for (const std::string& id : ids) {
            found[id] = FindSessionInAuditLog(*state, id);
          }
          // `this` only inside the gate: it holds the reactor's Finish
          // (and so its deletion) off until the call returns.
          channel->gate().Call([this, &found](AttachReactorBase*) {
            RecordAgentEvents(in_.audit(), found);
            StartRead(&in_);
          });
        });
  }

  // An agent reports what its guard saw; AgentAuditFilter decides what of
  // it is stored and under whose name.
  void RecordAgentEvents(const bowden::v1::AuditBatch& batch,
                         const AgentAuditFilter::Owners& looked_up) {
    std::vector<bowden::v1::AuditEvent> events =
        audit_filter_.Filter(batch, absl::Now(), looked_up);
    std::shared_ptr<AgentChannel> channel = channel_;
    int64_t batch_id = batch.batch_id();
    state_->audit->RecordBatch(std::move(events), [channel, batch_id] {
      bowden::v1::RelayMessage ack;
      ack.mutable_audit_ack()->set_batch_id(batch_id);
      channel->Send(std::move(ack));
    });
  }

  // Writes the printer's row on the offload thread: the write waits for the
  // state database's lock. Nothing the stream does later reads the row, and
  // the hello's write and the detach's run in order (one offload thread).
  void RecordSeen(std::vector<std::string> targets) {
    state_->offload->Run([store = state_->store, id = channel_->printer_id(),
                          targets = std::move(targets)] {
      absl::Status recorded = store->RecordSeen(id, targets);
      if (!recorded.ok()) {
        LOG(ERROR) << recorded.message()
                   << "; the printer's row is written when it next attaches "
                      "(until then `bowden ls` lists it only while attached)";
      }
    });
  }

  std::string AgentActor() const { return agent_.ToString(); }

  RelayState* const state_;
  const AuthenticatedPeer agent_;  // as the Attach call authenticated it
  std::shared_ptr<AgentChannel> channel_;
  AgentAuditFilter audit_filter_;  // reactions, and LookUpThenRecord in the gate
  AgentMessage in_;
  bool registered_ = false;  // reactions only
};

}  // namespace

grpc::ServerBidiReactor<AgentMessage, RelayMessage>* AgentServiceImpl::Attach(
    grpc::CallbackServerContext* context) {
  absl::StatusOr<AuthenticatedPeer> id = AuthenticateCall(context, *state_, identity::PeerKind::kAgent);
  if (!id.ok()) {
    return new FinishedReactor<AgentMessage, RelayMessage>(ToGrpcStatus(id.status()));
  }
  return new AttachReactor(state_, &audit_budget_, *std::move(id),
                           context->peer());
}

grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>* AgentServiceImpl::Carry(
    grpc::CallbackServerContext* context) {
  absl::StatusOr<AuthenticatedPeer> id = AuthenticateCall(context, *state_, identity::PeerKind::kAgent);
  if (!id.ok()) return new FinishedReactor<ByteBuffer, ByteBuffer>(ToGrpcStatus(id.status()));
  std::string session_id = CallMetadata(context, "bowden-session-id");
  std::shared_ptr<Splice> splice = state_->registry.TakePending(session_id, id->name);
  if (splice == nullptr) {
    return new FinishedReactor<ByteBuffer, ByteBuffer>(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no pending session '", session_id, "' for printer '",
                     id->name, "' (it may have timed out or been cancelled)")));
  }
  return splice->AttachAgent(context);
}

}  // namespace bowden::relay
