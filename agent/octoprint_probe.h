#ifndef BOWDEN_AGENT_OCTOPRINT_PROBE_H_
#define BOWDEN_AGENT_OCTOPRINT_PROBE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tunnel/net.h"

namespace bowden::agent {

// Whom OctoPrint logs in for a request that carries no credentials at all
// (GET /api/currentuser), asked twice from where the agent sits: once plainly,
// as any local process would, and once the way the guard forwards a remote
// user (with that user's X-Forwarded-For). What the agent can see of
// autologinLocal without reading OctoPrint's files.
struct LoginProbe {
  std::string as_local;   // the user name, or "" for the anonymous user
  std::string as_remote;  // the same, for a request forwarded by the guard
};

// Asks OctoPrint at `address`; each request gives up after `timeout`.
// Unavailable if OctoPrint cannot be reached or does not answer like
// OctoPrint (a JSON object with a "name").
absl::StatusOr<LoginProbe> ProbeOctoPrintLogin(const tunnel::SocketAddress& address,
                                               absl::Duration timeout);

// One sentence for each risk the probe shows, saying what to change.
std::vector<std::string> LoginRisks(const LoginProbe& probe);

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_OCTOPRINT_PROBE_H_
