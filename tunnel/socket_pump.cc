#include "tunnel/socket_pump.h"

#include <sys/socket.h>

#include <cerrno>
#include <memory>

#include "tunnel/net.h"

namespace bowden::tunnel {
namespace {

constexpr size_t kChunkBytes = SocketPump::kMaxChunkBytes;
// Edge-triggered, and told of the peer's FIN (EPOLLRDHUP), so that a short
// read can end a round without a second recv() to see EAGAIN
// (SocketPump::OnWriteDone).
constexpr uint32_t kReadInterest = EPOLLIN | EPOLLRDHUP | EPOLLET;

// The buffer each socket read goes to, one per thread: it is only used
// between a recv and the copy into the Chunk on the same thread, so a pump
// needs none of its own (a buffer per connection cost each process 512 KiB
// per open session, and the heap kept what bursts of them had used).
char* ReadBuffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[kChunkBytes]);
  return buffer.get();
}

}  // namespace

void SocketPump::Start(EventLoop* loop, CompletionThread* calls,
                       UniqueFd socket,
                       std::unique_ptr<grpc::ClientContext> context,
                       Reactor::Prepare prepare, DoneCallback done,
                       PumpNotices notices, PumpTally tally) {
  auto* pump = new SocketPump(loop, std::move(socket), std::move(context),
                              std::move(done), std::move(notices), tally);
  loop->Post([pump, calls, prepare = std::move(prepare)] { pump->Begin(calls, prepare); });
}

SocketPump::SocketPump(EventLoop* loop, UniqueFd socket,
                       std::unique_ptr<grpc::ClientContext> context,
                       DoneCallback done, PumpNotices notices, PumpTally tally)
    : loop_(loop),
      socket_(std::move(socket)),
      context_(std::move(context)),
      done_(std::move(done)),
      notices_(std::move(notices)),
      tally_(tally) {}

void SocketPump::Begin(CompletionThread* calls, const Reactor::Prepare& prepare) {
  SetNoDelay(socket_.get());
  (void)SetNonBlocking(socket_.get());
  watch_ = loop_->Watch(socket_.get(), kReadInterest,
                        [this](uint32_t events) { OnSocketEvent(events); });
  BindCall(calls, context_.get(), prepare);
  StartRead(&down_);
  StartCall();
  if (notices_.outbox != nullptr) {
    notices_.outbox->SetWake(loop_, [this] { OnUpEdge(); });
    if (notices_.outbox->pending()) OnUpEdge();  // posted before the start
  }
}

void SocketPump::OnSocketEvent(uint32_t events) {
  if (want_socket_write_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    Io io = FlushSocket(rpc_done_);
    if (io == Io::kFailed) return Abort();
    if (io == Io::kDone) {
      want_socket_write_ = false;
      UpdateInterest();
      MaybeFinish();
    }
  }
  if (events & (EPOLLRDHUP | EPOLLERR | EPOLLHUP)) peer_hung_up_ = true;
  if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) return;
  OnUpEdge();
}

void SocketPump::OnUpEdge() {
  int state = up_state_.load();
  while (true) {
    if (state == kUpIdle) {
      if (!up_state_.compare_exchange_weak(state, kUpBusy)) continue;
      if (ReadSocket() == Io::kFailed) Abort();
      return;
    }
    if (state != kUpBusy) return;  // already noted, or over
    if (up_state_.compare_exchange_weak(state, kUpMissedEdge)) return;
  }
}

SocketPump::Io SocketPump::ReadSocket() {
  while (true) {
    // Reading into a fixed buffer and copying n bytes is cheaper than
    // resizing the Chunk's string, which zero-fills the whole chunk each
    // time.
    char* buffer = ReadBuffer();
    ssize_t n = recv(socket_.get(), buffer, kChunkBytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // Nothing to read, but notices to send: they go alone.
      if (TakeNotices()) {
        up_.clear_data();
        StartWrite(&up_);
        return Io::kDone;
      }
      // Give the token back, unless an edge (or a notice) came since the
      // last read: then the data it announced may already be there.
      int state = kUpBusy;
      if (up_state_.compare_exchange_strong(state, kUpIdle)) return Io::kWouldBlock;
      state = kUpMissedEdge;
      if (!up_state_.compare_exchange_strong(state, kUpBusy)) return Io::kWouldBlock;  // over
      continue;
    }
    if (n < 0) {
      up_state_ = kUpOver;
      return Io::kFailed;
    }
    last_read_drained_ = n > 0 && static_cast<size_t>(n) < kChunkBytes;
    up_.set_data(buffer, n);
    // After the read: notices posted before these bytes were written to
    // the socket go with them at the latest.
    TakeNotices();
    if (n == 0) {
      up_.set_fin(true);
      sent_fin_ = true;
    }
    bytes_up_ += n;
    if (tally_.bytes_up != nullptr) {
      tally_.bytes_up->fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    }
    StartWrite(&up_);
    return Io::kDone;
  }
}

