#include "relay/offload_thread.h"

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace bowden::relay {
namespace {

TEST(OffloadThreadTest, RunsJobsInOrderOnAnotherThread) {
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  absl::Notification last_ran;
  {
    OffloadThread offload;
    for (int i = 0; i < 100; ++i) {
      offload.Run([&, i] {
        absl::MutexLock lock(&mu);
        order.push_back(i);
        threads.push_back(std::this_thread::get_id());
        if (i == 99) last_ran.Notify();
      });
    }
    ASSERT_TRUE(last_ran.WaitForNotificationWithTimeout(absl::Seconds(60)));
  }
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(order[i], i);
    EXPECT_NE(threads[i], std::this_thread::get_id());
    EXPECT_EQ(threads[i], threads[0]);
  }
}

TEST(OffloadThreadTest, TheDestructorRunsWhatIsQueued) {
  absl::Notification release;
  int ran = 0;  // written by the offload thread only, read after the join
  {
    OffloadThread offload;
    offload.Run([&] { release.WaitForNotification(); });
    for (int i = 0; i < 10; ++i) offload.Run([&] { ++ran; });
    release.Notify();
  }
  EXPECT_EQ(ran, 10);
}

}  // namespace
}  // namespace bowden::relay
