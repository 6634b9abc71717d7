// bowden open PRINTER: forward a loopback port to a printer's target.

#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/local_forwarder.h"
#include "cli/port_memory.h"
#include "cli/relay_session.h"
#include "enroll/renewer.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"
#include "tunnel/completion_thread.h"

extern char** environ;

namespace bowden::cli {
namespace {

// Looks the printer up before listening, so that a wrong name, a missing
// grant or an unreachable relay is reported at once rather than on the
// first browser request. Returns the printer's targets this user may reach.
absl::StatusOr<std::vector<std::string>> CheckPrinter(
    grpc::Channel* channel, const CliOptions& options,
    const std::string& printer) {
  auto stub = bowden::v1::UserService::NewStub(
      std::shared_ptr<grpc::Channel>(channel, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  bowden::v1::ListPrintersResponse response;
  grpc::Status status = stub->ListPrinters(
      &context, bowden::v1::ListPrintersRequest(), &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        transport::DescribeCallError(status, options.relay));
  }
  for (const auto& p : response.printers()) {
    if (p.id() != printer) continue;
    std::vector<std::string> targets(p.targets().begin(), p.targets().end());
    bool has_target = false;
    for (const auto& t : targets)
      has_target = has_target || t == options.target;
    if (!p.online()) {
      std::cerr << "bowden: printer '" << printer
                << "' is offline right now; connections will fail until its "
                   "agent attaches."
                << std::endl;
    } else if (!has_target) {
      return absl::NotFoundError(absl::StrCat(
          "printer '", printer, "' offers no target '", options.target,
          "' that you may reach (see `bowden ls`)"));
    }
    return targets;
  }
  return absl::NotFoundError(absl::StrCat(
      "printer '", printer,
      "' is unknown or you are not permitted to reach it (see `bowden ls`)"));
}

// Listens where this printer's target listened last time, so OctoPrint's
// login (cookies named per port) and bookmarks survive a restart; a
// first-time printer gets its suggested port (or a free one), remembered.
// --listen overrides and is not remembered.
absl::StatusOr<std::unique_ptr<LocalForwarder>> ListenForPrinter(
    const CliOptions& options, const std::string& printer,
    const std::string& webcam_target, tunnel::EventLoop* loop,
    tunnel::CompletionThread* calls, std::shared_ptr<grpc::Channel> channel) {
  auto listen_on = [&](const std::string& listen) {
    return LocalForwarder::Create(loop, calls, listen, channel, options.relay,
                                  printer, options.target, webcam_target);
  };
  if (!options.listen.empty()) return listen_on(options.listen);

  PortMemory memory(DefaultPortsPath());
  // Without the lock (no writable state directory) the port is still
  // chosen; Save() below says what is wrong.
  absl::StatusOr<certs::DirectoryLock> lock = memory.Lock();
  std::string warning;
  memory.Load(&warning);
  if (!warning.empty())
    std::cerr << "bowden: " << memory.path() << ": " << warning << std::endl;
  const std::optional<uint16_t> remembered =
      memory.Find(options.relay, printer, options.target);
  absl::StatusOr<std::unique_ptr<LocalForwarder>> forwarder =
      absl::UnavailableError("no port to try");
  for (uint16_t port : PortCandidates(remembered, printer, options.target)) {
    forwarder = listen_on(absl::StrCat("127.0.0.1:", port));
    if (forwarder.ok() || !absl::IsUnavailable(forwarder.status())) break;
  }
  if (!forwarder.ok()) return forwarder;
  const uint16_t port = (*forwarder)->port();
  if (port == remembered) return forwarder;
  if (remembered.has_value()) {
    std::cerr
        << "bowden: port " << *remembered << ", which " << printer
        << " had last time, is taken, so it is on port " << port
        << " now (remembered from here on); OctoPrint keeps logins per port, "
           "so log in once more there."
        << std::endl;
  }
  memory.Remember(options.relay, printer, options.target, port);
  absl::Status saved = memory.Save();
  if (!saved.ok()) {
    std::cerr << "bowden: cannot remember port " << port
              << (memory.path().empty() ? "" : " in " + memory.path()) << " ("
              << saved.message()
              << "); the next `bowden open` may pick another one." << std::endl;
  }
  return forwarder;
}

void OpenBrowser(const std::string& url) {
  if (std::getenv("DISPLAY") == nullptr &&
      std::getenv("WAYLAND_DISPLAY") == nullptr) {
    return;
  }
  pid_t pid;
  const char* argv[] = {"xdg-open", url.c_str(), nullptr};
  if (posix_spawnp(&pid, "xdg-open", nullptr, nullptr,
                   const_cast<char* const*>(argv), environ) != 0) {
    std::cerr << "bowden: could not start xdg-open; open " << url << " yourself"
              << std::endl;
  }
}

}  // namespace

int RunOpen(const CliOptions& options, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return UsageError(
        "usage: bowden open PRINTER [--target octoprint] [--listen "
        "127.0.0.1:PORT] "
        "[--no-browser]");
  }
  const std::string& printer = args[0];
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  absl::StatusOr<std::vector<std::string>> targets =
      CheckPrinter(channel->get(), options, printer);
  if (!targets.ok()) return Fail(targets.status());
  // One URL per printer, as on OctoPi: OctoPrint's UI asks its own host for
  // /webcam/, which goes to the webcam target if this user may reach it.
  // Otherwise OctoPrint's guard answers it (OctoPrint: 404).
  std::string webcam_target;
  if (options.target == "octoprint" &&
      std::find(targets->begin(), targets->end(), "webcam") != targets->end()) {
    webcam_target = "webcam";
  }

  // Only sigwait below may take the stop signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGCHLD, SIG_IGN);  // reap xdg-open

  absl::StatusOr<std::unique_ptr<tunnel::EventLoop>> loop =
      tunnel::EventLoop::Create();
  if (!loop.ok()) return Fail(loop.status());
  // The only thread that polls for the tunnel's streams (see
  // CompletionThread).
  tunnel::CompletionThread calls;
  absl::StatusOr<std::unique_ptr<LocalForwarder>> forwarder = ListenForPrinter(
      options, printer, webcam_target, loop->get(), &calls, *channel);
  if (!forwarder.ok()) return Fail(forwarder.status());

  // A long `open` outlives a 12 h certificate: renew in the background;
  // connections already open are not touched by the swap.
  enroll::CertificateRenewer renewer(
      options.relay, options.tls, [](bool problem, const std::string& message) {
        if (problem) std::cerr << "bowden: " << message << std::endl;
      });

  std::string url = (*forwarder)->url();
  std::cout << "Forwarding " << url << " -> " << printer << "/"
            << options.target
            << (webcam_target.empty() ? ""
                                      : absl::StrCat(" (/webcam/ -> ", printer,
                                                     "/", webcam_target, ")"))
            << " via relay " << options.relay << " (Ctrl-C to stop)"
            << std::endl;
  if (!options.no_browser) OpenBrowser(url);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "Stopped." << std::endl;
  // Live connections end with the process; the relay sees their streams
  // cancelled and resets the printer side.
  std::_Exit(0);
}

}  // namespace bowden::cli
