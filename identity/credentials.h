#ifndef BOWDEN_IDENTITY_CREDENTIALS_H_
#define BOWDEN_IDENTITY_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "identity/spiffe_id.h"

namespace bowden::identity {

// The three PEM files every Bowden peer holds.
struct TlsFiles {
  std::string cert;  // leaf certificate (optionally followed by intermediates)
  std::string key;   // private key of `cert`
  std::string ca;    // the farm CA bundle used to verify the other side
};

// Reads the files once, before gRPC does, so that a missing file, a key that
// does not match its certificate, an expired certificate or a certificate
// without a Bowden SPIFFE id is reported as one clear sentence at start-up
// instead of an opaque handshake failure later. Returns the certificate's
// identity.
absl::StatusOr<SpiffeId> CheckTlsFiles(const TlsFiles& files);

// mTLS server credentials: client certificate required and verified against
// `files.ca`. The files are watched, so replacing them rotates credentials
// without a restart.
//
// With `verifier` (see peer_verifier.h) OpenSSL only requires a client
// certificate and proof of its key, and `verifier` decides on the chain, so
// that a refusal can say why; without one OpenSSL verifies the chain itself
// and a refusal leaves no trace beyond gRPC's own log.
std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const TlsFiles& files,
    std::shared_ptr<grpc::experimental::CertificateVerifier> verifier =
        nullptr);

// TLS server credentials that request no client certificate: only for the
// relay's enrollment listener, where new hosts have no certificate yet.
std::shared_ptr<grpc::ServerCredentials> MakeServerOnlyCredentials(const TlsFiles& files);

// mTLS channel credentials: presents `files.cert`, verifies the server
// against `files.ca` and checks the server certificate matches the host name.
std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const TlsFiles& files);

}  // namespace bowden::identity

#endif  // BOWDEN_IDENTITY_CREDENTIALS_H_
