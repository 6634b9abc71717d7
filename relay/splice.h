#ifndef BOWDEN_RELAY_SPLICE_H_
#define BOWDEN_RELAY_SPLICE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/server_context.h"
#include "grpcpp/support/byte_buffer.h"
#include "grpcpp/support/server_callback.h"
#include "relay/reactor_gate.h"

namespace bowden::relay {

// What a session connects.
struct SessionInfo {
  std::string id;
  std::string user;
  std::string printer;
  std::string target;
  std::string role;
  std::string user_serial;  // the user's certificate, for revocation by serial
  // When the user's Dial arrived, before its authorisation (for the set-up
  // latency metric); the splice's own creation time if unset.
  absl::Time dialed = absl::InfinitePast();
};

// Joins a user's Dial stream and an agent's Carry stream into one session and
// pumps messages between them: one read and one write outstanding per
// direction, so a slow reader slows its writer down through HTTP/2 flow
// control and the relay buffers at most one message per direction.
//
// The relay never parses the Chunks it carries: messages are forwarded as
// raw ByteBuffers, whose slices are passed on without a copy. A `fin` Chunk
// is just another message here; what the relay watches is each client
// half-closing its stream after its fin. When both streams are half-closed,
// both finish OK. When either stream is cancelled or breaks, the other is
// finished with an error, which the far end turns into a TCP reset.
//
// Thread-safe. Owned by shared_ptr: by the relay's pending-session table
// until the agent's stream arrives, and by both stream reactors after.
class Splice : public std::enable_shared_from_this<Splice> {
 public:
  using Reactor = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;
  // Runs once, when both streams are over (or the user's stream is over and
  // the agent's never came).
  using ClosedCallback = std::function<void(const Splice&)>;

  Splice(SessionInfo info, ClosedCallback on_closed);

  // The reactor for the user's Dial call. Reads start once the agent's Carry
  // stream is attached.
  Reactor* AttachUser(grpc::CallbackServerContext* context);
  // The reactor for the agent's Carry call; starts the pumping.
  Reactor* AttachAgent(grpc::CallbackServerContext* context);
  // Ends the session before it started (agent refused, timeout, agent gone).
  void Fail(const grpc::Status& status);
  // Ends the session at an administrator's request; both ends see ABORTED.
  void Kill(const std::string& by, const std::string& reason);

  // A point-in-time view for `bowden sessions`.
  struct Snapshot {
    SessionInfo info;
    absl::Time started;
    uint64_t bytes_up;    // user -> printer
    uint64_t bytes_down;  // printer -> user
    bool open;            // the agent's stream is attached
  };
  Snapshot snapshot() const ABSL_LOCKS_EXCLUDED(mu_);
  // How the session ended (once it has), e.g. "closed by both sides".
  std::string end_reason() const ABSL_LOCKS_EXCLUDED(mu_);

  const SessionInfo& info() const { return info_; }
  // When the splice was made (at the user's Dial).
  absl::Time started() const { return started_; }
  // Summary for the log line written when the session closes.
  std::string Describe() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  enum Side { kUser = 0, kAgent = 1 };
  class End;
  static Side Other(Side side) { return side == kUser ? kAgent : kUser; }

  void OnRead(Side side, End* end, bool ok);
  void OnWritten(Side side, End* end, bool ok);
  void OnDrained(Side side);
  void OnCancelled(Side side);
  void OnEndDone(Side side);
  void Abort(Side culprit);
  void StartReading(Side side);

  const SessionInfo info_;
  const absl::Time started_ = absl::Now();
  ClosedCallback on_closed_;
  ReactorGate<End> gates_[2];

  mutable absl::Mutex mu_;
  bool attached_[2] ABSL_GUARDED_BY(mu_) = {false, false};
  bool done_[2] ABSL_GUARDED_BY(mu_) = {false, false};
  // Side i half-closed its stream and everything it sent was forwarded.
  bool drained_[2] ABSL_GUARDED_BY(mu_) = {false, false};
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t bytes_from_[2] ABSL_GUARDED_BY(mu_) = {0, 0};
  std::string end_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_SPLICE_H_
