#include "relay/enroll_service.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "relay/status_convert.h"

namespace bowden::relay {

std::string TokenSecretHash(absl::string_view secret) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string EnrollServiceImpl::PeerHost(grpc::CallbackServerContext* context) {
  std::string peer = context->peer();  // "ipv4:127.0.0.1:5555" or "ipv6:[::1]:5555"
  size_t colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}

grpc::ServerUnaryReactor* EnrollServiceImpl::GetCa(grpc::CallbackServerContext* context,
                                                   const bowden::v1::GetCaRequest* /*request*/,
                                                   bowden::v1::GetCaResponse* response) {
  // Not rate-limited: the CA certificate is public, costs nothing to send,
  // and every TLS handshake on this port already shows the chain.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // The bundle is read from the disk each time (a rotation rewrites it).
  state_->offload->FinishCall(reactor, [this, response] {
    absl::StatusOr<std::string> bundle = ReadTrustBundle(state_->signing);
    if (bundle.ok()) response->set_ca_pem(*std::move(bundle));
    return ToGrpcStatus(bundle.status());
  });
  return reactor;
}

grpc::Status EnrollServiceImpl::Refuse(const std::string& peer,
                                       const absl::Status& status,
                                       const std::string& actor) {
  bowden::v1::AuditEvent event = MakeAuditEvent("auth", actor, "denied");
  event.set_detail(absl::StrCat("enrollment refused: ", status.message()));
  (*event.mutable_fields())["peer"] = peer;
  (*event.mutable_fields())["action"] = "enroll";
  state_->audit->Record(std::move(event));
  LOG(WARNING) << "enrollment from " << peer
               << " refused: " << status.message();
  return ToGrpcStatus(status);
}

grpc::ServerUnaryReactor* EnrollServiceImpl::Enroll(grpc::CallbackServerContext* context,
                                                    const bowden::v1::EnrollRequest* request,
                                                    bowden::v1::EnrollResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::string peer = context->peer();
  if (!limiter_.Allow(PeerHost(context), absl::Now())) {
    reactor->Finish(Refuse(
        peer,
        absl::ResourceExhaustedError(
            "too many enrollment attempts from this address; wait a minute"),
        peer));
    return reactor;
  }
  // The token lives in SQLite and signing is slow CPU work.
  state_->offload->FinishCall(reactor, [this, peer, request, response] {
    return EnrollNow(peer, *request, response);
  });
  return reactor;
}

grpc::Status EnrollServiceImpl::EnrollNow(
    const std::string& peer, const bowden::v1::EnrollRequest& request,
    bowden::v1::EnrollResponse* response) {
  std::string hash = TokenSecretHash(request.secret());
  // Check the token, sign, and only then consume it: a bad CSR does not burn
  // the token, and of two racing enrollments only one gets a certificate.
  absl::StatusOr<TokenGrant> grant =
      state_->identities->RedeemToken(hash, absl::Now(), /*consume=*/false);
  if (!grant.ok()) return Refuse(peer, grant.status(), peer);
  std::string actor = absl::StrCat(grant->kind, " ", grant->name);
  if (request.kind() != grant->kind) {
    return Refuse(
        peer,
        absl::FailedPreconditionError(absl::StrCat(
            "this join token is for ",
            grant->kind == "agent"
                ? "a printer host: run `bowden-agent enroll --token TOKEN "
                  "--state-dir DIR` there"
                : "a user: run `bowden login --token TOKEN`",
            " (the token was not used)")),
        actor);
  }
  identity::SpiffeId id{state_->trust_domain,
                        grant->kind == "agent" ? identity::PeerKind::kAgent
                                               : identity::PeerKind::kUser,
                        grant->name};
  absl::StatusOr<SignedCertificate> signed_cert =
      SignForPeer(state_->signing, request.csr_pem(), id);
  if (!signed_cert.ok()) return Refuse(peer, signed_cert.status(), actor);
  absl::StatusOr<TokenGrant> consumed =
      state_->identities->RedeemToken(hash, absl::Now(), /*consume=*/true);
  if (!consumed.ok()) return Refuse(peer, consumed.status(), actor);

  response->set_certificate_pem(signed_cert->certificate_pem);
  response->set_ca_pem(signed_cert->trust_bundle_pem);
  response->set_spiffe_id(id.ToString());
  response->set_not_after_unix(absl::ToUnixSeconds(signed_cert->not_after));
  bowden::v1::AuditEvent event = MakeAuditEvent("auth", id.ToString(), "ok");
  event.set_detail(absl::StrCat("enrolled with a join token from ", grant->created_by));
  (*event.mutable_fields())["action"] = "enroll";
  (*event.mutable_fields())["peer"] = peer;
  state_->audit->Record(std::move(event));
  LOG(INFO) << "enrolled " << id.ToString() << " from " << peer;
  return grpc::Status::OK;
}

}  // namespace bowden::relay
