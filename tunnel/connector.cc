#include "tunnel/connector.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace bowden::tunnel {
namespace {

// One connection attempt; lives on the loop thread until it reports.
struct Attempt {
  EventLoop* loop;
  UniqueFd fd;
  std::string describe;
  ConnectCallback done;
  EventLoop::WatchId watch = 0;
  bool finished = false;

  void Finish(absl::StatusOr<UniqueFd> result) {
    if (finished) return;
    finished = true;
    if (watch != 0) loop->Unwatch(watch);
    done(std::move(result));
  }
  absl::Status Refused(int error) const {
    return absl::UnavailableError(absl::StrCat(
        describe, " refused the connection (", strerror(error), ")"));
  }
};

}  // namespace

void ConnectAsync(EventLoop* loop, const SocketAddress& address,
                  std::string describe, absl::Duration timeout,
                  ConnectCallback done) {
  auto attempt = std::make_shared<Attempt>();
  attempt->loop = loop;
  attempt->describe = std::move(describe);
  attempt->done = std::move(done);
  loop->Post([attempt, address, timeout] {
    attempt->fd.reset(socket(address.storage.ss_family,
                             SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!attempt->fd.valid()) {
      attempt->Finish(absl::InternalError(absl::StrCat("socket: ", strerror(errno))));
      return;
    }
    SetNoDelay(attempt->fd.get());
    int rc = connect(attempt->fd.get(),
                     reinterpret_cast<const sockaddr*>(&address.storage),
                     address.length);
    if (rc == 0) {
      attempt->Finish(std::move(attempt->fd));
      return;
    }
    if (errno != EINPROGRESS) {
      attempt->Finish(attempt->Refused(errno));
      return;
    }
    attempt->watch = attempt->loop->Watch(
        attempt->fd.get(), EPOLLOUT, [attempt](uint32_t) {
          int error = 0;
          socklen_t length = sizeof(error);
          getsockopt(attempt->fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
          if (error != 0) {
            attempt->Finish(attempt->Refused(error));
          } else {
            attempt->Finish(std::move(attempt->fd));
          }
        });
    attempt->loop->RunAfter(timeout, [attempt, timeout] {
      attempt->Finish(absl::DeadlineExceededError(absl::StrCat(
          attempt->describe, " did not accept the connection within ",
          absl::FormatDuration(timeout))));
    });
  });
}

}  // namespace bowden::tunnel
