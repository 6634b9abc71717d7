#ifndef BOWDEN_IDENTITY_PEER_VERIFIER_H_
#define BOWDEN_IDENTITY_PEER_VERIFIER_H_

#include <functional>
#include <memory>
#include <string>

#include "grpcpp/security/tls_certificate_verifier.h"
#include "identity/client_chain.h"

namespace bowden::identity {

// A client certificate refused during the TLS handshake.
struct TlsRefusal {
  std::string code;    // ChainVerdict::code
  std::string reason;  // one sentence
  // The certificate's single URI SAN (its claimed SPIFFE id, unverified),
  // C-escaped and capped at kMaxFactChars; "" if it has none or several.
  std::string claimed_id;
  CertificateFacts cert;
};

// Called on a gRPC handshake thread for every refusal: must not block.
using TlsRefusalHandler = std::function<void(const TlsRefusal&)>;

// The relay's client-certificate check, for TlsServerCredentialsOptions::
// set_certificate_verifier with GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_
// CERTIFICATE_BUT_DONT_VERIFY: OpenSSL only makes sure a certificate was
// sent and its key is held, and this verifier decides (synchronously) whether
// the chain is good, through `checker`, and hands every refusal to
// `on_refusal` before the handshake fails. (With OpenSSL verifying, a bad
// chain ends the handshake before any verifier runs, and the reason is lost.)
//
// gRPC 1.51 gives a verifier the peer's certificate, chain and names but not
// its address, so a TlsRefusal has none.
//
// Thread-safe, as `checker` and `on_refusal` must be.
std::shared_ptr<grpc::experimental::CertificateVerifier>
MakeClientCertificateVerifier(std::shared_ptr<ClientChainChecker> checker,
                              TlsRefusalHandler on_refusal);

}  // namespace bowden::identity

#endif  // BOWDEN_IDENTITY_PEER_VERIFIER_H_
