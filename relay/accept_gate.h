#ifndef BOWDEN_RELAY_ACCEPT_GATE_H_
#define BOWDEN_RELAY_ACCEPT_GATE_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace bowden::relay {

// Keeps the relay's listeners accepting through file-descriptor exhaustion
// and bounds the connections that have not authenticated yet.
//
// gRPC 1.51 owns the listening sockets, and its POSIX listener closes itself
// for good when accept4() fails with EMFILE or ENFILE (tcp_server_posix.cc:
// any error but EAGAIN/ECONNABORTED ends on_read), so one flood of idle
// connections at the descriptor limit locked every new agent and user out
// until a restart. gRPC 1.51 also cannot take a TLS connection the
// application accepted itself (grpc_server_add_channel_from_fd is
// insecure-only). So the relay defines accept4() itself (accept_gate.cc):
// the executable's definition comes before libc's for libgrpc's calls. Once
// Install()ed it
//  - at EMFILE/ENFILE, drops the waiting connections (accepting each on a
//    spare descriptor kept for this, as nginx does) and answers EAGAIN, so
//    gRPC re-arms the listener and the next client gets in once descriptors
//    are free again;
//  - closes a new connection at once when its source address already has
//    `per_source` connections that have not authenticated, or the relay has
//    `total` of them (a handshake deadline, GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
//    ends the ones that never finish).
// A connection counts as authenticated once MarkAuthenticated() names its
// peer, which the relay does on every call whose certificate it accepted.
// Before Install() accept4 behaves as libc's.
//
// Thread-safe: one process-wide gate, guarded by a mutex.
class AcceptGate {
 public:
  struct Limits {
    // A farm behind one NAT address reconnects all its agents at once after
    // an outage: per_source must stay above its number of printers.
    int per_source = 256;
    int total = 1024;
  };
  struct Stats {
    uint64_t refused_per_source = 0;
    uint64_t refused_total = 0;
    uint64_t dropped_out_of_descriptors = 0;
    int unauthenticated = 0;  // tracked right now
  };

  // Turns the gate on for every listener of this process.
  static void Install(Limits limits);
  // `peer` as gRPC names it: "ipv4:1.2.3.4:5678" or "ipv6:[::1]:5678".
  static void MarkAuthenticated(absl::string_view peer);
  static Stats stats();
  // Where the connections that have not authenticated come from right now:
  // "127.0.0.2" when they all share one source address, "one of A, B, ...
  // (N connections)" otherwise, "" when the gate is not installed or there
  // are none. A TLS refusal happens on one of them, and gRPC 1.51 does not
  // tell its certificate verifier the peer's address, so this is the best
  // the relay can say about where a refused certificate came from.
  static std::string PendingSources();
};

// Raises this process's soft limit on open files to its hard limit; returns
// a sentence saying what it did, for the log.
std::string RaiseOpenFileLimit();

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_ACCEPT_GATE_H_
