#include "relay/call_auth.h"

#include <grpc/grpc_security_constants.h>

#include "glog/logging.h"
#include "identity/peer.h"

namespace bowden::relay {

absl::StatusOr<identity::SpiffeId> AuthenticateCall(grpc::CallbackServerContext* context,
                                                    RelayState& state,
                                                    identity::PeerKind want) {
  absl::StatusOr<identity::SpiffeId> id =
      identity::AuthenticatePeer(*context->auth_context(), state.trust_domain, want);
  if (id.ok()) return id;
  std::string actor = context->peer();
  auto claimed = context->auth_context()->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (claimed.size() == 1) actor = std::string(claimed[0].data(), claimed[0].size());
  LOG(WARNING) << "refused " << identity::PeerKindName(want) << " call from "
               << context->peer() << ": " << id.status().message();
  bowden::v1::AuditEvent event = MakeAuditEvent("auth", actor, "denied");
  event.set_detail(std::string(id.status().message()));
  (*event.mutable_fields())["peer"] = context->peer();
  state.audit->Record(std::move(event));
  return id;
}

std::string CallMetadata(grpc::CallbackServerContext* context, const char* key) {
  auto it = context->client_metadata().find(key);
  if (it == context->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace bowden::relay
