#include "agent/login_watch.h"

#include <atomic>

#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace bowden::agent {
namespace {

// A prober whose answer the test sets; counts the probes and remembers
// which answer the latest one got.
class FakeOctoPrint {
 public:
  void Answer(absl::StatusOr<LoginProbe> answer) {
    absl::MutexLock lock(&mu_);
    answer_ = std::move(answer);
    ++version_;
  }
  LoginWatch::Prober prober() {
    return [this](const std::string& target) {
      absl::MutexLock lock(&mu_);
      asked_.push_back(target);
      seen_version_ = version_;
      return answer_;
    };
  }
  std::vector<std::string> asked() {
    absl::MutexLock lock(&mu_);
    return asked_;
  }
  // Whether a probe began after the latest Answer().
  bool seen_latest() {
    absl::MutexLock lock(&mu_);
    return seen_version_ == version_;
  }

 private:
  absl::Mutex mu_;
  absl::StatusOr<LoginProbe> answer_ ABSL_GUARDED_BY(mu_) = LoginProbe{};
  int version_ ABSL_GUARDED_BY(mu_) = 0;
  int seen_version_ ABSL_GUARDED_BY(mu_) = -1;
  std::vector<std::string> asked_ ABSL_GUARDED_BY(mu_);
};

// Whether sessions to "octoprint" get `verdict` once a probe has seen the
// answer the test set last, within 10 s. A refused or unchecked Check()
// asks for a probe; a served one waits for the period.
bool Becomes(LoginWatch& watch, FakeOctoPrint& octoprint,
             LoginWatch::Verdict verdict) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    const bool fresh = octoprint.seen_latest();
    const int started = static_cast<int>(octoprint.asked().size());
    // Every probe that has begun is recorded before the verdict is read.
    if (!watch.AwaitProbes(started, deadline - absl::Now())) return false;
    if (watch.Check("octoprint").verdict == verdict && fresh) return true;
    if (!fresh) watch.AwaitProbes(started + 1, deadline - absl::Now());
  }
  return false;
}

LoginWatch::Options Quick(bool allow = false) {
  LoginWatch::Options options;
  options.allow_autologin = allow;
  options.recheck_after = absl::ZeroDuration();
  return options;
}

TEST(LoginWatchTest, ServesATargetOctoPrintLogsNobodyInto) {
  FakeOctoPrint octoprint;
  octoprint.Answer(LoginProbe{"pi", ""});  // local programs only: a warning
  LoginWatch watch({"octoprint"}, octoprint.prober(), Quick());
  watch.Start();
  ASSERT_TRUE(watch.AwaitProbes(1, absl::Seconds(10)));
  EXPECT_EQ(watch.Check("octoprint").verdict, LoginWatch::Verdict::kServe);
  EXPECT_EQ(watch.Check("webcam").verdict,
            LoginWatch::Verdict::kServe);  // not OctoPrint
  EXPECT_EQ(octoprint.asked(), std::vector<std::string>{"octoprint"});
}

TEST(LoginWatchTest, RefusesWhileOctoPrintLogsTunnelSessionsIn) {
  FakeOctoPrint octoprint;
  octoprint.Answer(LoginProbe{"", "admin"});
  LoginWatch watch({"octoprint"}, octoprint.prober(), Quick());
  watch.Start();
  ASSERT_TRUE(watch.AwaitProbes(1, absl::Seconds(10)));
  LoginWatch::Decision decision = watch.Check("octoprint");
  EXPECT_EQ(decision.verdict, LoginWatch::Verdict::kRefuse);
  EXPECT_TRUE(
      absl::StrContains(decision.message, "accessControl.autologinLocal"))
      << decision.message;

  // The owner fixes OctoPrint: the refused session asked again, and the next
  // one is served without restarting the agent.
  octoprint.Answer(LoginProbe{"", ""});
  EXPECT_TRUE(Becomes(watch, octoprint, LoginWatch::Verdict::kServe));
}

TEST(LoginWatchTest, TheOverrideServesButSaysSo) {
  FakeOctoPrint octoprint;
  octoprint.Answer(LoginProbe{"admin", "admin"});
  LoginWatch watch({"octoprint"}, octoprint.prober(), Quick(/*allow=*/true));
  watch.Start();
  ASSERT_TRUE(watch.AwaitProbes(1, absl::Seconds(10)));
  LoginWatch::Decision decision = watch.Check("octoprint");
  EXPECT_EQ(decision.verdict, LoginWatch::Verdict::kAllowed);
  EXPECT_TRUE(
      absl::StrContains(decision.message, "--allow-octoprint-autologin"));
}

TEST(LoginWatchTest, AnOctoPrintThatWasDownIsJudgedWhenASessionOpens) {
  FakeOctoPrint octoprint;
  octoprint.Answer(absl::UnavailableError("it did not accept a connection"));
  LoginWatch watch({"octoprint"}, octoprint.prober(), Quick());
  watch.Start();
  ASSERT_TRUE(watch.AwaitProbes(1, absl::Seconds(10)));
  LoginWatch::Decision decision = watch.Check("octoprint");
  EXPECT_EQ(decision.verdict, LoginWatch::Verdict::kUnchecked);
  EXPECT_TRUE(absl::StrContains(decision.message, "did not accept"))
      << decision.message;

  // OctoPrint comes up with autologin for the tunnel: the session's check
  // asked again, and from then on sessions are refused.
  octoprint.Answer(LoginProbe{"", "admin"});
  EXPECT_TRUE(Becomes(watch, octoprint, LoginWatch::Verdict::kRefuse));
}

TEST(LoginWatchTest, ProbesAgainEveryPeriod) {
  FakeOctoPrint octoprint;
  LoginWatch::Options options;
  options.period = absl::Milliseconds(10);
  LoginWatch watch({"octoprint"}, octoprint.prober(), options);
  watch.Start();
  ASSERT_TRUE(watch.AwaitProbes(1, absl::Seconds(10)));
  EXPECT_EQ(watch.Check("octoprint").verdict, LoginWatch::Verdict::kServe);
  octoprint.Answer(
      LoginProbe{"", "admin"});  // someone changes OctoPrint's settings
  // kServe asks for no probe: only the period brings the change.
  EXPECT_TRUE(Becomes(watch, octoprint, LoginWatch::Verdict::kRefuse));
}

}  // namespace
}  // namespace bowden::agent
