#ifndef BOWDEN_TUNNEL_SOCKET_PUMP_H_
#define BOWDEN_TUNNEL_SOCKET_PUMP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "grpcpp/client_context.h"
#include "grpcpp/impl/codegen/proto_utils.h"  // SerializationTraits for Chunk
#include "proto/tunnel.pb.h"
#include "tunnel/completion_thread.h"
#include "tunnel/cq_bidi_reactor.h"
#include "tunnel/event_loop.h"
#include "tunnel/notice_mailbox.h"
#include "tunnel/unique_fd.h"

namespace bowden::tunnel {

// How a pumped connection ended.
struct PumpResult {
  grpc::Status status;    // the RPC's final status
  uint64_t bytes_up = 0;  // socket -> stream
  uint64_t bytes_down = 0;
};

// What a pump does with Chunk.notices; both optional.
struct PumpNotices {
  using Received = std::function<void(
      const google::protobuf::RepeatedPtrField<bowden::v1::Notice>&)>;
  // Notices to send with the up direction (socket -> stream).
  std::shared_ptr<NoticeMailbox> outbox;
  // Called with the notices of each received Chunk that has some, on the
  // completion thread: must not block.
  Received on_received;
};

// Process-wide byte counters a pump adds each Chunk's bytes to as it goes
// (one relaxed atomic add per Chunk), for metrics; both optional. They must
// outlive the pump.
struct PumpTally {
  std::atomic<uint64_t>* bytes_up = nullptr;  // socket -> stream
  std::atomic<uint64_t>* bytes_down = nullptr;
};

// Carries one TCP connection over one bidi gRPC stream of Chunks, keeping TCP
// semantics: each direction flows independently; EOF on the socket becomes a
// `fin` Chunk and a received `fin` becomes shutdown(SHUT_WR); a socket error
// cancels the stream, and a stream that ends with an error resets the socket.
//
// Backpressure: at most one Chunk is in flight each way. The socket is read
// only when the previous Chunk has been handed to gRPC, and the next Chunk is
// requested only when the previous one is fully written to the socket.
//
// Thread-safety: each direction is owned by one party at a time, like a
// token: the reaction that just completed on the completion thread (which
// then does the socket I/O itself, sparing a thread hop when the socket is
// ready), or the loop thread while the socket is not ready (EAGAIN) and
// epoll is waiting for it. The up direction's token is the atomic `up_state_`:
// the socket is watched edge-triggered all along, and an edge that comes
// while a Chunk is being written is remembered instead of handled, so
// handing the token back to the loop needs no wake-up of the loop.
// Epoll interest, start-up and tear-down belong to the loop thread only. The
// object deletes itself after `done` has run.
//
// Notices (PumpNotices): whoever holds the up direction's token takes the
// outbox's notices into the Chunk it is about to write, after the socket
// read that fills it, so a notice posted before some bytes reach the socket
// travels no later than those bytes. With nothing to read it sends them in
// a Chunk without data. A post wakes the loop, which handles it like a
// socket edge (kUpIdle: take the token; kUpBusy: remember it), so notices
// that nothing follows still go out. Received notices go to `on_received`
// on the completion thread before the Chunk's bytes are written.
class SocketPump final
    : public CqBidiReactor<bowden::v1::Chunk, bowden::v1::Chunk> {
 public:
  using Reactor = CqBidiReactor<bowden::v1::Chunk, bowden::v1::Chunk>;
  using DoneCallback = std::function<void(const PumpResult&)>;

  // The most socket bytes one Chunk carries (one read): big enough to
  // amortise gRPC's per-message cost, small because a session whose reader
  // stalls holds a few Chunks in each process (docs/architecture.md,
  // "Backpressure").
  static constexpr size_t kMaxChunkBytes = 128 * 1024;

  // Thread-safe. Pumps `socket` (connected) through the call that `prepare`
  // creates with `context` on `calls`. `done` runs on the loop thread once
  // the socket is closed and the call has ended.
  static void Start(EventLoop* loop, CompletionThread* calls, UniqueFd socket,
                    std::unique_ptr<grpc::ClientContext> context,
                    Reactor::Prepare prepare, DoneCallback done,
                    PumpNotices notices = PumpNotices(),
                    PumpTally tally = PumpTally());

  // Reactions (completion thread).
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  SocketPump(EventLoop* loop, UniqueFd socket,
             std::unique_ptr<grpc::ClientContext> context, DoneCallback done,
             PumpNotices notices, PumpTally tally);

  enum class Io { kDone, kWouldBlock, kFailed };
  // The up direction (socket -> stream).
  enum UpState : int {
    kUpIdle,        // the loop reads on the next edge
    kUpBusy,        // a Chunk is being read or written
    kUpMissedEdge,  // kUpBusy, and an edge came meanwhile
    kUpOver,        // the fin is out, or the socket failed
  };

  // Whoever holds the direction's token.
  // Reads the socket and starts writing what arrived (or the fin); returns
  // kWouldBlock once the token is back with the loop.
  Io ReadSocket();
  // Moves the outbox's notices into `up_` (dropping the last Chunk's);
  // returns whether there were any.
  bool TakeNotices();
  // Writes the rest of `down_`; when all is out, half-closes the socket after
  // a fin or asks for the next Chunk unless the call is over.
  Io FlushSocket(bool call_over);

  // Loop thread only.
  void Begin(CompletionThread* calls, const Reactor::Prepare& prepare);
  void OnSocketEvent(uint32_t events);
  // Something to send up came (socket data or a notice): reads now if the
  // loop holds the token, else has the holder look again.
  void OnUpEdge();
  void WaitForSocketWrite();
  void Abort();
  void UpdateInterest();
  void MaybeFinish();

  EventLoop* const loop_;
  UniqueFd socket_;
  std::unique_ptr<grpc::ClientContext> context_;
  DoneCallback done_;
  const PumpNotices notices_;
  const PumpTally tally_;
  EventLoop::WatchId watch_ = 0;

  bowden::v1::Chunk up_;    // socket -> stream, owned by gRPC while writing
  bowden::v1::Chunk down_;  // stream -> socket
  size_t down_offset_ = 0;

  std::atomic<int> up_state_{kUpIdle};
  // Loop thread only.
  bool watching_ = true;
  bool want_socket_write_ = false;
  bool rpc_done_ = false;
  // Up direction's token holder only.
  bool sent_fin_ = false;
  // The last read returned less than it asked for: the socket's queue was
  // empty then, so what arrives later raises an edge of its own.
  bool last_read_drained_ = false;
  uint64_t bytes_up_ = 0;
  // Down direction's token holder only.
  uint64_t bytes_down_ = 0;
  // Set by the loop, read by reactions.
  std::atomic<bool> socket_failed_{false};
  // An edge reported the peer's FIN, an error or a hang-up: its edge may be
  // spent already, so reads go on until the socket says so (0 or an error).
  std::atomic<bool> peer_hung_up_{false};
  grpc::Status status_;  // loop thread, after OnDone
};

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_SOCKET_PUMP_H_
