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
    std::string address = spec.substr(eq + 1);
    size_t comma = address.find(',');
    std::string guard;
    if (comma != std::string::npos) {
      std::string option = address.substr(comma + 1);
      address = address.substr(0, comma);
      if (option.rfind("guard=", 0) != 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--target '", spec, "': unknown option '", option,
            "' (the only option is guard=octoprint|webcam|none)"));
      }
      guard = option.substr(6);
    } else if (target.name == "octoprint" || target.name == "webcam") {
      guard = target.name;
    }
    if (guard == "octoprint") {
      target.guard = GuardKind::kOctoPrint;
    } else if (guard == "webcam") {
      target.guard = GuardKind::kWebcam;
    } else if (guard.empty() || guard == "none") {
      target.guard = GuardKind::kNone;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--target '", spec, "': guard must be octoprint, webcam or none"));
    }
    if (!identity::IsValidName(target.name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--target '", spec, "': the name must be 1-63 of [a-z0-9._-]"));
    }
    absl::StatusOr<tunnel::HostPort> hp = tunnel::ParseHostPort(address);
    if (!hp.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target '", spec, "': ", hp.status().message()));
    }
    if (hp->port == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target '", spec, "': the port must not be 0"));
    }
    absl::StatusOr<tunnel::SocketAddress> resolved = tunnel::Resolve(*hp);
    if (!resolved.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target '", spec, "': ", resolved.status().message()));
    }
    target.host_port = *hp;
    target.address = *resolved;
    if (!targets.emplace(target.name, target).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--target '", target.name, "' is given twice"));
    }
  }
  return targets;
}

}  // namespace bowden::agent
