// bowden sessions / bowden kill SESSION: live sessions on the relay.

#include <algorithm>
#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
}

// {"sessions":[{"id","user","printer","target","role","started","age_seconds",
// "bytes_up","bytes_down","open"}]}.
std::string Json(const bowden::v1::ListSessionsResponse& response,
                 absl::Time now) {
  std::vector<std::string> sessions;
  for (const auto& s : response.sessions()) {
    sessions.push_back(
        JsonObject()
            .String("id", s.id())
            .String("user", s.user())
            .String("printer", s.printer())
            .String("target", s.target())
            .String("role", s.role())
            .UnixTime("started", s.started_unix())
            .Int("age_seconds", std::max<int64_t>(0, absl::ToUnixSeconds(now) -
                                                         s.started_unix()))
            .Int("bytes_up", static_cast<int64_t>(s.bytes_up()))
            .Int("bytes_down", static_cast<int64_t>(s.bytes_down()))
            .Bool("open", s.open())
            .Json());
  }
  return JsonObject().Raw("sessions", JsonArray(sessions)).Json();
}

}  // namespace

int RunSessions(const CliOptions& options,
                const std::vector<std::string>& args) {
  if (!args.empty()) {
    return UsageError(
        absl::StrCat("sessions takes no arguments, got '", args[0], "'"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context);
  bowden::v1::ListSessionsResponse response;
  grpc::Status status = stub->ListSessions(&context, {}, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(
        transport::DescribeCallError(status, options.relay)));
  }
  absl::Time now = absl::Now();
  if (options.json) {
    std::cout << Json(response, now) << std::endl;
    return 0;
  }
  if (response.sessions().empty()) {
    std::cout << "No live sessions you may see." << std::endl;
    return 0;
  }
  std::string table = absl::StrFormat(
      "%-24s %-12s %-16s %-10s %-9s %-8s %12s %12s\n", "SESSION", "USER",
      "PRINTER", "TARGET", "ROLE", "AGE", "UP", "DOWN");
  for (const auto& s : response.sessions()) {
    absl::StrAppendFormat(
        &table, "%-24s %-12s %-16s %-10s %-9s %-8s %12s %12s%s\n",
        EscapeForTerminal(s.id()), EscapeForTerminal(s.user()),
        EscapeForTerminal(s.printer()), EscapeForTerminal(s.target()),
        EscapeForTerminal(s.role()),
        HumanDuration(now - absl::FromUnixSeconds(s.started_unix())),
        HumanBytes(s.bytes_up()), HumanBytes(s.bytes_down()),
        s.open() ? "" : " (opening)");
  }
  std::cout << table << std::flush;
  return 0;
}

int RunKill(const CliOptions& options, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return UsageError("usage: bowden kill SESSION [--reason TEXT]");
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context);
  bowden::v1::KillSessionRequest request;
  request.set_session_id(args[0]);
  request.set_reason(options.reason);
  bowden::v1::KillSessionResponse response;
  grpc::Status status = stub->KillSession(&context, request, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(
        transport::DescribeCallError(status, options.relay)));
  }
  std::cout << "Killed session " << args[0] << "." << std::endl;
  return 0;
}

}  // namespace bowden::cli
