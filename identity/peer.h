#ifndef BOWDEN_IDENTITY_PEER_H_
#define BOWDEN_IDENTITY_PEER_H_

#include "absl/status/statusor.h"
#include "grpcpp/security/auth_context.h"
#include "identity/spiffe_id.h"

namespace bowden::identity {

// The verified identity of the peer of a call, taken from its client
// certificate, required to belong to `trust_domain` and be of kind `want`.
// Errors are UNAUTHENTICATED (no usable identity) or PERMISSION_DENIED (a
// valid identity of the wrong kind), each with a sentence saying what to do.
absl::StatusOr<SpiffeId> AuthenticatePeer(const grpc::AuthContext& auth,
                                          absl::string_view trust_domain,
                                          PeerKind want);

}  // namespace bowden::identity

#endif  // BOWDEN_IDENTITY_PEER_H_
