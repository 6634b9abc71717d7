#include "relay/callback_threads.h"

#include <dlfcn.h>
#include <pthread.h>

#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
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

// A thread named like gRPC's callback threads that naps once (an hour's
// nap, as gRPC's 100 ms one but unmistakable) and then stays alive until it
// is destroyed, as gRPC's threads live as long as their queue (a thread that
// ended could hand its identity to the next one).
class NextingThread {
 public:
  NextingThread()
      : thread_([this] {
          pthread_setname_np(pthread_self(), kNextingThreadName);
          gpr_sleep_until(FromNow(absl::Hours(1)));
          returned_.Notify();
          leave_.WaitForNotification();
        }) {}
  ~NextingThread() {
    leave_.Notify();
    if (returned_.HasBeenNotified()) {
      thread_.join();
    } else {
      thread_.detach();  // still parked: a failed test; the process ends first
    }
  }
  bool WaitReturned() { return returned_.WaitForNotificationWithTimeout(absl::Seconds(60)); }
  bool returned() const { return returned_.HasBeenNotified(); }

 private:
  absl::Notification returned_;
  absl::Notification leave_;
  std::thread thread_;
};

// Waits (up to a minute) until `count` nexting threads are parked.
bool WaitForParked(int count) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (ParkedCallbackThreads() != count) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

#ifdef BOWDEN_WRAP_GPR_SLEEP_UNTIL
extern "C" void __wrap_gpr_sleep_until(gpr_timespec until);

// --config=lean: libgpr is linked into the executable, and the linker's
// --wrap=gpr_sleep_until must send every call to the relay's definition.
TEST(CallbackThreadsTest, TheLinkerSendsCallsToTheRelaysDefinition) {
  EXPECT_EQ(reinterpret_cast<void*>(&gpr_sleep_until),
            reinterpret_cast<void*>(&__wrap_gpr_sleep_until));
}
#else
// libgrpc++ calls gpr_sleep_until through the global scope: the definition
// found there must be this executable's, not libgpr's.
TEST(CallbackThreadsTest, TheExecutablesDefinitionComesFirst) {
  void* found = dlsym(RTLD_DEFAULT, "gpr_sleep_until");
  ASSERT_NE(found, nullptr);
  Dl_info info{};
  ASSERT_NE(dladdr(found, &info), 0);
  EXPECT_EQ(std::string(info.dli_fname).find("libgpr"), std::string::npos)
      << "gpr_sleep_until resolves to " << info.dli_fname;
}
#endif

TEST(CallbackThreadsTest, ANextingThreadDoesNotNapWhileNoServerHoldsThem) {
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

TEST(CallbackThreadsTest, WhileHeldTheFirstNextingThreadStaysAwakeAndTheOthersPark) {
  HoldCallbackThreadsToOne();
  NextingThread first;
  ASSERT_TRUE(first.WaitReturned()) << "the first nexting thread to nap did not stay awake";

  NextingThread second;
  ASSERT_TRUE(WaitForParked(1)) << "a second nexting thread did not park";
  EXPECT_FALSE(second.returned());

  ReleaseCallbackThreads();
  EXPECT_TRUE(second.WaitReturned()) << "the parked thread stayed parked after the release";
  EXPECT_EQ(ParkedCallbackThreads(), 0);
}

TEST(CallbackThreadsTest, ParkedThreadsGoBackOnlyWhenTheLastServerReleases) {
  HoldCallbackThreadsToOne();
  HoldCallbackThreadsToOne();
  NextingThread first;
  ASSERT_TRUE(first.WaitReturned());
  NextingThread second;
  ASSERT_TRUE(WaitForParked(1));

  ReleaseCallbackThreads();  // one of the two servers is gone
  // The other still holds them: a third thread parks as well.
  NextingThread third;
  ASSERT_TRUE(WaitForParked(2));
  EXPECT_FALSE(second.returned());

  ReleaseCallbackThreads();
  EXPECT_TRUE(second.WaitReturned());
  EXPECT_TRUE(third.WaitReturned());
}

TEST(CallbackThreadsTest, OtherThreadsSleepUntilTheDeadline) {
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
