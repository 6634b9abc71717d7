#ifndef BOWDEN_IDENTITY_SPIFFE_ID_H_
#define BOWDEN_IDENTITY_SPIFFE_ID_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::identity {

// What a certificate's holder is. The kind decides which relay service a peer
// may call: agents only AgentService, users only UserService.
enum class PeerKind { kRelay, kAgent, kUser };

absl::string_view PeerKindName(PeerKind kind);

// A parsed Bowden identity: spiffe://<trust_domain>/relay,
// spiffe://<trust_domain>/agent/<name> or spiffe://<trust_domain>/user/<name>.
// A value type; thread-compatible.
struct SpiffeId {
  std::string trust_domain;
  PeerKind kind;
  std::string name;  // printer id or user name; empty for the relay

  std::string ToString() const;
};

// Parses `uri` strictly: lowercase scheme and trust domain, no query, no
// fragment, no port, no empty or dot path segments, names restricted to
// [a-z0-9][a-z0-9._-]{0,62}. Anything else is InvalidArgument.
absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri);

// True when `name` is a valid printer id or user name.
bool IsValidName(absl::string_view name);

}  // namespace bowden::identity

#endif  // BOWDEN_IDENTITY_SPIFFE_ID_H_
