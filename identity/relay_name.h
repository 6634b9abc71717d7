#ifndef BOWDEN_IDENTITY_RELAY_NAME_H_
#define BOWDEN_IDENTITY_RELAY_NAME_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "grpcpp/security/tls_certificate_verifier.h"

namespace bowden::identity {

// Why the relay certificate `cert_pem` is not for `target` (the HOST:PORT a
// channel was made for): "the relay's certificate is not for HOST (it names
// NAMES): ...", or "" when it is. The verdict is OpenSSL's (X509_check_host
// for names, X509_check_ip for address literals), as gRPC's own host name
// check would give it; only the sentence is new. Thread-safe (pure).
std::string RelayNameMismatch(absl::string_view target,
                              absl::string_view cert_pem);

// The host name check of agent and CLI channels to the relay: gRPC's default
// check only says "Hostname Verification Check failed", which reached users
// as "relay ... is unreachable". This one refuses the same certificates with
// RelayNameMismatch's sentence (as UNAUTHENTICATED, inside the channel's
// connection error). The chain itself is verified by gRPC before this runs.
// Thread-safe (stateless).
class RelayNameVerifier final
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> callback,
              grpc::Status* sync_status) override;
  void Cancel(grpc::experimental::TlsCustomVerificationCheckRequest*) override {
  }
};

}  // namespace bowden::identity

#endif  // BOWDEN_IDENTITY_RELAY_NAME_H_
