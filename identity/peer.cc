#include "identity/peer.h"

#include <grpc/grpc_security_constants.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace bowden::identity {

absl::StatusOr<SpiffeId> AuthenticatePeer(const grpc::AuthContext& auth,
                                          absl::string_view trust_domain,
                                          PeerKind want) {
  // gRPC sets peer_spiffe_id only when the verified certificate carries
  // exactly one URI SAN, which is the rule Bowden wants.
  std::vector<grpc::string_ref> values =
      auth.FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (values.size() != 1) {
    return absl::UnauthenticatedError(
        "the client certificate carries no single spiffe:// URI SAN: use a "
        "certificate issued by `bowden ca issue`");
  }
  std::string uri(values[0].data(), values[0].size());
  absl::StatusOr<SpiffeId> id = ParseSpiffeId(uri);
  if (!id.ok()) {
    return absl::UnauthenticatedError(std::string(id.status().message()));
  }
  if (id->trust_domain != trust_domain) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate '", uri, "' belongs to trust domain '",
                     id->trust_domain, "', this relay serves '", trust_domain,
                     "'"));
  }
  if (id->kind != want) {
    auto article = [](PeerKind kind) { return kind == PeerKind::kAgent ? "an " : "a "; };
    return absl::PermissionDeniedError(absl::StrCat(
        article(id->kind), PeerKindName(id->kind), " certificate (", uri,
        ") cannot call the ", PeerKindName(want), " service: use ",
        article(want), PeerKindName(want), " certificate"));
  }
  return id;
}

}  // namespace bowden::identity
