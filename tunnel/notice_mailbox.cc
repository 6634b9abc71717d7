#include "tunnel/notice_mailbox.h"

#include <string>

namespace bowden::tunnel {
namespace {

void Cut(std::string* field) {
  if (field->size() > NoticeMailbox::kMaxFieldBytes) {
    field->resize(NoticeMailbox::kMaxFieldBytes);
  }
}

}  // namespace

void NoticeMailbox::Post(bowden::v1::Notice notice) {
  for (std::string* field : {notice.mutable_method(), notice.mutable_path(),
                             notice.mutable_rule(), notice.mutable_reason(),
                             notice.mutable_role(), notice.mutable_verdict()}) {
    Cut(field);
  }
  EventLoop* wake_loop = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (notices_.size() >= kMaxPending) {
      // Counted on the last one that waits, which wakes the pump anyway.
      bowden::v1::Notice& last = notices_.back();
      last.set_dropped_after(last.dropped_after() + 1 + notice.dropped_after());
      return;
    }
    notices_.push_back(std::move(notice));
    pending_.store(true, std::memory_order_release);
    if (wake_ && !wake_posted_) {
      wake_posted_ = true;
      wake_loop = loop_;
    }
  }
  if (wake_loop != nullptr) {
    wake_loop->Post([self = shared_from_this()] { self->RunWake(); });
  }
}

bool NoticeMailbox::TakeInto(bowden::v1::Chunk* chunk) {
  absl::MutexLock lock(&mu_);
  pending_.store(false, std::memory_order_release);
  if (notices_.empty()) return false;
  for (auto& notice : notices_) *chunk->add_notices() = std::move(notice);
  notices_.clear();
  return true;
}

void NoticeMailbox::SetWake(EventLoop* loop, std::function<void()> wake) {
  absl::MutexLock lock(&mu_);
  loop_ = loop;
  wake_ = std::move(wake);
}

void NoticeMailbox::ClearWake() {
  absl::MutexLock lock(&mu_);
  wake_ = nullptr;
}

void NoticeMailbox::RunWake() {
  std::function<void()> wake;
  {
    absl::MutexLock lock(&mu_);
    wake_posted_ = false;
    wake = wake_;
  }
  // On the loop, like ClearWake: the pump cannot go away while this runs.
  if (wake) wake();
}

}  // namespace bowden::tunnel
