#ifndef BOWDEN_RELAY_AGENT_CHANNEL_H_
#define BOWDEN_RELAY_AGENT_CHANNEL_H_

#include <deque>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "grpcpp/support/server_callback.h"
#include "proto/tunnel.pb.h"
#include "relay/reactor_gate.h"

namespace bowden::relay {

using AttachReactorBase =
    grpc::ServerBidiReactor<bowden::v1::AgentMessage, bowden::v1::RelayMessage>;

// The relay's handle on one attached agent: what it offers, and a queue of
// control messages to it. Sessions of many users send OpenSession through one
// channel; messages go out one write at a time, in order.
//
// Thread-safe.
class AgentChannel {
 public:
  AgentChannel(std::string printer_id, std::string peer, std::string serial_hex = "")
      : printer_id_(std::move(printer_id)),
        peer_(std::move(peer)),
        serial_hex_(std::move(serial_hex)) {}

  const std::string& printer_id() const { return printer_id_; }
  const std::string& peer() const { return peer_; }
  // The agent certificate's serial, for revocation by serial.
  const std::string& serial_hex() const { return serial_hex_; }

  void SetTargets(std::vector<std::string> targets) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::string> targets() const ABSL_LOCKS_EXCLUDED(mu_);
  bool OffersTarget(const std::string& target) const ABSL_LOCKS_EXCLUDED(mu_);

  // Queues `message`; false when the attachment is closing.
  bool Send(bowden::v1::RelayMessage message) ABSL_LOCKS_EXCLUDED(mu_);

  // For the Attach reactor.
  ReactorGate<AttachReactorBase>& gate() { return gate_; }
  // The previous write finished; `ok` false when the stream broke.
  void OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void WriteNext() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string printer_id_;
  const std::string peer_;
  const std::string serial_hex_;
  ReactorGate<AttachReactorBase> gate_;
  mutable absl::Mutex mu_;
  std::vector<std::string> targets_ ABSL_GUARDED_BY(mu_);
  std::deque<bowden::v1::RelayMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Only the writer (the one holding writing_) touches it.
  bowden::v1::RelayMessage current_;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_AGENT_CHANNEL_H_
