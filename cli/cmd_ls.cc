// bowden ls: the printers this user may reach.

#include <chrono>
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/output_format.h"
#include "cli/relay_session.h"
#include "proto/tunnel.grpc.pb.h"
#include "terminal/terminal_text.h"
#include "transport/relay_channel.h"

namespace bowden::cli {
namespace {

using terminal::EscapeForTerminal;

std::string LastSeen(const bowden::v1::Printer& printer) {
  if (printer.online()) return "now";
  if (printer.last_seen_unix() == 0) return "never";
  absl::Time seen = absl::FromUnixSeconds(printer.last_seen_unix());
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%d %H:%M UTC", seen, absl::UTCTimeZone()), " (",
      HumanDuration(absl::Now() - seen), " ago)");
}

// {"printers":[{"id","online","targets","last_seen"}]}; last_seen is null
// for a printer never seen.
std::string Json(const bowden::v1::ListPrintersResponse& response) {
  std::vector<std::string> printers;
  for (const auto& printer : response.printers()) {
    printers.push_back(JsonObject()
                           .String("id", printer.id())
                           .Bool("online", printer.online())
                           .Strings("targets", {printer.targets().begin(),
                                                printer.targets().end()})
                           .UnixTime("last_seen", printer.last_seen_unix())
                           .Json());
  }
  return JsonObject().Raw("printers", JsonArray(printers)).Json();
}

}  // namespace

int RunLs(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return UsageError(
        absl::StrCat("ls takes no arguments, got '", args[0], "'"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::UserService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  bowden::v1::ListPrintersResponse response;
  grpc::Status status = stub->ListPrinters(
      &context, bowden::v1::ListPrintersRequest(), &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(
        transport::DescribeCallError(status, options.relay)));
  }
  if (options.json) {
    std::cout << Json(response) << std::endl;
    return 0;
  }
  if (response.printers().empty()) {
    std::cout << "No printers you may reach. Ask the farm operator for a grant."
              << std::endl;
    return 0;
  }
  std::string table = absl::StrFormat("%-20s %-8s %-24s %s\n", "PRINTER",
                                      "STATUS", "TARGETS", "LAST SEEN");
  for (const auto& printer : response.printers()) {
    std::string targets =
        EscapeForTerminal(absl::StrJoin(printer.targets(), ","));
    absl::StrAppendFormat(&table, "%-20s %-8s %-24s %s\n",
                          EscapeForTerminal(printer.id()),
                          printer.online() ? "online" : "offline",
                          targets.empty() ? "-" : targets, LastSeen(printer));
  }
  std::cout << table << std::flush;
  return 0;
}

}  // namespace bowden::cli
