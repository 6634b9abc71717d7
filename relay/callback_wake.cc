#include "relay/callback_wake.h"

#include <dlfcn.h>
#include <pthread.h>

#include <cstring>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/support/time.h"

namespace bowden::relay {
namespace {

using SleepUntil = void (*)(gpr_timespec);

bool OnNextingThread() {
  char name[16] = {};  // the kernel's limit, NUL included
  return pthread_getname_np(pthread_self(), name, sizeof(name)) == 0 &&
         std::strcmp(name, kNextingThreadName) == 0;
}

// libgpr's gpr_sleep_until, found past this executable's definition.
SleepUntil GprSleepUntil() {
  static const SleepUntil real =
      reinterpret_cast<SleepUntil>(dlsym(RTLD_NEXT, "gpr_sleep_until"));
  return real;
}

}  // namespace
}  // namespace bowden::relay

// See callback_wake.h: no nap for the callback queue's threads.
extern "C" void gpr_sleep_until(gpr_timespec until) {
  if (bowden::relay::OnNextingThread()) return;
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
