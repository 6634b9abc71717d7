#include "agent/targets.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "identity/spiffe_id.h"

namespace bowden::agent {

absl::StatusOr<TargetList> ParseTargets(const std::vector<std::string>& specs) {
  if (specs.empty()) {
    return absl::InvalidArgumentError(
        "no --target given: name at least one, e.g. --target octoprint=127.0.0.1:5000");
  }
  TargetList targets;
  for (const std::string& spec : specs) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--target '", spec, "' is not NAME=HOST:PORT, e.g. octoprint=127.0.0.1:5000"));
    }
    Target target;
    target.name = spec.substr(0, eq);
    if (!identity::IsValidName(target.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--target '", spec, "': the name must be 1-63 of [a-z0-9._-]"));
    }
    absl::StatusOr<tunnel::HostPort> hp = tunnel::ParseHostPort(spec.substr(eq + 1));
    if (!hp.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target '", spec, "': ", hp.status().message()));
    }
    if (hp->port == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target '", spec, "': the port must not be 0"));
    }
    absl::StatusOr<tunnel::SocketAddress> address = tunnel::Resolve(*hp);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target '", spec, "': ", address.status().message()));
    }
    target.host_port = *hp;
    target.address = *address;
    if (!targets.emplace(target.name, target).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target '", target.name, "' is given twice"));
    }
  }
  return targets;
}

}  // namespace bowden::agent
