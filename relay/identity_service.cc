#include "relay/identity_service.h"

#include <grpc/grpc_security_constants.h>

#include "absl/strings/str_cat.h"
#include "certs/ca.h"
#include "glog/logging.h"
#include "relay/call_auth.h"
#include "relay/status_convert.h"

namespace bowden::relay {

grpc::ServerUnaryReactor* IdentityServiceImpl::Renew(grpc::CallbackServerContext* context,
                                                     const bowden::v1::RenewRequest* request,
                                                     bowden::v1::RenewResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The verified SPIFFE id says which kind to authenticate as; the full
  // check (trust domain, kind, revocation) follows in AuthenticateCall.
  identity::PeerKind kind = identity::PeerKind::kUser;
  auto claimed = context->auth_context()->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (claimed.size() == 1) {
    absl::StatusOr<identity::SpiffeId> id =
        identity::ParseSpiffeId(absl::string_view(claimed[0].data(), claimed[0].size()));
    if (id.ok() && id->kind == identity::PeerKind::kAgent) kind = identity::PeerKind::kAgent;
  }
  absl::StatusOr<AuthenticatedPeer> peer = AuthenticateCall(context, *state_, kind);
  if (!peer.ok()) {
    reactor->Finish(ToGrpcStatus(peer.status()));
    return reactor;
  }
  auto pems = context->auth_context()->FindPropertyValues(
      GRPC_X509_PEM_CERT_PROPERTY_NAME);
  std::optional<std::string> pem;
  if (pems.size() == 1) pem.emplace(pems[0].data(), pems[0].size());
  // Signing is slow CPU work and reads the CA key from the disk.
  state_->offload->FinishCall(
      reactor, [this, peer = *std::move(peer), pem, request, response] {
        return RenewNow(peer, pem, *request, response);
      });
  return reactor;
}

grpc::Status IdentityServiceImpl::RenewNow(
    const AuthenticatedPeer& peer, const std::optional<std::string>& pem,
    const bowden::v1::RenewRequest& request,
    bowden::v1::RenewResponse* response) {
  // A revocation stored since the call was authenticated (this job may have
  // waited behind it) must not be outlived by a fresh certificate.
  absl::Status allowed = RevokedSince(*state_, peer);
  // Renewal keeps the key (docs/identity.md): the CSR must be for the key of
  // the certificate the caller authenticated with.
  if (allowed.ok()) {
    allowed =
        pem.has_value()
            ? certs::CheckCsrKeepsKeyOf(request.csr_pem(), *pem)
            : absl::UnauthenticatedError("the peer presented no certificate");
  }
  absl::StatusOr<SignedCertificate> signed_cert =
      allowed.ok() ? SignForPeer(state_->signing, request.csr_pem(), peer)
                   : absl::StatusOr<SignedCertificate>(allowed);
  bowden::v1::AuditEvent event = MakeAuditEvent(
      "auth", peer.ToString(), signed_cert.ok() ? "ok" : "denied");
  (*event.mutable_fields())["action"] = "renew";
  (*event.mutable_fields())["serial"] = peer.serial_hex;
  if (signed_cert.ok()) {
    event.set_detail(absl::StrCat("renewed the certificate until ",
                                  absl::FormatTime(signed_cert->not_after)));
    LOG(INFO) << "renewed " << peer.ToString() << " (was serial "
              << peer.serial_hex << ")";
    response->set_certificate_pem(signed_cert->certificate_pem);
    response->set_ca_pem(signed_cert->trust_bundle_pem);
    response->set_not_after_unix(absl::ToUnixSeconds(signed_cert->not_after));
  } else {
    event.set_detail(absl::StrCat("renewal refused: ", signed_cert.status().message()));
    LOG(WARNING) << "renewal for " << peer.ToString()
                 << " refused: " << signed_cert.status().message();
  }
  state_->audit->Record(std::move(event));
  return ToGrpcStatus(signed_cert.status());
}

}  // namespace bowden::relay
