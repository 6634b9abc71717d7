#ifndef BOWDEN_CLI_PORT_MEMORY_H_
#define BOWDEN_CLI_PORT_MEMORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "certs/pem_files.h"
#include "proto/config.pb.h"

namespace bowden::cli {

// The file `bowden open` keeps its ports in: $XDG_STATE_HOME/bowden/ports, or
// $HOME/.local/state/bowden/ports; "" when neither variable is set.
std::string DefaultPortsPath();

// Where a first-time printer listens: 15000-15999 from a stable hash of the
// printer id and target, so a printer's first URL is the same on every
// machine (bookmarks), however the CLI was built.
uint16_t SuggestedPort(const std::string& printer, const std::string& target);

// The ports to try, in order: the remembered one, the suggestion and the
// next 15 of the range after it (wrapping), then 0 (any free port).
std::vector<uint16_t> PortCandidates(std::optional<uint16_t> remembered,
                                     const std::string& printer,
                                     const std::string& target);

// `bowden open`'s memory of its local ports, one per relay, printer and
// target, in a bowden.v1.OpenPorts textproto file.
//
// Thread-compatible.
class PortMemory {
 public:
  explicit PortMemory(std::string path) : path_(std::move(path)) {}

  // Reads the file; a missing one is empty. A file that cannot be read or
  // parsed leaves the memory empty and puts one sentence in *warning (it is
  // rewritten on the next Save()).
  void Load(std::string* warning);
  // The remembered port, if any (entries with a port outside 1-65535 are
  // ignored).
  std::optional<uint16_t> Find(const std::string& relay,
                               const std::string& printer,
                               const std::string& target) const;
  void Remember(const std::string& relay, const std::string& printer,
                const std::string& target, uint16_t port);
  // Holds off other `bowden open` processes from Load() to Save(), so two
  // started at once do not forget each other's ports. Creates the directory.
  absl::StatusOr<certs::DirectoryLock> Lock() const;
  // Writes the file atomically (a 0600 temporary file renamed over it), in a
  // 0700 directory created as needed.
  absl::Status Save() const;

  const std::string& path() const { return path_; }

 private:
  // The file's directory, created (0700) if missing.
  absl::StatusOr<std::string> Directory() const;

  std::string path_;
  bowden::v1::OpenPorts ports_;
};

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_PORT_MEMORY_H_
