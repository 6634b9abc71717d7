#include "cli/local_forwarder.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "transport/relay_channel.h"
#include "tunnel/socket_pump.h"

namespace bowden::cli {
namespace {

bool IsLoopback(const tunnel::SocketAddress& address) {
  if (address.storage.ss_family == AF_INET) {
    auto* v4 = reinterpret_cast<const sockaddr_in*>(&address.storage);
    return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
  }
  if (address.storage.ss_family == AF_INET6) {
    auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
    return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr);
  }
  return false;
}

// How long a local connection may stay silent before it goes to OctoPrint
// unrouted. Longer than a browser keeps a preconnected socket unused
// (Chromium: 10 s), so a preconnect that carries /webcam/ later still goes
// to the webcam; as long as the agent's request-head timeout.
constexpr absl::Duration kFirstRequestTimeout = absl::Seconds(30);

}  // namespace

absl::StatusOr<std::unique_ptr<LocalForwarder>> LocalForwarder::Create(
    tunnel::EventLoop* loop, tunnel::CompletionThread* calls,
    const std::string& listen, std::shared_ptr<grpc::Channel> channel,
    std::string relay_address, std::string printer, std::string target,
    std::string webcam_target) {
  absl::StatusOr<tunnel::HostPort> hp = tunnel::ParseHostPort(listen);
  if (!hp.ok()) return hp.status();
  absl::StatusOr<tunnel::SocketAddress> address = tunnel::Resolve(*hp);
  if (!address.ok()) return address.status();
  if (!IsLoopback(*address)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen ", listen,
                     " is not a loopback address: the tunnel must not "
                     "expose the printer to your network; use 127.0.0.1:PORT"));
  }
  absl::StatusOr<tunnel::UniqueFd> listener = tunnel::ListenTcp(*hp);
  if (!listener.ok()) return listener.status();
  absl::StatusOr<uint16_t> port = tunnel::LocalPort(listener->get());
  if (!port.ok()) return port.status();
  tunnel::HostPort bound{hp->host, *port};
  std::unique_ptr<LocalForwarder> forwarder(new LocalForwarder(
      loop, calls, *std::move(listener), bound, std::move(channel),
      std::move(relay_address), std::move(printer), std::move(target),
      std::move(webcam_target)));
  LocalForwarder* self = forwarder.get();
  loop->Post([self] {
    self->listener_watch_ =
        self->loop_->Watch(self->listener_.get(), EPOLLIN,
                           [self](uint32_t) { self->AcceptAll(); });
  });
  return forwarder;
}

LocalForwarder::LocalForwarder(tunnel::EventLoop* loop,
                               tunnel::CompletionThread* calls,
                               tunnel::UniqueFd listener,
                               tunnel::HostPort bound,
                               std::shared_ptr<grpc::Channel> channel,
                               std::string relay_address, std::string printer,
                               std::string target, std::string webcam_target)
    : loop_(loop),
      calls_(calls),
      listener_(std::move(listener)),
      bound_(std::move(bound)),
      stub_(bowden::v1::UserService::NewStub(channel)),
      relay_address_(std::move(relay_address)),
      printer_(std::move(printer)),
      target_(std::move(target)),
      webcam_target_(std::move(webcam_target)),
      notices_(printer_, &std::cerr) {
  if (!webcam_target_.empty()) {
    router_ = std::make_unique<FirstRequestRouter>(
        loop_, kFirstRequestTimeout,
        [this](tunnel::UniqueFd socket, FirstRoute route) {
          Pump(std::move(socket),
               route == FirstRoute::kWebcam ? webcam_target_ : target_);
        });
  }
}

std::string LocalForwarder::url() const {
  return absl::StrCat("http://", bound_.ToString(), "/");
}

void LocalForwarder::AcceptAll() {
  while (true) {
    int fd = accept4(listener_.get(), nullptr, nullptr,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
          errno == ENOMEM) {
        PauseAccepting(errno);
      }
      return;  // EAGAIN: drained; anything else: the next readiness retries
    }
    accept_pause_ = absl::ZeroDuration();
    Forward(tunnel::UniqueFd(fd));
  }
}

void LocalForwarder::PauseAccepting(int error) {
  // 50 ms, doubling to 1 s while descriptors stay short.
  accept_pause_ = std::min(absl::Seconds(1),
                           std::max(absl::Milliseconds(50), accept_pause_ * 2));
  const absl::Time now = absl::Now();
  if (now - last_pause_note_ > absl::Seconds(10)) {
    last_pause_note_ = now;
    std::cerr << "bowden: cannot accept more local connections ("
              << std::strerror(error)
              << "); new ones wait until some close. Raise the limit with "
                 "ulimit -n if you "
                 "need this many."
              << std::endl;
  }
  loop_->Update(listener_watch_, 0);
  loop_->RunAfter(accept_pause_, [this] {
    loop_->Update(listener_watch_, EPOLLIN);
    AcceptAll();
  });
}

void LocalForwarder::Forward(tunnel::UniqueFd socket) {
  if (router_ != nullptr) return router_->Add(std::move(socket));
  Pump(std::move(socket), target_);
}

void LocalForwarder::Pump(tunnel::UniqueFd socket, const std::string& target) {
  uint64_t number = next_connection_++;
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("bowden-printer", printer_);
  context->AddMetadata("bowden-target", target);
  bowden::v1::UserService::Stub* stub = stub_.get();
  tunnel::SocketPump::Start(
      loop_, calls_, std::move(socket), std::move(context),
      [stub](grpc::ClientContext* ctx, grpc::CompletionQueue* cq) {
        return stub->PrepareAsyncDial(ctx, cq);
      },
      [number, relay = relay_address_](const tunnel::PumpResult& result) {
        if (result.status.ok() ||
            result.status.error_code() == grpc::StatusCode::CANCELLED) {
          return;  // closed normally, or by the local client
        }
        std::cerr << "bowden: connection " << number << ": "
                  << transport::DescribeCallError(result.status, relay)
                  << std::endl;
      },
      tunnel::PumpNotices{
          nullptr,
          [this](const google::protobuf::RepeatedPtrField<bowden::v1::Notice>&
                     notices) {
            if (notices_.Print(notices, absl::Now())) {
              loop_->Post([this] { ScheduleNoticeTick(); });
            }
          }});
}

void LocalForwarder::ScheduleNoticeTick() {
  if (notice_tick_armed_) return;
  notice_tick_armed_ = true;
  loop_->RunAfter(notices_.interval(), [this] {
    notice_tick_armed_ = false;
    if (notices_.Tick(absl::Now())) ScheduleNoticeTick();
  });
}

}  // namespace bowden::cli
