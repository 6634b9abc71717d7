#include "relay/offload_thread.h"

#include <pthread.h>

#include <utility>

namespace bowden::relay {

OffloadThread::OffloadThread(const char* name)
    : name_(name), thread_([this] { Loop(); }) {}

OffloadThread::~OffloadThread() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void OffloadThread::Run(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  jobs_.push_back(std::move(job));
}

void OffloadThread::Loop() {
  pthread_setname_np(pthread_self(), name_);
  for (;;) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](OffloadThread* self) ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return self->stopping_ || !self->jobs_.empty();
          },
          this));
      if (jobs_.empty()) return;  // stopping, and nothing left to run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace bowden::relay
