#ifndef BOWDEN_AGENT_OCTOPRINT_PROBE_H_
#define BOWDEN_AGENT_OCTOPRINT_PROBE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tunnel/net.h"

namespace bowden::agent {

// Whom OctoPrint logs in without any credentials, asked the way OctoPrint's
// own web UI asks on every page load (a passive login, passive_login.h),
// twice: plainly, as any program on the printer host would, and exactly as
// the guard forwards a tunnel session's request (guard/forwarding.h: the
// same head builder, X-Forwarded-For in 198.18.0.0/15). What the agent can
// see of accessControl.autologinLocal and localNetworks without reading
// OctoPrint's files.
struct LoginProbe {
  std::string as_local;   // the user name, or "" for nobody
  std::string as_remote;  // the same, for a tunnel session's request
};

// Where and how to ask one OctoPrint.
struct ProbeTarget {
  tunnel::SocketAddress address;
  std::string host;  // the Host the requests name, e.g. "127.0.0.1:5000"
  // The agent's single sign-on header (LocalSafety), or "": the forwarded
  // request drops it like the guard does, and names nobody in it.
  std::string remote_user_header;
};

// Asks OctoPrint at `target`: four requests (the CSRF cookie page and the
// passive login, each plainly and forwarded), all within `timeout`. Blocks
// the calling thread. Unavailable if OctoPrint cannot be reached or does not
// answer like OctoPrint; FailedPrecondition if it refuses the passive login.
absl::StatusOr<LoginProbe> ProbeOctoPrintLogin(const ProbeTarget& target,
                                               absl::Duration timeout);

// `request` (a whole request: head and body) as the guard would forward it
// for a tunnel session of the probe's own user, which holds no credentials.
absl::StatusOr<std::string> AsForwardedSession(
    const std::string& request, const std::string& remote_user_header);

// The sentence a user sees when the agent refuses sessions to `target`
// because OctoPrint logs tunnel sessions in as `user` without credentials.
std::string TunnelAutologinRefusal(const std::string& target,
                                   const std::string& user);
// The warning when --allow-octoprint-autologin serves such a target anyway.
std::string TunnelAutologinAllowed(const std::string& target,
                                   const std::string& user);
// The warning when only programs on the printer host are logged in.
std::string LocalAutologinWarning(const std::string& target,
                                  const std::string& user);

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_OCTOPRINT_PROBE_H_
