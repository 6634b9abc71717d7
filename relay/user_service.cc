#include "relay/user_service.h"

#include <openssl/rand.h>

#include <map>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "glog/logging.h"
#include "identity/spiffe_id.h"
#include "relay/call_auth.h"
#include "relay/finished_reactor.h"
#include "relay/relay_metrics.h"
#include "relay/status_convert.h"

namespace bowden::relay {
namespace {

using grpc::ByteBuffer;

std::string NewSessionId() {
  unsigned char bytes[12];
  RAND_bytes(bytes, sizeof(bytes));
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

grpc::ServerUnaryReactor* UserServiceImpl::ListPrinters(
    grpc::CallbackServerContext* context,
    const bowden::v1::ListPrintersRequest* /*request*/,
    bowden::v1::ListPrintersResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<AuthenticatedPeer> user = AuthenticateCall(context, *state_, identity::PeerKind::kUser);
  if (!user.ok()) {
    reactor->Finish(ToGrpcStatus(user.status()));
    return reactor;
  }
  // The printers seen before are in SQLite.
  state_->offload->FinishCall(reactor, [this, user = user->name, response] {
    return ListPrintersNow(user, response);
  });
  return reactor;
}

grpc::Status UserServiceImpl::ListPrintersNow(
    const std::string& user, bowden::v1::ListPrintersResponse* response) {
  absl::StatusOr<std::vector<KnownPrinter>> known = state_->store->List();
  if (!known.ok()) {
    LOG(ERROR) << known.status();
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the relay cannot read its state database");
  }
  std::map<std::string, bowden::v1::Printer> printers;
  for (const KnownPrinter& p : *known) {
    bowden::v1::Printer& out = printers[p.id];
    out.set_id(p.id);
    out.set_last_seen_unix(p.last_seen_unix);
    for (const std::string& t : p.targets) out.add_targets(t);
  }
  for (const auto& channel : state_->registry.Agents()) {
    bowden::v1::Printer& out = printers[channel->printer_id()];
    out.set_id(channel->printer_id());
    out.set_online(true);
    out.clear_targets();
    for (const std::string& t : channel->targets()) out.add_targets(t);
  }
  std::shared_ptr<const policy::Policy> policy = state_->policy->Get();
  for (auto& [id, printer] : printers) {
    if (!policy->MayReachPrinter(user, id)) continue;
    bowden::v1::Printer* out = response->add_printers();
    *out = printer;
    out->clear_targets();
    for (const std::string& t : printer.targets()) {
      if (policy->MayReachTarget(user, id, t)) out->add_targets(t);
    }
  }
  response->set_relay_time_unix_ms(absl::ToUnixMillis(absl::Now()));
  return grpc::Status::OK;
}

absl::StatusOr<UserServiceImpl::Authorised> UserServiceImpl::Authorise(
    const std::string& user, const std::string& printer,
    const std::string& target) {
  if (!identity::IsValidName(printer) || !identity::IsValidName(target)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "printer '", printer, "' / target '", target,
        "' is not a valid name (1-63 of [a-z0-9._-])"));
  }
  // Policy first, so that a user without a grant learns nothing about which
  // printers exist.
  std::optional<policy::Role> role = state_->policy->Get()->RoleFor(user, printer, target);
  if (!role.has_value()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "user '", user, "' is not permitted to reach '", target, "' on printer '",
        printer, "': ask the farm operator for a grant"));
  }
  std::shared_ptr<AgentChannel> channel = state_->registry.FindAgent(printer);
  if (channel == nullptr) {
    if (!state_->store->Contains(printer)) {
      return absl::NotFoundError(absl::StrCat(
          "printer '", printer, "' is unknown to this relay: check the name with `bowden ls`"));
    }
    return absl::UnavailableError(absl::StrCat(
        "printer '", printer, "' is offline: its agent is not attached to the relay"));
  }
  if (!channel->OffersTarget(target)) {
    return absl::NotFoundError(absl::StrCat(
        "printer '", printer, "' has no target '", target, "' on its agent's list (it offers: ",
        absl::StrJoin(channel->targets(), ", "), ")"));
  }
  return Authorised{std::move(channel), *role};
}

grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>* UserServiceImpl::Dial(
    grpc::CallbackServerContext* context) {
  const absl::Time dialed = absl::Now();
  absl::StatusOr<AuthenticatedPeer> user = AuthenticateCall(context, *state_, identity::PeerKind::kUser);
  if (!user.ok()) {
    RelayMetrics::Get().CountDenial(user.status());
    return new FinishedReactor<ByteBuffer, ByteBuffer>(ToGrpcStatus(user.status()));
  }
  SessionInfo info;
  info.dialed = dialed;
  info.user = user->name;
  info.user_serial = user->serial_hex;
  info.printer = CallMetadata(context, "bowden-printer");
  info.target = CallMetadata(context, "bowden-target");
  absl::StatusOr<Authorised> authorised =
      Authorise(info.user, info.printer, info.target);
  if (!authorised.ok()) {
    RelayMetrics::Get().CountDenial(authorised.status());
    RecordRefusedDial(info, authorised.status());
    return new FinishedReactor<ByteBuffer, ByteBuffer>(
        ToGrpcStatus(authorised.status()));
  }
  // A session the relay cannot audit is not opened.
  if (absl::Status refused = state_->audit->AdmitsNewSessions(); !refused.ok()) {
    RelayMetrics::Get().CountDenial("audit_backlog");
    RecordRefusedDial(info, refused);
    return new FinishedReactor<ByteBuffer, ByteBuffer>(ToGrpcStatus(refused));
  }
  info.role = std::string(policy::RoleName(authorised->role));
  info.id = NewSessionId();
  Registry* registry = &state_->registry;
  AuditSink* audit = state_->audit;
  auto splice = std::make_shared<Splice>(info, [registry, audit](const Splice& s) {
    registry->RemovePending(s.info().id);
    registry->RemoveSession(s.info().id);
    LOG(INFO) << s.Describe();
    Splice::Snapshot snap = s.snapshot();
    bowden::v1::AuditEvent event = MakeAuditEvent("session.close", snap.info.user, "ok");
    event.set_printer(snap.info.printer);
    event.set_target(snap.info.target);
    event.set_session_id(snap.info.id);
    auto& fields = *event.mutable_fields();
    fields["role"] = snap.info.role;
    fields["bytes_up"] = absl::StrCat(snap.bytes_up);
    fields["bytes_down"] = absl::StrCat(snap.bytes_down);
    fields["duration_ms"] = absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - snap.started));
    fields["reason"] = s.end_reason();
    audit->Record(std::move(event));
  });
  absl::Status added = registry->AddSession(splice, state_->max_sessions_per_user);
  if (!added.ok()) {
    RelayMetrics::Get().CountDenial(added);
    RecordRefusedDial(info, added);
    return new FinishedReactor<ByteBuffer, ByteBuffer>(ToGrpcStatus(added));
  }
  registry->AddPending(splice);
  Splice::Reactor* reactor = splice->AttachUser(context);
  if (absl::Status revoked = CheckNotRevokedSince(*state_, *user);
      !revoked.ok()) {
    registry->RemovePending(info.id);
    splice->Fail(ToGrpcStatus(revoked));
    return reactor;
  }

  bowden::v1::RelayMessage open;
  open.mutable_open_session()->set_session_id(info.id);
  open.mutable_open_session()->set_target(info.target);
  open.mutable_open_session()->set_user(info.user);
  open.mutable_open_session()->set_role(info.role);
  if (!authorised->channel->Send(std::move(open))) {
    registry->RemovePending(info.id);
    splice->Fail(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                              absl::StrCat("printer '", info.printer, "' is offline")));
    return reactor;
  }
  LOG(INFO) << "session " << info.id << " opening: " << info.user << " ("
            << info.role << ") -> " << info.printer << "/" << info.target;
  bowden::v1::AuditEvent event = MakeAuditEvent("session.open", info.user, "ok");
  event.set_printer(info.printer);
  event.set_target(info.target);
  event.set_session_id(info.id);
  (*event.mutable_fields())["role"] = info.role;
  (*event.mutable_fields())["peer"] = context->peer();
  state_->audit->Record(std::move(event));
  state_->open_timeouts->Watch();
  return reactor;
}

void UserServiceImpl::RecordRefusedDial(const SessionInfo& info,
                                        const absl::Status& refused) {
  bowden::v1::AuditEvent event = MakeAuditEvent("denial", info.user, "denied");
  event.set_printer(info.printer);
  event.set_target(info.target);
  event.set_detail(std::string(refused.message()));
  state_->call_refusals->Record(
      std::move(event), absl::StrCat("dial by ", info.user, " to ", info.printer,
                                     "/", info.target, " refused: ",
                                     refused.message()));
}

}  // namespace bowden::relay
