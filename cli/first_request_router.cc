#include "cli/first_request_router.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/match.h"

namespace bowden::cli {

FirstRoute ClassifyFirstBytes(absl::string_view bytes) {
  bool could_be_webcam = false;
  for (absl::string_view line : {"GET /webcam/", "HEAD /webcam/"}) {
    if (absl::StartsWith(bytes, line)) return FirstRoute::kWebcam;
    could_be_webcam = could_be_webcam || absl::StartsWith(line, bytes);
  }
  return could_be_webcam ? FirstRoute::kUndecided : FirstRoute::kOctoPrint;
}

FirstRequestRouter::FirstRequestRouter(tunnel::EventLoop* loop,
                                       absl::Duration timeout, Routed routed)
    : loop_(loop), timeout_(timeout), routed_(std::move(routed)) {}

FirstRequestRouter::~FirstRequestRouter() {
  *alive_ = false;
  for (auto& [id, held] : held_) loop_->Unwatch(held.watch);
}

void FirstRequestRouter::Add(tunnel::UniqueFd socket) {
  const uint64_t id = next_id_++;
  Held& held = held_[id];
  const int fd = socket.get();
  held.socket = std::move(socket);
  // Edge-triggered: bytes that were peeked and stay unread must not wake the
  // loop again; only new bytes (or the peer's close) do.
  held.watch =
      loop_->Watch(fd, EPOLLIN | EPOLLRDHUP | EPOLLET,
                   [this, id](uint32_t events) { OnEvent(id, events); });
  loop_->RunAfter(timeout_, [this, id, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    if (held_.contains(id)) Finish(id, FirstRoute::kOctoPrint);
  });
}

void FirstRequestRouter::OnEvent(uint64_t id, uint32_t events) {
  auto it = held_.find(id);
  if (it == held_.end()) return;
  char bytes[kFirstRouteBytes];
  ssize_t n;
  do {
    n = recv(it->second.socket.get(), bytes, sizeof(bytes),
             MSG_PEEK | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (n <= 0) {
    // Closed (or failed) before a byte: nothing to carry.
    loop_->Unwatch(it->second.watch);
    held_.erase(it);  // closes the socket
    return;
  }
  FirstRoute route = ClassifyFirstBytes(absl::string_view(bytes, n));
  // The client stopped sending mid-way: its bytes go to OctoPrint's guard,
  // which answers what they are.
  if (route == FirstRoute::kUndecided &&
      (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
    route = FirstRoute::kOctoPrint;
  }
  if (route != FirstRoute::kUndecided) Finish(id, route);
}

void FirstRequestRouter::Finish(uint64_t id, FirstRoute route) {
  auto it = held_.find(id);
  if (it == held_.end()) return;
  loop_->Unwatch(it->second.watch);
  tunnel::UniqueFd socket = std::move(it->second.socket);
  held_.erase(it);
  routed_(std::move(socket), route);
}

}  // namespace bowden::cli
