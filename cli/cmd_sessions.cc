// bowden sessions / bowden kill SESSION: live sessions on the relay.

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/relay_session.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"

namespace bowden::cli {
namespace {

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
}

}  // namespace

int RunSessions(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("sessions takes no arguments, got '", args[0], "'")));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context);
  bowden::v1::ListSessionsResponse response;
  grpc::Status status = stub->ListSessions(&context, {}, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(transport::DescribeCallError(status, options.relay)));
  }
  if (response.sessions().empty()) {
    std::cout << "No live sessions you may see." << std::endl;
    return 0;
  }
  std::string table = absl::StrFormat("%-24s %-12s %-16s %-10s %-9s %-8s %12s %12s\n",
                                      "SESSION", "USER", "PRINTER", "TARGET", "ROLE",
                                      "AGE", "UP", "DOWN");
  absl::Time now = absl::Now();
  for (const auto& s : response.sessions()) {
    absl::Duration age = absl::Trunc(now - absl::FromUnixSeconds(s.started_unix()),
                                     absl::Seconds(1));
    absl::StrAppendFormat(&table, "%-24s %-12s %-16s %-10s %-9s %-8s %12d %12d%s\n",
                          s.id(), s.user(), s.printer(), s.target(), s.role(),
                          absl::FormatDuration(age), s.bytes_up(), s.bytes_down(),
                          s.open() ? "" : " (opening)");
  }
  std::cout << table << std::flush;
  return 0;
}

int RunKill(const CliOptions& options, const std::vector<std::string>& args) {
  if (args.size() != 1) {
    return Fail(absl::InvalidArgumentError("usage: bowden kill SESSION [--reason TEXT]"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ConnectAsUser(options);
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
    return Fail(absl::UnavailableError(transport::DescribeCallError(status, options.relay)));
  }
  std::cout << "Killed session " << args[0] << "." << std::endl;
  return 0;
}

}  // namespace bowden::cli
