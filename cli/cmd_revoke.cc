// bowden revoke / unrevoke / admin ls: certificate revocation at the relay.

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

int SendRevoke(const CliOptions& options, const std::vector<std::string>& args,
               bool lift) {
  if (args.size() != 2) {
    return UsageError(
        absl::StrCat("usage: bowden ", lift ? "unrevoke" : "revoke",
                     " {agent PRINTER-ID | user NAME | serial HEX}",
                     lift ? "" : " [--reason TEXT]"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  bowden::v1::RevokeRequest request;
  request.set_kind(args[0]);
  request.set_subject(args[1]);
  request.set_reason(options.reason);
  request.set_lift(lift);
  bowden::v1::RevokeResponse response;
  grpc::Status status = stub->Revoke(&context, request, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(
        transport::DescribeCallError(status, options.relay)));
  }
  if (lift) {
    std::cout << "Lifted the revocation of " << args[0] << " " << args[1] << "."
              << std::endl;
  } else {
    std::cout << "Revoked " << args[0] << " " << args[1] << "; cut "
              << response.sessions_cut() << " live session(s)." << std::endl;
  }
  return 0;
}

std::string When(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC",
                          absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

const char* State(const bowden::v1::CertificateSeen& c, int64_t now) {
  if (c.revoked()) return "revoked";
  return c.not_after_unix() < now ? "expired" : "valid";
}

// {"certificates":[{"spiffe_id","serial_hex","expires","last_seen","state"}],
//  "revocations":[{"kind","subject","revoked_at","by","reason"}]}.
std::string Json(const bowden::v1::ListIdentitiesResponse& response,
                 int64_t now) {
  std::vector<std::string> certificates;
  for (const auto& c : response.certificates()) {
    certificates.push_back(JsonObject()
                               .String("spiffe_id", c.spiffe_id())
                               .String("serial_hex", c.serial_hex())
                               .UnixTime("expires", c.not_after_unix())
                               .UnixTime("last_seen", c.last_seen_unix())
                               .String("state", State(c, now))
                               .Json());
  }
  std::vector<std::string> revocations;
  for (const auto& r : response.revocations()) {
    revocations.push_back(JsonObject()
                              .String("kind", r.kind())
                              .String("subject", r.subject())
                              .UnixTime("revoked_at", r.at_unix())
                              .String("by", r.by())
                              .String("reason", r.reason())
                              .Json());
  }
  return JsonObject()
      .Raw("certificates", JsonArray(certificates))
      .Raw("revocations", JsonArray(revocations))
      .Json();
}

}  // namespace

int RunRevoke(const CliOptions& options, const std::vector<std::string>& args) {
  return SendRevoke(options, args, /*lift=*/false);
}

int RunUnrevoke(const CliOptions& options,
                const std::vector<std::string>& args) {
  return SendRevoke(options, args, /*lift=*/true);
}

int RunAdminLs(const CliOptions& options,
               const std::vector<std::string>& args) {
  if (!args.empty()) {
    return UsageError(
        absl::StrCat("admin ls takes no arguments, got '", args[0], "'"));
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  bowden::v1::ListIdentitiesResponse response;
  grpc::Status status = stub->ListIdentities(&context, {}, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(
        transport::DescribeCallError(status, options.relay)));
  }
  int64_t now = absl::ToUnixSeconds(absl::Now());
  if (options.json) {
    std::cout << Json(response, now) << std::endl;
    return 0;
  }
  std::string out = absl::StrFormat("%-44s %-34s %-22s %-22s %s\n", "IDENTITY",
                                    "SERIAL", "EXPIRES", "LAST SEEN", "STATE");
  for (const auto& c : response.certificates()) {
    absl::StrAppendFormat(
        &out, "%-44s %-34s %-22s %-22s %s\n", EscapeForTerminal(c.spiffe_id()),
        EscapeForTerminal(c.serial_hex()), When(c.not_after_unix()),
        When(c.last_seen_unix()), State(c, now));
  }
  if (!response.revocations().empty()) {
    absl::StrAppend(&out, "\nRevocations:\n");
    for (const auto& r : response.revocations()) {
      absl::StrAppendFormat(
          &out, "  %s %s  revoked %s by %s%s%s\n", EscapeForTerminal(r.kind()),
          EscapeForTerminal(r.subject()), When(r.at_unix()),
          EscapeForTerminal(r.by()), r.reason().empty() ? "" : ": ",
          EscapeForTerminal(r.reason()));
    }
  }
  std::cout << out << std::flush;
  return 0;
}

}  // namespace bowden::cli
