#ifndef BOWDEN_ENROLL_ENROLL_CLIENT_H_
#define BOWDEN_ENROLL_ENROLL_CLIENT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/tunnel.pb.h"

namespace bowden::enroll {

// Decodes "bwj1_<base64url>" into its parts; InvalidArgument with a sentence
// for anything else: "the token is incomplete: copy all of it" when it starts
// like a token but does not decode into every part (cut short in copying).
absl::StatusOr<bowden::v1::JoinToken> DecodeToken(absl::string_view text);

// A new identity, held in memory until it is written.
struct Enrolled {
  std::string key_pem;
  std::string certificate_pem;
  std::string ca_pem;
  std::string spiffe_id;
  std::string relay_address;
};

// Enrolls with `token` as `kind` ("agent" or "user": what the calling
// command makes of the certificate; the relay refuses, without spending the
// token, unless the token was made for that kind). Fetches the relay's CA over TLS and accepts it only
// if its SHA-256 matches the token's pin, then, over TLS verified against
// that CA, sends a CSR for a key generated here. The private key never
// leaves this host. Errors say what went wrong and what to do.
absl::StatusOr<Enrolled> EnrollWithToken(const bowden::v1::JoinToken& token,
                                         absl::string_view kind);

// Writes DIR/NAME.key (0600), DIR/NAME.crt and DIR/ca.crt (DIR is created
// 0700), replacing earlier files atomically.
absl::Status WriteIdentity(const std::string& dir, const std::string& name,
                           const Enrolled& enrolled);

// Writes a textproto config of string `fields` (name, value) to `path`
// atomically (mode 0644), for `--config` or ~/.config/bowden/cli.textproto.
absl::Status WriteConfig(const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace bowden::enroll

#endif  // BOWDEN_ENROLL_ENROLL_CLIENT_H_
