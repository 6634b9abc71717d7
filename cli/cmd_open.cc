// bowden open PRINTER: forward a loopback port to a printer's target.

#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/local_forwarder.h"
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
// first browser request.
absl::Status CheckPrinter(grpc::Channel* channel, const CliOptions& options,
                          const std::string& printer) {
  auto stub = bowden::v1::UserService::NewStub(
      std::shared_ptr<grpc::Channel>(channel, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  bowden::v1::ListPrintersResponse response;
  grpc::Status status =
      stub->ListPrinters(&context, bowden::v1::ListPrintersRequest(), &response);
  if (!status.ok()) {
    return absl::UnavailableError(transport::DescribeCallError(status, options.relay));
  }
  for (const auto& p : response.printers()) {
    if (p.id() != printer) continue;
    bool has_target = false;
    for (const auto& t : p.targets()) has_target = has_target || t == options.target;
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
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat(
      "printer '", printer,
      "' is unknown or you are not permitted to reach it (see `bowden ls`)"));
}

void OpenBrowser(const std::string& url) {
  if (std::getenv("DISPLAY") == nullptr && std::getenv("WAYLAND_DISPLAY") == nullptr) {
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
    return Fail(absl::InvalidArgumentError(
        "usage: bowden open PRINTER [--target octoprint] [--listen 127.0.0.1:0] "
        "[--no-browser]"));
  }
  const std::string& printer = args[0];
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  absl::Status known = CheckPrinter(channel->get(), options, printer);
  if (!known.ok()) return Fail(known);

  // Only sigwait below may take the stop signals.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGCHLD, SIG_IGN);  // reap xdg-open

  absl::StatusOr<std::unique_ptr<tunnel::EventLoop>> loop = tunnel::EventLoop::Create();
  if (!loop.ok()) return Fail(loop.status());
  // The only thread that polls for the tunnel's streams (see
  // CompletionThread).
  tunnel::CompletionThread calls;
  absl::StatusOr<std::unique_ptr<LocalForwarder>> forwarder = LocalForwarder::Create(
      loop->get(), &calls, options.listen, *channel, options.relay, printer, options.target);
  if (!forwarder.ok()) return Fail(forwarder.status());

  // A long `open` outlives a 12 h certificate: renew in the background;
  // connections already open are not touched by the swap.
  enroll::CertificateRenewer renewer(options.relay, options.tls,
                                     [](bool problem, const std::string& message) {
                                       if (problem) std::cerr << "bowden: " << message << std::endl;
                                     });

  std::string url = (*forwarder)->url();
  std::cout << "Forwarding " << url << " -> " << printer << "/" << options.target
            << " via relay " << options.relay << " (Ctrl-C to stop)" << std::endl;
  if (!options.no_browser) OpenBrowser(url);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "Stopped." << std::endl;
  // Live connections end with the process; the relay sees their streams
  // cancelled and resets the printer side.
  std::_Exit(0);
}

}  // namespace bowden::cli
