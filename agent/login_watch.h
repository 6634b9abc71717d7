#ifndef BOWDEN_AGENT_LOGIN_WATCH_H_
#define BOWDEN_AGENT_LOGIN_WATCH_H_

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/octoprint_probe.h"

namespace bowden::agent {

// Decides whether sessions to each OctoPrint target may be served, from the
// latest login probe (octoprint_probe.h): fail closed when OctoPrint would
// log a tunnel session in without credentials.
//
// Each target is probed when the watch starts and every `period` after; and
// soon after a session asks about a target whose last answer was unknown or
// "logged in" (at most once per `recheck_after`), so an OctoPrint that came
// up late, or whose owner fixed its settings, is judged again without
// restarting the agent. Until a probe has answered, sessions are served with
// a warning: OctoPrint that cannot be reached cannot serve them either.
// Changes are logged: ERROR for a refused target, WARNING for an override,
// for autologin of local programs and for an unknown answer, INFO when all
// is well.
//
// Thread-safe. Probes run on the watch's own thread; Check() never blocks on
// one, so the agent's event loop may call it.
class LoginWatch {
 public:
  // Probes the named target (blocking; called on the watch's thread).
  using Prober =
      std::function<absl::StatusOr<LoginProbe>(const std::string& target)>;
  struct Options {
    // --allow-octoprint-autologin: serve such targets anyway, loudly.
    bool allow_autologin = false;
    absl::Duration period = absl::Minutes(5);
    absl::Duration recheck_after = absl::Seconds(10);
  };
  enum class Verdict {
    kServe,      // OctoPrint logs no tunnel session in without credentials
    kUnchecked,  // no answer yet: served, with `message` as the warning
    kAllowed,    // logged in, served because of the override; `message` warns
    kRefuse,     // logged in: refused, `message` is the sentence for the user
  };
  struct Decision {
    Verdict verdict = Verdict::kServe;
    std::string message;
  };

  LoginWatch(std::vector<std::string> targets, Prober prober, Options options);
  // Stops the thread; waits for a probe under way (at most its timeout).
  ~LoginWatch();
  LoginWatch(const LoginWatch&) = delete;
  LoginWatch& operator=(const LoginWatch&) = delete;

  void Start();
  // Waits until `count` probes have finished since the start, or `timeout`.
  bool AwaitProbes(int count, absl::Duration timeout);
  // What to do with a session to `target` now. Targets the watch does not
  // know (not OctoPrint) are served.
  Decision Check(const std::string& target);

 private:
  struct State {
    std::optional<absl::StatusOr<LoginProbe>> last;  // nullopt: not yet probed
    absl::Time asked = absl::InfinitePast();  // when a probe was last asked for
    std::string logged;                       // the last line logged for it
  };

  void Run();
  bool HasWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a probe of `target` unless one was asked for recently.
  void AskSoon(const std::string& target, State* state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a probe's result and logs it if it changed.
  void Record(const std::string& target, absl::StatusOr<LoginProbe> result);

  const Prober prober_;
  const Options options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, State> states_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> wanted_ ABSL_GUARDED_BY(mu_);
  absl::Time next_round_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int probes_done_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_LOGIN_WATCH_H_
