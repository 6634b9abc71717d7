#ifndef BOWDEN_AGENT_TARGETS_H_
#define BOWDEN_AGENT_TARGETS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tunnel/net.h"

namespace bowden::agent {

// Which HTTP guard stands between a session and the target.
enum class GuardKind {
  kNone,       // bytes pass as they are (a non-HTTP service)
  kOctoPrint,  // OctoPrint's HTTP API and UI: roles, rules, G-code ceiling
  kWebcam,     // mjpg-streamer/ustreamer: stream and snapshot only
};

// One local service the agent may dial, e.g. octoprint -> 127.0.0.1:5000.
struct Target {
  std::string name;
  tunnel::HostPort host_port;
  tunnel::SocketAddress address;  // resolved once, at start-up
  GuardKind guard = GuardKind::kNone;
};

// The agent's allow-list. Nothing a relay sends can make the agent dial
// anything that is not in it. Immutable after parsing; thread-safe.
using TargetList = std::map<std::string, Target>;

// Parses and resolves "NAME=HOST:PORT[,guard=octoprint|webcam|none]" entries
// (the --target flag). Without `guard=`, targets named "octoprint" and
// "webcam" get their guard and others none. Errors quote the offending entry.
absl::StatusOr<TargetList> ParseTargets(const std::vector<std::string>& specs);

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_TARGETS_H_
