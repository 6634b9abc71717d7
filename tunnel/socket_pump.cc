#include "tunnel/socket_pump.h"

#include <sys/socket.h>

#include <cerrno>

#include "tunnel/net.h"

namespace bowden::tunnel {
namespace {

// Bytes read from the socket per Chunk: big enough to amortise the per-message
// cost of gRPC, small enough to keep one HTTP/2 flow-control window busy.
constexpr size_t kChunkBytes = 512 * 1024;

}  // namespace

void SocketPump::Start(EventLoop* loop, UniqueFd socket,
                       std::unique_ptr<grpc::ClientContext> context,
                       StartRpc start_rpc, DoneCallback done) {
  auto* pump = new SocketPump(loop, std::move(socket), std::move(context),
                              std::move(done));
  loop->Post([pump, start_rpc = std::move(start_rpc)] { pump->Begin(start_rpc); });
}

SocketPump::SocketPump(EventLoop* loop, UniqueFd socket,
                       std::unique_ptr<grpc::ClientContext> context,
                       DoneCallback done)
    : loop_(loop),
      socket_(std::move(socket)),
      context_(std::move(context)),
      done_(std::move(done)),
      read_buffer_(new char[kChunkBytes]) {}

void SocketPump::Begin(const StartRpc& start_rpc) {
  SetNoDelay(socket_.get());
  (void)SetNonBlocking(socket_.get());
  watch_ = loop_->Watch(socket_.get(), EPOLLIN,
                        [this](uint32_t events) { OnSocketEvent(events); });
  start_rpc(context_.get(), this);
  StartRead(&down_);
  StartCall();
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
  if (want_socket_read_ && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
    Io io = ReadSocket();
    if (io == Io::kFailed) return Abort();
    if (io == Io::kDone) {
      want_socket_read_ = false;
      UpdateInterest();
    }
  }
}

SocketPump::Io SocketPump::ReadSocket() {
  // Reading into a fixed buffer and copying n bytes is cheaper than
  // resizing the Chunk's string, which zero-fills the whole chunk each time.
  ssize_t n = recv(socket_.get(), read_buffer_.get(), kChunkBytes, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return Io::kWouldBlock;
  if (n < 0) return Io::kFailed;
  up_.set_data(read_buffer_.get(), n);
  if (n == 0) {
    up_.set_fin(true);
    sent_fin_ = true;
  }
  bytes_up_ += n;
  StartWrite(&up_);
  return Io::kDone;
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

void SocketPump::WaitForSocket(bool read, bool write) {
  if (socket_failed_) return;
  want_socket_read_ = want_socket_read_ || read;
  want_socket_write_ = want_socket_write_ || write;
  UpdateInterest();
}

void SocketPump::Abort() {
  socket_failed_ = true;
  want_socket_read_ = false;
  want_socket_write_ = false;
  UpdateInterest();
  context_->TryCancel();
}

void SocketPump::UpdateInterest() {
  uint32_t events = 0;
  if (want_socket_read_) events |= EPOLLIN;
  if (want_socket_write_) events |= EPOLLOUT;
  loop_->Update(watch_, events);
}

void SocketPump::OnReadDone(bool ok) {
  // This reaction holds the down direction: OnDone cannot run before it
  // returns, so the socket is still open.
  if (!ok || socket_failed_) return;  // the call is ending; OnDone follows
  bytes_down_ += down_.data().size();
  down_offset_ = 0;
  switch (FlushSocket(/*call_over=*/false)) {
    case Io::kDone:
      return;
    case Io::kWouldBlock:
      loop_->Post([this] { WaitForSocket(false, true); });
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
    StartWritesDone();
    return;
  }
  if (!ok || socket_failed_) return;
  switch (ReadSocket()) {
    case Io::kDone:
      return;
    case Io::kWouldBlock:
      loop_->Post([this] { WaitForSocket(true, false); });
      return;
    case Io::kFailed:
      loop_->Post([this] { Abort(); });
      return;
  }
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
