// bowden token create / bowden login: joining a farm with one-time tokens.

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/relay_session.h"
#include "enroll/enroll_client.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"

namespace bowden::cli {

int RunTokenCreate(const CliOptions& options,
                   const std::vector<std::string>& args) {
  if (args.size() != 2 || (args[0] != "agent" && args[0] != "user")) {
    return UsageError(
        "usage: bowden token create {agent PRINTER-ID | user NAME} [--ttl 1h]");
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ConnectAsUser(options);
  if (!channel.ok()) return Fail(channel.status());
  auto stub = bowden::v1::AdminService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  bowden::v1::CreateTokenRequest request;
  request.set_kind(args[0]);
  request.set_name(args[1]);
  absl::Duration ttl =
      options.ttl > absl::ZeroDuration() ? options.ttl : absl::Hours(1);
  request.set_ttl_seconds(absl::ToInt64Seconds(ttl));
  bowden::v1::CreateTokenResponse response;
  grpc::Status status = stub->CreateToken(&context, request, &response);
  if (!status.ok()) {
    return Fail(absl::UnavailableError(
        transport::DescribeCallError(status, options.relay)));
  }
  std::cout << response.token() << std::endl;
  std::cerr << "Single use, valid for " << absl::FormatDuration(ttl)
            << ". On the new host run: "
            << (args[0] == "agent"
                    ? "bowden-agent enroll --token TOKEN --state-dir DIR"
                    : "bowden login --token TOKEN")
            << std::endl;
  return 0;
}

int RunLogin(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty() || options.token.empty()) {
    return UsageError("usage: bowden login --token TOKEN [--dir DIR]");
  }
  absl::StatusOr<bowden::v1::JoinToken> token =
      enroll::DecodeToken(options.token);
  if (!token.ok()) return Fail(token.status());
  if (token->kind() == "agent") {
    return Fail(
        absl::InvalidArgumentError("this token is for a printer host: run "
                                   "`bowden-agent enroll --token TOKEN "
                                   "--state-dir DIR` there"));
  }
  absl::StatusOr<enroll::Enrolled> enrolled =
      enroll::EnrollWithToken(*token, "user");
  if (!enrolled.ok()) return Fail(enrolled.status());
  std::string dir = options.dir;
  if (dir.empty()) {
    const char* home = std::getenv("HOME");
    if (home == nullptr)
      return Fail(absl::FailedPreconditionError("set HOME or pass --dir"));
    std::string config = absl::StrCat(home, "/.config");
    mkdir(config.c_str(), 0755);
    dir = absl::StrCat(config, "/bowden");
  }
  absl::Status written = enroll::WriteIdentity(dir, "user", *enrolled);
  if (!written.ok()) return Fail(written);
  std::string config_path = absl::StrCat(dir, "/cli.textproto");
  absl::Status configured = enroll::WriteConfig(
      config_path, {{"relay", enrolled->relay_address},
                    {"cert", absl::StrCat(dir, "/user.crt")},
                    {"key", absl::StrCat(dir, "/user.key")},
                    {"ca", absl::StrCat(dir, "/ca.crt")}});
  if (!configured.ok()) return Fail(configured);
  std::cout << "Logged in as " << enrolled->spiffe_id << ". Your key stays in "
            << dir << "/user.key (0600); settings are in " << config_path << "."
            << std::endl;
  return 0;
}

}  // namespace bowden::cli
