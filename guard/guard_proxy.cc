#include "guard/guard_proxy.h"

#include <sys/socket.h>

#include <cerrno>

#include "tunnel/net.h"

namespace bowden::guard {
namespace {

constexpr size_t kReadBytes = 64 * 1024;
// Stop reading a side while the other side has this much waiting.
constexpr size_t kHighWater = 1 << 20;

}  // namespace

void GuardProxy::Start(tunnel::EventLoop* loop, tunnel::UniqueFd client,
                       tunnel::UniqueFd target, std::unique_ptr<HttpGuard> guard,
                       EventsCallback on_events, DoneCallback done) {
  auto* proxy = new GuardProxy(loop, std::move(guard), std::move(on_events),
                               std::move(done));
  auto fds = std::make_shared<std::pair<tunnel::UniqueFd, tunnel::UniqueFd>>(
      std::move(client), std::move(target));
  loop->Post([proxy, fds] {
    proxy->Begin(std::move(fds->first), std::move(fds->second));
  });
}

GuardProxy::GuardProxy(tunnel::EventLoop* loop, std::unique_ptr<HttpGuard> guard,
                       EventsCallback on_events, DoneCallback done)
    : loop_(loop),
      guard_(std::move(guard)),
      on_events_(std::move(on_events)),
      done_(std::move(done)) {}

void GuardProxy::Begin(tunnel::UniqueFd client, tunnel::UniqueFd target) {
  client_.fd = std::move(client);
  target_.fd = std::move(target);
  (void)tunnel::SetNonBlocking(client_.fd.get());
  (void)tunnel::SetNonBlocking(target_.fd.get());
  tunnel::SetNoDelay(target_.fd.get());
  client_.watch = loop_->Watch(client_.fd.get(), EPOLLIN,
                               [this](uint32_t events) { OnEvent(true, events); });
  target_.watch = loop_->Watch(target_.fd.get(), EPOLLIN,
                               [this](uint32_t events) { OnEvent(false, events); });
}

void GuardProxy::OnEvent(bool client_side, uint32_t events) {
  Side& side = client_side ? client_ : target_;
  if (events & (EPOLLOUT | EPOLLERR)) Flush(side);
  if (!failed_ && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !side.read_eof) {
    Read(client_side);
  }
  Update();
}

void GuardProxy::Read(bool client_side) {
  Side& side = client_side ? client_ : target_;
  Side& other = client_side ? target_ : client_;
  if (other.out.size() >= kHighWater) return;
  char buffer[kReadBytes];
  ssize_t n = recv(side.fd.get(), buffer, sizeof(buffer), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    failed_ = true;
    return;
  }
  GuardOutput output;
  if (n == 0) {
    side.read_eof = true;
    if (client_side) {
      if (guard_->ClientEof()) target_.shut_write = true;
    } else {
      guard_->TargetEof(&output);
      client_.shut_write = true;
    }
  } else if (client_side) {
    guard_->FromClient(absl::string_view(buffer, n), &output);
  } else {
    guard_->FromTarget(absl::string_view(buffer, n), &output);
  }
  Apply(output);
}

void GuardProxy::Apply(const GuardOutput& output) {
  target_.out += output.to_target;
  client_.out += output.to_client;
  if (guard_->abort_target()) AbortTarget();
  std::vector<GuardEvent> events = guard_->TakeEvents();
  if (!events.empty() && on_events_) on_events_(std::move(events));
  if (guard_->close_client()) client_.shut_write = true;
  Flush(target_);
  Flush(client_);
}

void GuardProxy::AbortTarget() {
  if (target_aborted_) return;
  target_aborted_ = true;
  // A reset, not a FIN: OctoPrint must see the upload fail, not end.
  loop_->Unwatch(target_.watch);
  target_.out.clear();
  tunnel::ResetAndClose(std::move(target_.fd));
  target_.read_eof = target_.shut_write = target_.write_shut = true;
}

void GuardProxy::Flush(Side& side) {
  while (!side.out.empty() && !failed_) {
    ssize_t n = send(side.fd.get(), side.out.data(), side.out.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      failed_ = true;
      return;
    }
    side.out.erase(0, n);
  }
  if (side.out.empty() && side.shut_write && !side.write_shut) {
    shutdown(side.fd.get(), SHUT_WR);
    side.write_shut = true;
  }
}

void GuardProxy::Update() {
  // The guard asked to close the client once its answers are out: stop
  // reading anything more from either side.
  bool closing = guard_->close_client() && client_.write_shut;
  bool done = failed_ || closing ||
              (client_.read_eof && target_.read_eof && client_.write_shut &&
               target_.write_shut);
  if (done) return Finish();
  for (Side* side : {&client_, &target_}) {
    if (side == &target_ && target_aborted_) continue;
    Side& other = side == &client_ ? target_ : client_;
    uint32_t events = 0;
    if (!side->read_eof && other.out.size() < kHighWater) events |= EPOLLIN;
    if (!side->out.empty()) events |= EPOLLOUT;
    loop_->Update(side->watch, events);
  }
}

void GuardProxy::Finish() {
  if (finished_) return;
  finished_ = true;
  loop_->Unwatch(client_.watch);
  loop_->Unwatch(target_.watch);
  if (failed_) {
    tunnel::ResetAndClose(std::move(client_.fd));
    tunnel::ResetAndClose(std::move(target_.fd));
  }
  std::vector<GuardEvent> events = guard_->TakeEvents();
  if (!events.empty() && on_events_) on_events_(std::move(events));
  DoneCallback done = std::move(done_);
  delete this;
  if (done) done();
}

}  // namespace bowden::guard
