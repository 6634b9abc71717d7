// bowden revoke / unrevoke / admin ls: certificate revocation at the relay.

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

int SendRevoke(const CliOptions& options, const std::vector<std::string>& args, bool lift) {
  if (args.size() != 2) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "usage: bowden ", lift ? "unrevoke" : "revoke",
        " {agent PRINTER-ID | user NAME | serial HEX}", lift ? "" : " [--reason TEXT]")));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  bowden::v1::RevokeRequest request;
  request.set_kind(args[0]);
  request.set_subject(args[1]);
  request.set_reason(options.reason);
  request.set_lift(lift);
  bowden::v1::RevokeResponse response;
  grpc::Status status = stub->Revoke(&context, request, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(transport::DescribeCallError(status, options.relay)));
  }
  if (lift) {
    std::cout << "Lifted the revocation of " << args[0] << " " << args[1] << "." << std::endl;
  } else {
    std::cout << "Revoked " << args[0] << " " << args[1] << "; cut "
              << response.sessions_cut() << " live session(s)." << std::endl;
  }
  return 0;
}

std::string When(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

}  // namespace

int RunRevoke(const CliOptions& options, const std::vector<std::string>& args) {
  return SendRevoke(options, args, /*lift=*/false);
}

int RunUnrevoke(const CliOptions& options, const std::vector<std::string>& args) {
  return SendRevoke(options, args, /*lift=*/true);
}

int RunAdminLs(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("admin ls takes no arguments, got '", args[0], "'")));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  bowden::v1::ListIdentitiesResponse response;
  grpc::Status status = stub->ListIdentities(&context, {}, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(transport::DescribeCallError(status, options.relay)));
  }
  std::string out = absl::StrFormat("%-44s %-34s %-22s %-22s %s\n", "IDENTITY", "SERIAL",
                                    "EXPIRES", "LAST SEEN", "STATE");
  int64_t now = absl::ToUnixSeconds(absl::Now());
  for (const auto& c : response.certificates()) {
    absl::StrAppendFormat(&out, "%-44s %-34s %-22s %-22s %s\n", c.spiffe_id(), c.serial_hex(),
                          When(c.not_after_unix()), When(c.last_seen_unix()),
                          c.revoked() ? "revoked"
                                      : (c.not_after_unix() < now ? "expired" : "valid"));
  }
  if (!response.revocations().empty()) {
    absl::StrAppend(&out, "\nRevocations:\n");
    for (const auto& r : response.revocations()) {
      absl::StrAppendFormat(&out, "  %s %s  revoked %s by %s%s%s\n", r.kind(), r.subject(),
                            When(r.at_unix()), r.by(), r.reason().empty() ? "" : ": ",
                            r.reason());
    }
  }
  std::cout << out << std::flush;
  return 0;
}

}  // namespace bowden::cli
