#ifndef BOWDEN_RELAY_CALL_AUTH_H_
#define BOWDEN_RELAY_CALL_AUTH_H_

#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/server_context.h"
#include "identity/spiffe_id.h"
#include "relay/relay_state.h"

namespace bowden::relay {

// A call's verified peer: its identity and its certificate's serial.
struct AuthenticatedPeer : identity::SpiffeId {
  std::string serial_hex;
};

// The verified identity of a call's peer, which must be of kind `want` and
// not revoked. A refusal is logged and audited (kind "auth", outcome
// "denied") with the certificate's SPIFFE id when there is one, else the peer
// address.
absl::StatusOr<AuthenticatedPeer> AuthenticateCall(grpc::CallbackServerContext* context,
                                                   RelayState& state,
                                                   identity::PeerKind want);

// Whether `peer` (authenticated by AuthenticateCall) has been revoked since:
// Unauthenticated if so. Work that a revocation must stop even when its call
// was authenticated before the revocation was stored checks again: Renew
// before it signs, and (CheckNotRevokedSince) a call that registers a session
// or an agent once registered, because a revocation stored on the offload
// thread in between cuts only what was registered when it looked
// (AdminServiceImpl::CutRevoked).
absl::Status RevokedSince(RelayState& state, const AuthenticatedPeer& peer);
// RevokedSince, and a refusal logged and audited (kind "auth", "denied").
absl::Status CheckNotRevokedSince(RelayState& state,
                                  const AuthenticatedPeer& peer);

// The value of request metadata `key`, or "".
std::string CallMetadata(grpc::CallbackServerContext* context, const char* key);

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_CALL_AUTH_H_
