#ifndef BOWDEN_CLI_RELAY_SESSION_H_
#define BOWDEN_CLI_RELAY_SESSION_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/commands.h"
#include "grpcpp/channel.h"

namespace bowden::cli {

// Checks that the options name a relay and a usable *user* certificate and
// returns a channel to the relay. An agent's or the relay's certificate is
// refused here with a sentence saying which certificate to use.
// Renews the certificate first (RenewIfDue).
absl::StatusOr<std::shared_ptr<grpc::Channel>> ConnectAsUser(
    const CliOptions& options);

// Renews the user's certificate over mTLS when it is past two thirds of its
// lifetime, saying so on stderr; a failure is reported and the command goes
// on with the current certificate while it lasts.
void RenewIfDue(const CliOptions& options);

// Exit codes (docs/cli.md#exit-codes).
inline constexpr int kExitFailed = 1;  // the operation failed
inline constexpr int kExitUsage =
    2;  // a bad command line: words, arguments, flags

// Prints "bowden: <message>" on stderr and returns kExitFailed.
int Fail(const absl::Status& status);

// Prints "bowden: <message>" on stderr and returns kExitUsage: the command
// line itself is wrong, nothing was tried.
int UsageError(absl::string_view message);

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_RELAY_SESSION_H_
