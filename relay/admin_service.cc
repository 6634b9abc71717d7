#include "relay/admin_service.h"

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "identity/peer.h"
#include "relay/status_convert.h"

namespace bowden::relay {

grpc::ServerUnaryReactor* AdminServiceImpl::ListSessions(
    grpc::CallbackServerContext* context,
    const bowden::v1::ListSessionsRequest* /*request*/,
    bowden::v1::ListSessionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<identity::SpiffeId> user = identity::AuthenticatePeer(
      *context->auth_context(), state_->trust_domain, identity::PeerKind::kUser);
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
  absl::StatusOr<identity::SpiffeId> user = identity::AuthenticatePeer(
      *context->auth_context(), state_->trust_domain, identity::PeerKind::kUser);
  if (!user.ok()) {
    reactor->Finish(ToGrpcStatus(user.status()));
    return reactor;
  }
  if (!state_->policy->Get()->IsRelayAdmin(user->name)) {
    LOG(WARNING) << "kill of session " << request->session_id() << " by " << user->name
                 << " refused: not a relay admin";
    reactor->Finish(grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("user '", user->name,
                     "' is not a relay admin: only users listed in the policy's "
                     "`admins` may kill sessions")));
    return reactor;
  }
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
  splice->Kill(user->name, request->reason());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace bowden::relay
