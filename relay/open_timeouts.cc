#include "relay/open_timeouts.h"

#include <pthread.h>

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/support/status.h"

namespace bowden::relay {

OpenTimeouts::OpenTimeouts(Registry* registry, absl::Duration timeout,
                           absl::Duration interval)
    : registry_(registry),
      timeout_(timeout),
      interval_(interval),
      thread_([this] { Loop(); }) {}

OpenTimeouts::~OpenTimeouts() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void OpenTimeouts::Watch() {
  absl::MutexLock lock(&mu_);
  watching_ = true;
}

int OpenTimeouts::FailExpired(absl::Time now) {
  std::vector<std::shared_ptr<Splice>> expired =
      registry_->TakePendingStartedBefore(now - timeout_);
  for (const std::shared_ptr<Splice>& splice : expired) {
    splice->Fail(grpc::Status(
        grpc::StatusCode::DEADLINE_EXCEEDED,
        absl::StrCat("printer '", splice->info().printer,
                     "' did not open the session within ",
                     absl::FormatDuration(timeout_))));
  }
  return static_cast<int>(expired.size());
}

bool OpenTimeouts::HasWork() const { return watching_ || stopping_; }

void OpenTimeouts::Loop() {
  pthread_setname_np(pthread_self(), "relay-open-wait");
  absl::MutexLock lock(&mu_);
  while (true) {
    mu_.Await(absl::Condition(this, &OpenTimeouts::HasWork));
    // Sleeps one interval, waking early only to stop.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_);
    if (stopping_) return;
    mu_.Unlock();
    FailExpired(absl::Now());
    mu_.Lock();
    // Under mu_, so a Watch() for a session added after this look is not
    // lost: it sets watching_ again once this returns.
    if (!registry_->HasPending()) watching_ = false;
  }
}

}  // namespace bowden::relay
