#include "guard/guard_proxy.h"

#include <sys/socket.h>

#include <cerrno>

#include "glog/logging.h"
#include "tunnel/net.h"

namespace bowden::guard {
namespace {

constexpr size_t kReadBytes = 64 * 1024;
// Stop reading a side while the other side has this much waiting.
constexpr size_t kHighWater = 1 << 20;

}  // namespace

void GuardProxy::Start(tunnel::EventLoop* loop, tunnel::UniqueFd client,
                       tunnel::UniqueFd target, std::unique_ptr<HttpGuard> guard,
                       EventsCallback on_events, DoneCallback done, ProxyLimits limits) {
  auto* proxy = new GuardProxy(loop, std::move(guard), std::move(on_events),
                               std::move(done), limits);
  auto fds = std::make_shared<std::pair<tunnel::UniqueFd, tunnel::UniqueFd>>(
      std::move(client), std::move(target));
  loop->Post([proxy, fds] {
    proxy->Begin(std::move(fds->first), std::move(fds->second));
  });
}

GuardProxy::GuardProxy(tunnel::EventLoop* loop, std::unique_ptr<HttpGuard> guard,
                       EventsCallback on_events, DoneCallback done, ProxyLimits limits)
    : loop_(loop),
      guard_(std::move(guard)),
      on_events_(std::move(on_events)),
      done_(std::move(done)),
      limits_(limits) {}

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
  Update();  // a connection that never sends anything is idle from the start
}

void GuardProxy::OnEvent(bool client_side, uint32_t events) {
  Side& side = client_side ? client_ : target_;
  if (events & (EPOLLOUT | EPOLLERR)) Flush(side);
  if (client_side && !failed_ && guard_->wants_resume() &&
      client_.out.size() < limits_.max_client_backlog) {
    // The client reads its answers again: parse the requests held back.
    GuardOutput output;
    guard_->Resume(&output);
    Apply(output);
  }
  if (!failed_ && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && WantsRead(client_side)) {
    Read(client_side);
  }
  Update();
}

bool GuardProxy::WantsRead(bool client_side) const {
  if (!client_side) {
    return !target_.read_eof && !target_aborted_ && client_.out.size() < kHighWater;
  }
  if (client_.read_eof) return false;
  if (phase_ == Phase::kLinger) return true;  // read and dropped
  if (target_.out.size() >= kHighWater) return false;
  if (guard_->raw()) return true;
  return !guard_->backlogged() && client_.out.size() < limits_.max_client_backlog;
}

void GuardProxy::Read(bool client_side) {
  Side& side = client_side ? client_ : target_;
  char buffer[kReadBytes];
  ssize_t n = recv(side.fd.get(), buffer, sizeof(buffer), 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    failed_ = true;
    return;
  }
  if (client_side && phase_ == Phase::kLinger) {
    if (n == 0) side.read_eof = true;
    lingered_bytes_ += n;
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
  // Before the flush below: see the class comment.
  std::vector<GuardEvent> events = guard_->TakeEvents();
  if (!events.empty() && on_events_) on_events_(std::move(events));
  // Closing the client: after a refusal, or once it has closed its side and
  // has every answer it is owed.
  if (guard_->close_client() || (client_.read_eof && guard_->finished())) {
    client_.shut_write = true;
  }
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
  if (failed_) return Finish();
  // The guard closes the client (a refusal), or the client left and has
  // every answer: once they are out, nothing more is owed to either side.
  const bool ending = guard_->close_client() || (client_.read_eof && guard_->finished());
  if (ending && client_.write_shut &&
      (client_.read_eof || lingered_bytes_ > limits_.linger_bytes)) {
    return Finish();
  }
  if (CheckDeadline(ending)) return Finish();
  if (client_.read_eof && target_.read_eof && client_.write_shut && target_.write_shut) {
    return Finish();
  }
  for (Side* side : {&client_, &target_}) {
    if (side == &target_ && target_aborted_) continue;
    uint32_t events = 0;
    if (WantsRead(side == &client_)) events |= EPOLLIN;
    if (!side->out.empty()) events |= EPOLLOUT;
    // Held-back requests resume once the client can take answers again.
    if (side == &client_ && guard_->wants_resume() &&
        client_.out.size() < limits_.max_client_backlog) {
      events |= EPOLLOUT;
    }
    loop_->Update(side->watch, events);
  }
}

bool GuardProxy::CheckDeadline(bool ending) {
  // Once the answers are out, a client that still sends gets `linger` to
  // stop: its unread bytes would turn the close into a reset that can
  // overtake the answer.
  const Phase phase = phase_ == Phase::kLinger || (ending && client_.write_shut)
                          ? Phase::kLinger
                      : ending                 ? Phase::kClosing
                      : guard_->reading_head() ? Phase::kHead
                      : guard_->idle()         ? Phase::kIdle
                                               : Phase::kBusy;
  const absl::Time now = absl::Now();
  if (phase != phase_) {
    phase_ = phase;
    switch (phase) {
      case Phase::kLinger:
        deadline_ = now + limits_.linger;
        break;
      case Phase::kHead:
        deadline_ = now + limits_.header_timeout;
        break;
      case Phase::kIdle:
      case Phase::kClosing:  // the client has this long to read its answer
        deadline_ = now + limits_.idle_timeout;
        break;
      case Phase::kBusy:
        deadline_ = absl::InfiniteFuture();
        break;
    }
  }
  if (deadline_ <= now) {
    VLOG(1) << "guarded connection closed: "
            << (phase_ == Phase::kHead   ? "the request head was not complete in time"
                : phase_ == Phase::kIdle ? "idle for too long"
                                         : "the client did not close after the refusal");
    return true;
  }
  // One timer at a time, unless the deadline moved before it.
  if (deadline_ < next_check_) {
    next_check_ = deadline_;
    std::weak_ptr<bool> alive = alive_;
    loop_->RunAfter(deadline_ - now, [this, alive] {
      if (alive.lock() != nullptr) OnTimer();
    });
  }
  return false;
}

void GuardProxy::OnTimer() {
  if (absl::Now() >= next_check_) next_check_ = absl::InfiniteFuture();
  Update();
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
  // Requests the connection ends before their answers: audited now, as
  // interrupted, rather than never.
  guard_->EndConnection();
  std::vector<GuardEvent> events = guard_->TakeEvents();
  if (!events.empty() && on_events_) on_events_(std::move(events));
  DoneCallback done = std::move(done_);
  delete this;
  if (done) done();
}

}  // namespace bowden::guard