bool SocketPump::TakeNotices() {
  // The previous Chunk's notices are out (its write completed).
  if (up_.notices_size() > 0) up_.clear_notices();
  return notices_.outbox != nullptr && notices_.outbox->pending() &&
         notices_.outbox->TakeInto(&up_);
}

SocketPump::Io SocketPump::FlushSocket(bool call_over) {
  const std::string& data = down_.data();
  while (down_offset_ < data.size()) {
    ssize_t n = send(socket_.get(), data.data() + down_offset_,
                     data.size() - down_offset_, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return Io::kWouldBlock;
    if (n < 0) return Io::kFailed;
    down_offset_ += n;
  }
  if (down_.fin()) {
    shutdown(socket_.get(), SHUT_WR);
  } else if (!call_over) {
    StartRead(&down_);
  }
  return Io::kDone;
}

void SocketPump::WaitForSocketWrite() {
  if (socket_failed_) return;
  want_socket_write_ = true;
  UpdateInterest();
}

void SocketPump::Abort() {
  socket_failed_ = true;
  up_state_ = kUpOver;
  watching_ = false;
  want_socket_write_ = false;
  UpdateInterest();
  context_->TryCancel();
}

void SocketPump::UpdateInterest() {
  uint32_t events = 0;
  if (watching_) events = kReadInterest;
  if (want_socket_write_) events |= EPOLLOUT;
  loop_->Update(watch_, events);
}

void SocketPump::OnReadDone(bool ok) {
  // This reaction holds the down direction: OnDone cannot run before it
  // returns, so the socket is still open.
  if (!ok || socket_failed_) return;  // the call is ending; OnDone follows
  if (down_.notices_size() > 0 && notices_.on_received) {
    notices_.on_received(down_.notices());
  }
  bytes_down_ += down_.data().size();
  if (tally_.bytes_down != nullptr) {
    tally_.bytes_down->fetch_add(down_.data().size(), std::memory_order_relaxed);
  }
  down_offset_ = 0;
  switch (FlushSocket(/*call_over=*/false)) {
    case Io::kDone:
      return;
    case Io::kWouldBlock:
      loop_->Post([this] { WaitForSocketWrite(); });
      return;
    case Io::kFailed:
      loop_->Post([this] { Abort(); });
      return;
  }
}

void SocketPump::OnWriteDone(bool ok) {
  // This reaction holds the up direction.
  if (ok && sent_fin_) {
    // The fin is out: half-close the stream so the relay knows this
    // direction is complete without parsing the messages it forwards.
    up_state_ = kUpOver;
    StartWritesDone();
    return;
  }
  if (!ok || socket_failed_) return;
  // The last read emptied the socket, and no edge came since: the token goes
  // back to the loop without a recv() that would only see EAGAIN (one system
  // call per request and direction saved; each costs ~1-3 us on a VM). Data,
  // a notice or the FIN that comes later raises an edge, which finds the
  // token idle, or kUpMissedEdge here. A FIN whose edge came before that read
  // leaves no edge behind, hence peer_hung_up_.
  if (last_read_drained_ && !peer_hung_up_) {
    int state = kUpBusy;
    if (up_state_.compare_exchange_strong(state, kUpIdle)) return;
  }
  // Whatever edge came while writing, the read below sees its data.
  up_state_ = kUpBusy;
  if (ReadSocket() == Io::kFailed) loop_->Post([this] { Abort(); });
}

void SocketPump::OnDone(const grpc::Status& status) {
  loop_->Post([this, status] {
    rpc_done_ = true;
    status_ = status;
    MaybeFinish();
  });
}

void SocketPump::MaybeFinish() {
  // A clean end waits for the last bytes to reach the socket; an error does
  // not, the socket is reset anyway.
  if (!rpc_done_ || (status_.ok() && want_socket_write_)) return;
  loop_->Unwatch(watch_);
  // On the loop, like the wake-ups: none runs after this.
  if (notices_.outbox != nullptr) notices_.outbox->ClearWake();
  if (status_.ok() && !socket_failed_) {
    socket_.reset();
  } else {
    ResetAndClose(std::move(socket_));
  }
  DoneCallback done = std::move(done_);
  PumpResult result{status_, bytes_up_, bytes_down_};
  delete this;
  done(result);
}

}  // namespace bowden::tunnel
