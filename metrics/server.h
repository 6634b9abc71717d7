#ifndef BOWDEN_METRICS_SERVER_H_
#define BOWDEN_METRICS_SERVER_H_

// Serves a Registry as Prometheus text on GET /metrics through prometheus-cpp's
// Exposer (civetweb). Metrics are never worth stopping a tunnel for: a listen
// address that cannot be used is one WARNING line and no server.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "metrics/registry.h"
#include "prometheus/exposer.h"

namespace bowden::metrics {

// "off" turns the server off; anything else must be HOST:PORT (IPv6 in
// brackets). InvalidArgument, with what to write instead, otherwise.
absl::StatusOr<std::string> ParseListen(const std::string& listen);

// A running /metrics server. Thread-safe; destruction stops it (do that
// before anything the registry's callback gauges read is destroyed).
class Server {
 public:
  // Starts serving `registry` on `listen` (HOST:PORT, port 0 picks one) with
  // one worker thread (a scrape is a few kilobytes every few seconds).
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const std::string& listen, std::shared_ptr<Registry> registry);
  // The port it listens on.
  int port() const { return port_; }

 private:
  Server(std::unique_ptr<prometheus::Exposer> exposer, int port)
      : exposer_(std::move(exposer)), port_(port) {}
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_;
};

// What a daemon does with its --metrics-listen: nullptr for "off"; for an
// address it cannot use, nullptr after one WARNING line naming `program`'s
// flag and the fix (the daemon keeps running without metrics); else the
// server, after an INFO line with its port.
std::unique_ptr<Server> ServeOrWarn(const std::string& program,
                                    const std::string& listen,
                                    std::shared_ptr<Registry> registry);

}  // namespace bowden::metrics

#endif  // BOWDEN_METRICS_SERVER_H_
