#include "cli/relay_session.h"

#include <iostream>

#include "absl/strings/str_cat.h"
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
  absl::StatusOr<identity::SpiffeId> self = identity::CheckTlsFiles(options.tls);
  if (!self.ok()) return self.status();
  if (self->kind != identity::PeerKind::kUser) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate '", options.tls.cert, "' is for ", self->ToString(),
        "; the CLI needs a user certificate (`bowden ca issue --dir DIR user NAME`)"));
  }
  return transport::MakeRelayChannel(options.relay, options.tls);
}

int Fail(const absl::Status& status) {
  std::cerr << "bowden: " << status.message() << std::endl;
  return 1;
}

}  // namespace bowden::cli
