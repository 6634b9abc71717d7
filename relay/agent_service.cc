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
#include "relay/status_convert.h"

namespace bowden::relay {
namespace {

using bowden::v1::AgentMessage;
using grpc::ByteBuffer;
using bowden::v1::RelayMessage;

// The relay's end of one agent's Attach stream. Registers the agent after its
// hello, forwards SessionFailed reports to the waiting sessions, and on the
// way out unregisters the agent and fails its pending sessions.
// Owned by gRPC; reactions are serialised by gRPC (one read at a time), and
// cross-thread writes go through the AgentChannel.
class AttachReactor final : public AttachReactorBase {
 public:
  AttachReactor(RelayState* state, std::string printer_id, std::string peer,
                std::string serial_hex)
      : state_(state),
        channel_(std::make_shared<AgentChannel>(std::move(printer_id), std::move(peer),
                                                std::move(serial_hex))) {
    channel_->gate().Bind(this);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      channel_->gate().RequestFinish(grpc::Status::OK);
      return;
    }
    grpc::Status status = registered_ ? HandleMessage() : HandleHello();
    if (!status.ok()) {
      LOG(WARNING) << "agent " << channel_->printer_id() << " from "
                   << channel_->peer() << " refused: " << status.error_message();
      channel_->gate().RequestFinish(status);
      return;
    }
    channel_->gate().Call([this](AttachReactorBase*) { StartRead(&in_); });
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
      (void)state_->store->RecordSeen(channel_->printer_id(), channel_->targets());
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
    bowden::v1::AuditEvent event = MakeAuditEvent("auth", AgentActor(), "ok");
    event.set_printer(channel_->printer_id());
    event.set_detail(absl::StrCat("agent attached from ", channel_->peer()));
    (*event.mutable_fields())["targets"] = absl::StrJoin(targets, ",");
    state_->audit->Record(std::move(event));
    absl::Status recorded = state_->store->RecordSeen(channel_->printer_id(), targets);
    if (!recorded.ok()) LOG(ERROR) << recorded;
    RelayMessage attached;
    attached.mutable_attached()->set_printer_id(channel_->printer_id());
    channel_->Send(std::move(attached));
    LOG(INFO) << "agent " << channel_->printer_id() << " attached from "
              << channel_->peer() << " offering [" << absl::StrJoin(targets, ", ")
              << "]";
    return grpc::Status::OK;
  }

  grpc::Status HandleMessage() {
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
    if (in_.has_audit()) RecordAgentEvents(in_.audit());
    // Unknown kinds are ignored: newer agents may send more.
    return grpc::Status::OK;
  }

  // An agent reports what its guard saw. It may only speak for its own
  // printer and only about HTTP requests and uploads: whatever it claims
  // otherwise is overwritten or dropped.
  void RecordAgentEvents(const bowden::v1::AuditBatch& batch) {
    std::vector<bowden::v1::AuditEvent> events;
    for (const bowden::v1::AuditEvent& event : batch.events()) {
      if (event.kind() != "http.request" && event.kind() != "upload") {
        LOG(WARNING) << "agent " << channel_->printer_id() << " sent an audit event of kind '"
                     << event.kind() << "'; dropped";
        continue;
      }
      bowden::v1::AuditEvent stored = event;
      stored.set_printer(channel_->printer_id());
      (*stored.mutable_fields())["source"] = AgentActor();
      events.push_back(std::move(stored));
    }
    std::shared_ptr<AgentChannel> channel = channel_;
    int64_t batch_id = batch.batch_id();
    state_->audit->RecordBatch(std::move(events), [channel, batch_id] {
      bowden::v1::RelayMessage ack;
      ack.mutable_audit_ack()->set_batch_id(batch_id);
      channel->Send(std::move(ack));
    });
  }

  std::string AgentActor() const {
    return identity::SpiffeId{state_->trust_domain, identity::PeerKind::kAgent,
                              channel_->printer_id()}
        .ToString();
  }

  RelayState* const state_;
  std::shared_ptr<AgentChannel> channel_;
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
  return new AttachReactor(state_, id->name, context->peer(), id->serial_hex);
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
