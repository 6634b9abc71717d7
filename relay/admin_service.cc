#include "relay/admin_service.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "relay/call_auth.h"
#include "relay/status_convert.h"

namespace bowden::relay {

grpc::ServerUnaryReactor* AdminServiceImpl::ListSessions(
    grpc::CallbackServerContext* context,
    const bowden::v1::ListSessionsRequest* /*request*/,
    bowden::v1::ListSessionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<identity::SpiffeId> user =
      AuthenticateCall(context, *state_, identity::PeerKind::kUser);
  if (!user.ok()) {
    reactor->Finish(ToGrpcStatus(user.status()));
    return reactor;
  }
  bool admin = state_->policy->Get()->IsRelayAdmin(user->name);
  for (const auto& splice : state_->registry.Sessions()) {
    Splice::Snapshot snap = splice->snapshot();
    if (!admin && snap.info.user != user->name) continue;
    bowden::v1::SessionInfo* out = response->add_sessions();
    out->set_id(snap.info.id);
    out->set_user(snap.info.user);
    out->set_printer(snap.info.printer);
    out->set_target(snap.info.target);
    out->set_role(snap.info.role);
    out->set_started_unix(absl::ToUnixSeconds(snap.started));
    out->set_bytes_up(snap.bytes_up);
    out->set_bytes_down(snap.bytes_down);
    out->set_open(snap.open);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::KillSession(
    grpc::CallbackServerContext* context, const bowden::v1::KillSessionRequest* request,
    bowden::v1::KillSessionResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<identity::SpiffeId> user = AuthoriseAdmin(context, reactor, "kill sessions");
  if (!user.has_value()) return reactor;
  std::shared_ptr<Splice> splice = state_->registry.FindSession(request->session_id());
  if (splice == nullptr) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no live session '", request->session_id(),
                     "' (see `bowden sessions`)")));
    return reactor;
  }
  LOG(INFO) << "session " << request->session_id() << " killed by " << user->name
            << (request->reason().empty() ? "" : ": ") << request->reason();
  bowden::v1::AuditEvent event = MakeAuditEvent("admin", user->name, "ok");
  event.set_printer(splice->info().printer);
  event.set_session_id(request->session_id());
  event.set_detail(request->reason());
  (*event.mutable_fields())["action"] = "kill";
  state_->audit->Record(std::move(event));
  splice->Kill(user->name, request->reason());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

std::optional<identity::SpiffeId> AdminServiceImpl::AuthoriseAdmin(
    grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
    absl::string_view action) {
  absl::StatusOr<identity::SpiffeId> user =
      AuthenticateCall(context, *state_, identity::PeerKind::kUser);
  if (!user.ok()) {
    reactor->Finish(ToGrpcStatus(user.status()));
    return std::nullopt;
  }
  if (state_->policy->Get()->IsRelayAdmin(user->name)) return *user;
  LOG(WARNING) << user->name << " may not " << action << ": not a relay admin";
  bowden::v1::AuditEvent event = MakeAuditEvent("denial", user->name, "denied");
  event.set_detail(absl::StrCat("not a relay admin: may not ", action));
  state_->audit->Record(std::move(event));
  reactor->Finish(grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat("user '", user->name, "' is not a relay admin: only users listed in "
                   "the policy's `admins` may ", action)));
  return std::nullopt;
}

grpc::ServerUnaryReactor* AdminServiceImpl::QueryAudit(
    grpc::CallbackServerContext* context, const bowden::v1::AuditQuery* request,
    bowden::v1::QueryAuditResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!AuthoriseAdmin(context, reactor, "read the audit log")) return reactor;
  // Queries are rare and small; waiting for queued events to commit lets an
  // admin see what just happened, including this session's own events.
  state_->audit->Flush();
  absl::StatusOr<std::vector<bowden::v1::AuditEvent>> events =
      state_->audit->log().Query(*request);
  if (!events.ok()) {
    reactor->Finish(ToGrpcStatus(events.status()));
    return reactor;
  }
  for (auto& event : *events) *response->add_events() = std::move(event);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyAudit(
    grpc::CallbackServerContext* context, const bowden::v1::VerifyAuditRequest* request,
    bowden::v1::VerifyAuditResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!AuthoriseAdmin(context, reactor, "verify the audit log")) return reactor;
  state_->audit->Flush();
  audit::VerifyResult result = request->expected_head().empty()
                                   ? state_->audit->log().Verify()
                                   : state_->audit->log().Verify(request->expected_head());
  response->set_ok(result.ok());
  response->set_rows_checked(result.rows_checked);
  response->set_broken_seq(result.ok() ? 0 : result.seq);
  response->set_problem(std::string(audit::ProblemName(result.problem)));
  response->set_detail(result.detail);
  response->set_head(result.head);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace bowden::relay
