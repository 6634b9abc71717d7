#include "agent/doctor_checks.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tunnel/net.h"

namespace bowden::agent {
namespace {

using doctor::Finding;

Target OctoPrintAt(const std::string& host_port) {
  Target target;
  target.name = "octoprint";
  target.host_port = *tunnel::ParseHostPort(host_port);
  target.address = *tunnel::Resolve(target.host_port);
  target.guard = GuardKind::kOctoPrint;
  return target;
}

TEST(LoginFindingTest, NobodyLoggedInIsOk) {
  Finding f = LoginFinding(OctoPrintAt("127.0.0.1:5000"), LoginProbe{"", ""}, false);
  EXPECT_EQ(f.verdict, Finding::Verdict::kOk) << f.what;
}

TEST(LoginFindingTest, TunnelSessionsLoggedInFailWithTheAgentsFixSentence) {
  Target target = OctoPrintAt("127.0.0.1:5000");
  Finding f = LoginFinding(target, LoginProbe{"pi", "pi"}, false);
  EXPECT_EQ(f.verdict, Finding::Verdict::kFail);
  EXPECT_EQ(doctor::FormatFinding(f), "FAIL " + TunnelAutologinRefusal("octoprint", "pi"));
  EXPECT_TRUE(absl::StrContains(f.what, "turn off OctoPrint's accessControl.autologinLocal"));
}

TEST(LoginFindingTest, TheOverrideTurnsTheFailureIntoAWarning) {
  Finding f = LoginFinding(OctoPrintAt("127.0.0.1:5000"), LoginProbe{"pi", "pi"}, true);
  EXPECT_EQ(f.verdict, Finding::Verdict::kWarn);
  EXPECT_TRUE(absl::StrContains(f.fix, "drop --allow-octoprint-autologin")) << f.fix;
}

TEST(LoginFindingTest, LocalAutologinOnlyWarns) {
  Finding f = LoginFinding(OctoPrintAt("127.0.0.1:5000"), LoginProbe{"pi", ""}, false);
  EXPECT_EQ(f.verdict, Finding::Verdict::kWarn);
  EXPECT_EQ(f.what, LocalAutologinWarning("octoprint", "pi"));
}

TEST(LoginFindingTest, NoAnswerFailsSayingOctoPrintDoesNotAnswer) {
  Finding f = LoginFinding(OctoPrintAt("127.0.0.1:5000"),
                           absl::UnavailableError("connection refused"), false);
  EXPECT_EQ(f.verdict, Finding::Verdict::kFail);
  EXPECT_TRUE(absl::StrContains(f.what, "passive login gave no answer (connection refused)"))
      << f.what;
}

TEST(CheckTargetsTest, ATargetNothingListensOnFails) {
  absl::StatusOr<tunnel::UniqueFd> listener =
      tunnel::ListenTcp(*tunnel::ParseHostPort("127.0.0.1:0"));
  ASSERT_TRUE(listener.ok());
  int port = *tunnel::LocalPort(listener->get());
  *listener = tunnel::UniqueFd();  // closed: nothing listens there now
  TargetList targets;
  targets["octoprint"] = OctoPrintAt(absl::StrCat("127.0.0.1:", port));
  std::vector<Finding> findings = CheckTargets(targets, "", false, absl::Seconds(5));
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].verdict, Finding::Verdict::kFail);
  EXPECT_TRUE(absl::StrContains(findings[0].what, "cannot be reached (Connection refused)"))
      << findings[0].what;
}

}  // namespace
}  // namespace bowden::agent
