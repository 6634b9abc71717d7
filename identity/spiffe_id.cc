#include "identity/spiffe_id.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace bowden::identity {
namespace {

constexpr absl::string_view kScheme = "spiffe://";

bool IsValidTrustDomain(absl::string_view domain) {
  if (domain.empty() || domain.size() > 255) return false;
  for (char c : domain) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' ||
          c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

absl::string_view PeerKindName(PeerKind kind) {
  switch (kind) {
    case PeerKind::kRelay:
      return "relay";
    case PeerKind::kAgent:
      return "agent";
    case PeerKind::kUser:
      return "user";
  }
  return "unknown";
}

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!(absl::ascii_islower(name[0]) || absl::ascii_isdigit(name[0]))) {
    return false;
  }
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' ||
          c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string SpiffeId::ToString() const {
  if (kind == PeerKind::kRelay) return absl::StrCat(kScheme, trust_domain, "/relay");
  return absl::StrCat(kScheme, trust_domain, "/", PeerKindName(kind), "/", name);
}

absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("identity '", uri, "' is not a Bowden SPIFFE id: ", why));
  };
  if (!absl::StartsWith(uri, kScheme)) return invalid("it must start with spiffe://");
  absl::string_view rest = uri.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) return invalid("it has no path");
  SpiffeId id;
  id.trust_domain = std::string(rest.substr(0, slash));
  if (!IsValidTrustDomain(id.trust_domain)) {
    return invalid("the trust domain must be lowercase letters, digits, '.', '-' or '_'");
  }
  std::vector<absl::string_view> path = absl::StrSplit(rest.substr(slash + 1), '/');
  if (path.size() == 1 && path[0] == "relay") {
    id.kind = PeerKind::kRelay;
    return id;
  }
  if (path.size() != 2) return invalid("the path must be /relay, /agent/NAME or /user/NAME");
  if (path[0] == "agent") {
    id.kind = PeerKind::kAgent;
  } else if (path[0] == "user") {
    id.kind = PeerKind::kUser;
  } else {
    return invalid("the path must be /relay, /agent/NAME or /user/NAME");
  }
  if (!IsValidName(path[1])) {
    return invalid("the name must be 1-63 of [a-z0-9._-], starting with a letter or digit");
  }
  id.name = std::string(path[1]);
  return id;
}

}  // namespace bowden::identity
