#include "relay/callback_wake.h"

#include <dlfcn.h>
#include <pthread.h>

#include <cstring>

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
  if (real != nullptr) real(until);
}
