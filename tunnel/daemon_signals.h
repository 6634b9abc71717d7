#ifndef BOWDEN_TUNNEL_DAEMON_SIGNALS_H_
#define BOWDEN_TUNNEL_DAEMON_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

namespace bowden::tunnel {

// Blocks the signals a daemon's main thread waits for with sigwait: SIGINT
// and SIGTERM (stop) and SIGHUP (`systemctl reload`). Threads inherit the
// mask, so called before any thread starts (gRPC's included), only that
// sigwait receives them. Returns the set to wait on.
//
// Thread-compatible: call once, from main, before starting threads.
inline sigset_t BlockDaemonSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

}  // namespace bowden::tunnel

#endif  // BOWDEN_TUNNEL_DAEMON_SIGNALS_H_
