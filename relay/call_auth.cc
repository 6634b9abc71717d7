#include "relay/call_auth.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "identity/peer.h"
#include "relay/accept_gate.h"

namespace bowden::relay {

namespace {

absl::Status RevokedError(const identity::SpiffeId& id,
                          const std::string& serial_hex,
                          const Revocation& revoked) {
  return absl::UnauthenticatedError(absl::StrCat(
      "certificate ", serial_hex, " of ", id.ToString(), " is revoked (",
      revoked.kind, " ", revoked.subject, ", by ", revoked.by,
      revoked.reason.empty() ? "" : ": ", revoked.reason,
      "); ask the farm operator for a new certificate"));
}

absl::StatusOr<AuthenticatedPeer> Verify(grpc::CallbackServerContext* context,
                                         RelayState& state, identity::PeerKind want) {
  absl::StatusOr<identity::SpiffeId> id =
      identity::AuthenticatePeer(*context->auth_context(), state.trust_domain, want);
  if (!id.ok()) return id.status();
  absl::StatusOr<identity::PeerCertificate> cert =
      identity::PeerCertificateOf(*context->auth_context());
  if (!cert.ok()) return cert.status();
  if (std::optional<Revocation> revoked = state.identities->Find(*id, *cert)) {
    return RevokedError(*id, cert->serial_hex, *revoked);
  }
  // The row is written on the offload thread: the file may be locked.
  if (std::optional<SeenCertificate> seen =
          state.identities->NoteSeen(*id, *cert)) {
    IdentityStore* identities = state.identities;
    state.offload->Run(
        [identities, row = *std::move(seen)] { identities->WriteSeen(row); });
  }
  AuthenticatedPeer peer;
  static_cast<identity::SpiffeId&>(peer) = *id;
  peer.serial_hex = cert->serial_hex;
  return peer;
}

}  // namespace

absl::StatusOr<AuthenticatedPeer> AuthenticateCall(grpc::CallbackServerContext* context,
                                                   RelayState& state,
                                                   identity::PeerKind want) {
  absl::StatusOr<AuthenticatedPeer> id = Verify(context, state, want);
  if (id.ok()) {
    // Its connection no longer counts against the pre-authentication caps.
    AcceptGate::MarkAuthenticated(context->peer());
    return id;
  }
  std::string actor = context->peer();
  auto claimed = context->auth_context()->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (claimed.size() == 1) actor = std::string(claimed[0].data(), claimed[0].size());
  bowden::v1::AuditEvent event = MakeAuditEvent("auth", actor, "denied");
  event.set_detail(std::string(id.status().message()));
  (*event.mutable_fields())["peer"] = context->peer();
  state.call_refusals->Record(
      std::move(event),
      absl::StrCat("refused ", identity::PeerKindName(want), " call from ",
                   context->peer(), ": ", id.status().message()));
  return id;
}

absl::Status RevokedSince(RelayState& state, const AuthenticatedPeer& peer) {
  identity::PeerCertificate cert;
  cert.serial_hex = peer.serial_hex;
  std::optional<Revocation> revoked = state.identities->Find(peer, cert);
  if (!revoked.has_value()) return absl::OkStatus();
  return RevokedError(peer, peer.serial_hex, *revoked);
}

absl::Status CheckNotRevokedSince(RelayState& state,
                                  const AuthenticatedPeer& peer) {
  absl::Status refused = RevokedSince(state, peer);
  if (refused.ok()) return refused;
  bowden::v1::AuditEvent event =
      MakeAuditEvent("auth", peer.ToString(), "denied");
  event.set_detail(std::string(refused.message()));
  state.call_refusals->Record(
      std::move(event), absl::StrCat("refused ", peer.ToString(),
                                     " as it registered: ", refused.message()));
  return refused;
}

std::string CallMetadata(grpc::CallbackServerContext* context, const char* key) {
  auto it = context->client_metadata().find(key);
  if (it == context->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

}  // namespace bowden::relay
