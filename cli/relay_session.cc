#include "cli/relay_session.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "enroll/renewer.h"
#include "transport/relay_channel.h"

namespace bowden::cli {

absl::StatusOr<std::shared_ptr<grpc::Channel>> ConnectAsUser(
    const CliOptions& options) {
  if (options.relay.empty() || options.tls.cert.empty() ||
      options.tls.key.empty() || options.tls.ca.empty()) {
    return absl::InvalidArgumentError(
        "--relay, --cert, --key and --ca are required (or set them in "
        "~/.config/bowden/cli.textproto)");
  }
  absl::StatusOr<identity::SpiffeId> self =
      identity::CheckTlsFiles(options.tls);
  if (!self.ok()) return self.status();
  if (self->kind != identity::PeerKind::kUser) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate '", options.tls.cert, "' is for ", self->ToString(),
        "; the CLI needs a user certificate (`bowden ca issue --dir DIR user "
        "NAME`)"));
  }
  RenewIfDue(options);
  return transport::MakeRelayChannel(options.relay, options.tls);
}

void RenewIfDue(const CliOptions& options) {
  absl::StatusOr<enroll::Validity> validity =
      enroll::ReadValidity(options.tls.cert);
  if (!validity.ok() || absl::Now() < enroll::RenewalTime(*validity, 0)) return;
  absl::StatusOr<enroll::Renewed> renewed =
      enroll::RenewOnce(options.relay, options.tls);
  if (renewed.ok()) {
    std::cerr << "bowden: renewed your certificate, now valid until "
              << absl::FormatTime("%Y-%m-%d %H:%M:%S %Z",
                                  renewed->validity.not_after,
                                  absl::LocalTimeZone())
              << std::endl;
    if (!renewed->warning.empty())
      std::cerr << "bowden: " << renewed->warning << std::endl;
  } else {
    std::cerr << "bowden: your certificate expires at "
              << absl::FormatTime("%Y-%m-%d %H:%M:%S %Z", validity->not_after,
                                  absl::LocalTimeZone())
              << " and could not be renewed (" << renewed.status().message()
              << ")" << std::endl;
  }
}

int Fail(const absl::Status& status) {
  std::cerr << "bowden: " << status.message() << std::endl;
  return kExitFailed;
}

int UsageError(absl::string_view message) {
  std::cerr << "bowden: " << message << std::endl;
  return kExitUsage;
}

}  // namespace bowden::cli
