#include "relay/callback_wake.h"

#include <dlfcn.h>
#include <pthread.h>

#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpc/support/time.h"
#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

gpr_timespec FromNow(absl::Duration d) {
  return gpr_time_add(
      gpr_now(GPR_CLOCK_MONOTONIC),
      gpr_time_from_millis(absl::ToInt64Milliseconds(d), GPR_TIMESPAN));
}

// libgrpc++ calls gpr_sleep_until through the global scope: the definition
// found there must be this executable's, not libgpr's.
TEST(CallbackWakeTest, TheExecutablesDefinitionComesFirst) {
  void* found = dlsym(RTLD_DEFAULT, "gpr_sleep_until");
  ASSERT_NE(found, nullptr);
  Dl_info info{};
  ASSERT_NE(dladdr(found, &info), 0);
  EXPECT_EQ(std::string(info.dli_fname).find("libgpr"), std::string::npos)
      << "gpr_sleep_until resolves to " << info.dli_fname;
}

TEST(CallbackWakeTest, ANextingThreadDoesNotNap) {
  // An hour's nap, as gRPC's 100 ms one but unmistakable: without the
  // relay's definition the thread would still be asleep when the wait ends.
  auto done = std::make_shared<absl::Notification>();
  std::thread nexting([done] {
    pthread_setname_np(pthread_self(), kNextingThreadName);
    gpr_sleep_until(FromNow(absl::Hours(1)));
    done->Notify();
  });
  const bool woke = done->WaitForNotificationWithTimeout(absl::Seconds(60));
  if (woke) {
    nexting.join();
  } else {
    nexting.detach();  // asleep for the hour; the process ends first
  }
  EXPECT_TRUE(woke) << "gpr_sleep_until slept on a nexting_thread";
}

TEST(CallbackWakeTest, OtherThreadsSleepUntilTheDeadline) {
  std::thread other([] {
    pthread_setname_np(pthread_self(), "bowden-other");
    const gpr_timespec until = FromNow(absl::Milliseconds(20));
    gpr_sleep_until(until);
    EXPECT_GE(gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), until), 0);
  });
  other.join();
  // The main thread, unnamed by the test: the same.
  const gpr_timespec until = FromNow(absl::Milliseconds(20));
  gpr_sleep_until(until);
  EXPECT_GE(gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), until), 0);
}

}  // namespace
}  // namespace bowden::relay
