#include "metrics/server.h"

#include <exception>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "tunnel/net.h"

namespace bowden::metrics {

absl::StatusOr<std::string> ParseListen(const std::string& listen) {
  // The project's one HOST:PORT parser (fuzzed: tests/fuzz/host_port_fuzz).
  absl::StatusOr<tunnel::HostPort> parsed = tunnel::ParseHostPort(listen);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--metrics-listen '", listen,
        "' is not HOST:PORT or off, e.g. 127.0.0.1:9470 or [::1]:9470"));
  }
  return parsed->ToString();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const std::string& listen, std::shared_ptr<Registry> registry) {
  absl::StatusOr<std::string> address = ParseListen(listen);
  if (!address.ok()) return address.status();
  // civetweb reports a port it cannot bind by throwing from CivetServer's
  // constructor; this is the one place Bowden meets an exception, and it
  // turns into a Status here.
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", *address, "num_threads", "1"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", *address, " (", e.what(), ")"));
  }
  exposer->RegisterCollectable(registry, "/metrics");
  std::vector<int> ports = exposer->GetListeningPorts();
  int port = ports.empty() ? 0 : ports.front();
  return std::unique_ptr<Server>(new Server(std::move(exposer), port));
}

std::unique_ptr<Server> ServeOrWarn(const std::string& program,
                                    const std::string& listen,
                                    std::shared_ptr<Registry> registry) {
  if (listen == "off") return nullptr;
  absl::StatusOr<std::unique_ptr<Server>> server =
      Server::Start(listen, std::move(registry));
  if (!server.ok()) {
    LOG(WARNING)
        << program << ": no metrics: " << server.status().message()
        << "; the tunnel keeps running (free the port, or pick another with "
           "--metrics-listen HOST:PORT, or turn metrics off with "
           "--metrics-listen=off)";
    return nullptr;
  }
  LOG(INFO) << program << ": metrics on http://"
            << listen.substr(0, listen.rfind(':')) << ":" << (*server)->port()
            << "/metrics";
  return *std::move(server);
}

}  // namespace bowden::metrics
