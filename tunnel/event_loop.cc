#include "tunnel/event_loop.h"

#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace bowden::tunnel {
namespace {

constexpr uint64_t kWakeId = 0;  // epoll data of the eventfd

}  // namespace

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  UniqueFd epoll(epoll_create1(EPOLL_CLOEXEC));
  UniqueFd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!epoll.valid() || !wake.valid()) {
    return absl::InternalError(absl::StrCat("epoll/eventfd: ", strerror(errno)));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = kWakeId;
  if (epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &event) != 0) {
    return absl::InternalError(absl::StrCat("epoll_ctl: ", strerror(errno)));
  }
  return std::unique_ptr<EventLoop>(new EventLoop(std::move(epoll), std::move(wake)));
}

EventLoop::EventLoop(UniqueFd epoll, UniqueFd wake)
    : epoll_(std::move(epoll)), wake_(std::move(wake)) {
  thread_ = std::thread([this] { Run(); });
}

EventLoop::~EventLoop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  Wake();
  thread_.join();
}

void EventLoop::Wake() {
  uint64_t one = 1;
  (void)!write(wake_.get(), &one, sizeof(one));
}

void EventLoop::RunAfter(absl::Duration delay, std::function<void()> task) {
  {
    absl::MutexLock lock(&mu_);
    timers_.push(Timer{absl::Now() + delay, timer_order_++, std::move(task)});
  }
  Wake();
}

int EventLoop::NextTimeoutMs() {
  absl::MutexLock lock(&mu_);
  if (!tasks_.empty()) return 0;
  if (timers_.empty()) return -1;
  absl::Duration left = timers_.top().when - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
}

void EventLoop::Post(std::function<void()> task) {
  bool was_empty;
  {
    absl::MutexLock lock(&mu_);
    was_empty = tasks_.empty();
    tasks_.push_back(std::move(task));
  }
  if (was_empty) Wake();
}

EventLoop::WatchId EventLoop::Watch(int fd, uint32_t events, Handler handler) {
  DCHECK(InLoopThread());
  WatchId id = next_id_++;
  watched_[id] = Watched{fd, 0, std::make_shared<Handler>(std::move(handler))};
  Update(id, events);
  return id;
}

void EventLoop::Update(WatchId id, uint32_t events) {
  auto it = watched_.find(id);
  if (it == watched_.end() || it->second.events == events) return;
  Watched& w = it->second;
  epoll_event event{};
  event.events = events;
  event.data.u64 = id;
  // A registration with no events would still report EPOLLHUP over and over
  // (level-triggered), so a paused fd is taken out of the set instead.
  int op = w.events == 0 ? EPOLL_CTL_ADD : (events == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD);
  if (epoll_ctl(epoll_.get(), op, w.fd, &event) != 0) {
    LOG(ERROR) << "epoll_ctl(" << w.fd << "): " << strerror(errno);
  }
  w.events = events;
}

void EventLoop::Unwatch(WatchId id) {
  Update(id, 0);
  watched_.erase(id);
}

void EventLoop::RunTasks() {
  std::deque<std::function<void()>> tasks;
  {
    absl::MutexLock lock(&mu_);
    tasks.swap(tasks_);
    absl::Time now = absl::Now();
    while (!timers_.empty() && timers_.top().when <= now) {
      // priority_queue::top is const; the task is moved out before pop.
      tasks.push_back(std::move(const_cast<Timer&>(timers_.top()).task));
      timers_.pop();
    }
  }
  for (auto& task : tasks) task();
}

void EventLoop::Run() {
  epoll_event events[64];
  while (true) {
    int n = epoll_wait(epoll_.get(), events, 64, NextTimeoutMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      LOG(FATAL) << "epoll_wait: " << strerror(errno);
    }
    for (int i = 0; i < n; ++i) {
      uint64_t id = events[i].data.u64;
      if (id == kWakeId) {
        uint64_t count;
        (void)!read(wake_.get(), &count, sizeof(count));
        continue;
      }
      // A handler earlier in this batch may have unwatched this one.
      auto it = watched_.find(id);
      if (it == watched_.end() || it->second.events == 0) continue;
      // The handler may Unwatch itself: keep it alive for the call.
      std::shared_ptr<Handler> handler = it->second.handler;
      (*handler)(events[i].events);
    }
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    RunTasks();
  }
}

}  // namespace bowden::tunnel
