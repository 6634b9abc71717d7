#ifndef BOWDEN_CLI_LOCAL_FORWARDER_H_
#define BOWDEN_CLI_LOCAL_FORWARDER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/first_request_router.h"
#include "cli/notice_printer.h"
#include "grpcpp/channel.h"
#include "proto/tunnel.grpc.pb.h"
#include "tunnel/completion_thread.h"
#include "tunnel/event_loop.h"
#include "tunnel/net.h"

namespace bowden::cli {

// Listens on a loopback port and turns each accepted connection into one
// Dial stream to `printer`/`target` through the relay. With a
// `webcam_target`, each connection whose first request is for /webcam/ (see
// FirstRequestRouter) goes to that target instead: one URL per printer, as
// on OctoPi. The agent's notices (requests its guard refused) are printed to
// stderr, bounded (NoticePrinter).
//
// Thread-safety: Create(), port() and url() are thread-safe; connection
// handling runs on the event loop thread. The loop and the completion thread
// must outlive the forwarder.
class LocalForwarder {
 public:
  // Binds `listen`, which must be a loopback address so the printer is never
  // exposed to the user's own network.
  static absl::StatusOr<std::unique_ptr<LocalForwarder>> Create(
      tunnel::EventLoop* loop, tunnel::CompletionThread* calls,
      const std::string& listen, std::shared_ptr<grpc::Channel> channel,
      std::string relay_address, std::string printer, std::string target,
      std::string webcam_target = "");

  uint16_t port() const { return bound_.port; }
  // The URL a browser opens, e.g. http://127.0.0.1:PORT/ or http://[::1]:PORT/.
  std::string url() const;

 private:
  LocalForwarder(tunnel::EventLoop* loop, tunnel::CompletionThread* calls,
                 tunnel::UniqueFd listener, tunnel::HostPort bound,
                 std::shared_ptr<grpc::Channel> channel,
                 std::string relay_address, std::string printer,
                 std::string target, std::string webcam_target);
  void AcceptAll();
  // Stops watching the listener for a while after EMFILE and the like.
  void PauseAccepting(int error);
  void Forward(tunnel::UniqueFd socket);
  // Starts the Dial stream to `target` for one connection.
  void Pump(tunnel::UniqueFd socket, const std::string& target);
  // Prints the summary of counted notices once it is due. Loop thread.
  void ScheduleNoticeTick();

  tunnel::EventLoop* const loop_;
  tunnel::CompletionThread* const calls_;
  tunnel::UniqueFd listener_;
  const tunnel::HostPort bound_;
  std::unique_ptr<bowden::v1::UserService::Stub> stub_;
  const std::string relay_address_;
  const std::string printer_;
  const std::string target_;
  const std::string webcam_target_;
  // Only with a webcam target; loop thread.
  std::unique_ptr<FirstRequestRouter> router_;
  uint64_t next_connection_ = 1;  // loop thread
  // Out of descriptors, the listener is not watched for a while: it is
  // level-triggered and EMFILE leaves the connection waiting, so watching it
  // would spin a core. Loop thread only.
  tunnel::EventLoop::WatchId listener_watch_{};
  absl::Duration accept_pause_ = absl::ZeroDuration();
  absl::Time last_pause_note_ = absl::InfinitePast();
  // Shared by every connection's pump (completion thread).
  NoticePrinter notices_;
  bool notice_tick_armed_ = false;  // loop thread
};

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_LOCAL_FORWARDER_H_
