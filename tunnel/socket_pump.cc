#include "tunnel/socket_pump.h"

#include <sys/socket.h>

#include <cerrno>

#include "tunnel/net.h"

namespace bowden::tunnel {
namespace {

// Bytes read from the socket per Chunk: big enough to amortise the per-message
// cost of gRPC, small enough to keep one HTTP/2 flow-control window busy.
constexpr size_t kChunkBytes = 64 * 1024;

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
      done_(std::move(done)) {}

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
    FlushSocket();
  }
  if (want_socket_read_ && (events & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
    ReadSocket();
  }
}

void SocketPump::ReadSocket() {
  std::string* data = up_.mutable_data();
  data->resize(kChunkBytes);
  ssize_t n = recv(socket_.get(), data->data(), kChunkBytes, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    Abort();
    return;
  }
  data->resize(n);
  if (n == 0) {
    up_.set_fin(true);
    sent_fin_ = true;
  }
  result_.bytes_up += n;
  want_socket_read_ = false;
  UpdateInterest();
  StartWrite(&up_);
}

void SocketPump::FlushSocket() {
  const std::string& data = down_.data();
  while (down_offset_ < data.size()) {
    ssize_t n = send(socket_.get(), data.data() + down_offset_,
                     data.size() - down_offset_, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      want_socket_write_ = true;
      UpdateInterest();
      return;
    }
    if (n < 0) {
      Abort();
      return;
    }
    down_offset_ += n;
  }
  want_socket_write_ = false;
  UpdateInterest();
  if (down_.fin()) {
    shutdown(socket_.get(), SHUT_WR);
  } else if (!rpc_done_) {
    StartRead(&down_);
  }
  MaybeFinish();
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
  loop_->Post([this, ok] {
    if (!ok || socket_failed_) return;  // the call is ending; OnDone follows
    result_.bytes_down += down_.data().size();
    down_offset_ = 0;
    FlushSocket();
  });
}

void SocketPump::OnWriteDone(bool ok) {
  loop_->Post([this, ok] {
    if (!ok || sent_fin_ || socket_failed_) return;
    up_.clear_data();
    want_socket_read_ = true;
    UpdateInterest();
  });
}

void SocketPump::OnDone(const grpc::Status& status) {
  loop_->Post([this, status] {
    rpc_done_ = true;
    result_.status = status;
    MaybeFinish();
  });
}

void SocketPump::MaybeFinish() {
  // A clean end waits for the last bytes to reach the socket; an error does
  // not, the socket is reset anyway.
  if (!rpc_done_ || (result_.status.ok() && want_socket_write_)) return;
  loop_->Unwatch(watch_);
  if (result_.status.ok() && !socket_failed_) {
    socket_.reset();
  } else {
    ResetAndClose(std::move(socket_));
  }
  DoneCallback done = std::move(done_);
  PumpResult result = result_;
  delete this;
  done(result);
}

}  // namespace bowden::tunnel
