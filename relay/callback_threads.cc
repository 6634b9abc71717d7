#include "relay/callback_threads.h"

#include <dlfcn.h>
#include <pthread.h>

#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/base/const_init.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "grpc/support/time.h"

namespace bowden::relay {
namespace {

using SleepUntil = void (*)(gpr_timespec);

bool OnNextingThread() {
  char name[16] = {};  // the kernel's limit, NUL included
  return pthread_getname_np(pthread_self(), name, sizeof(name)) == 0 &&
         std::strcmp(name, kNextingThreadName) == 0;
}

#ifdef BOWDEN_WRAP_GPR_SLEEP_UNTIL
// --config=lean: libgpr is linked statically and the linker's
// --wrap=gpr_sleep_until sends gRPC's calls to __wrap_gpr_sleep_until (the
// definition below); libgpr's own is __real_gpr_sleep_until.
extern "C" void __real_gpr_sleep_until(gpr_timespec until);
SleepUntil GprSleepUntil() { return &__real_gpr_sleep_until; }
#else
// libgpr's gpr_sleep_until, found past this executable's definition.
SleepUntil GprSleepUntil() {
  static const SleepUntil real =
      reinterpret_cast<SleepUntil>(dlsym(RTLD_NEXT, "gpr_sleep_until"));
  return real;
}
#endif

ABSL_CONST_INIT absl::Mutex mu(absl::kConstInit);
// Relay servers holding the threads to one.
int holders ABSL_GUARDED_BY(mu) = 0;
// The nexting thread that stays awake while held.
std::optional<pthread_t> awake ABSL_GUARDED_BY(mu);
// Bumped by each release, so a parked thread knows its park is over even if
// a new server holds the threads again before it wakes.
uint64_t releases ABSL_GUARDED_BY(mu) = 0;
int parked ABSL_GUARDED_BY(mu) = 0;

// Returns once this nexting thread may poll again: at once for the awake one
// (or when nobody holds the threads), at the next release for the others.
void NextingThreadNap() ABSL_LOCKS_EXCLUDED(mu) {
  absl::MutexLock lock(&mu);
  if (holders == 0) return;
  const pthread_t self = pthread_self();
  if (!awake.has_value()) awake = self;
  if (pthread_equal(*awake, self)) return;
  const uint64_t released_at = releases;
  ++parked;
  LOG(INFO) << "one of gRPC's callback threads parks (" << parked
            << " parked): one thread polls and runs every reaction";
  mu.Await(absl::Condition(
      +[](const uint64_t* at) ABSL_NO_THREAD_SAFETY_ANALYSIS { return releases != *at; },
      &released_at));
  --parked;
}

}  // namespace

void HoldCallbackThreadsToOne() {
  absl::MutexLock lock(&mu);
  ++holders;
}

void ReleaseCallbackThreads() {
  absl::MutexLock lock(&mu);
  if (holders > 0) --holders;
  if (holders > 0) return;
  awake.reset();
  ++releases;
}

int ParkedCallbackThreads() {
  absl::MutexLock lock(&mu);
  return parked;
}

}  // namespace bowden::relay

#ifdef BOWDEN_WRAP_GPR_SLEEP_UNTIL
#define BOWDEN_GPR_SLEEP_UNTIL __wrap_gpr_sleep_until
#else
#define BOWDEN_GPR_SLEEP_UNTIL gpr_sleep_until
#endif

// See callback_threads.h.
extern "C" void BOWDEN_GPR_SLEEP_UNTIL(gpr_timespec until) {
  if (bowden::relay::OnNextingThread()) return bowden::relay::NextingThreadNap();
  bowden::relay::SleepUntil real = bowden::relay::GprSleepUntil();
  if (real != nullptr) return real(until);
  // No libgpr past this definition (linked statically): sleep here.
  gpr_timespec left =
      gpr_time_sub(gpr_convert_clock_type(until, GPR_CLOCK_MONOTONIC),
                   gpr_now(GPR_CLOCK_MONOTONIC));
  if (gpr_time_cmp(left, gpr_time_0(GPR_TIMESPAN)) > 0) {
    absl::SleepFor(absl::Seconds(left.tv_sec) +
                   absl::Nanoseconds(left.tv_nsec));
  }
}
