#ifndef BOWDEN_RELAY_ADMIN_SERVICE_H_
#define BOWDEN_RELAY_ADMIN_SERVICE_H_

#include <optional>

#include "absl/time/time.h"
#include "identity/spiffe_id.h"
#include "proto/tunnel.grpc.pb.h"
#include "relay/relay_state.h"

namespace bowden::relay {

// The longest a join token may be valid; CreateToken refuses longer.
inline constexpr absl::Duration kMaxTokenTtl = absl::Hours(7 * 24);

// AdminService for user certificates: live sessions and killing them.
// Relay administrators (Policy.admins) see and kill any session; other users
// see only their own and kill nothing.
//
// Thread-safe; `state` must outlive the service.
class AdminServiceImpl final : public bowden::v1::AdminService::CallbackService {
 public:
  explicit AdminServiceImpl(RelayState* state) : state_(state) {}

  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* context,
                                         const bowden::v1::ListSessionsRequest* request,
                                         bowden::v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* KillSession(grpc::CallbackServerContext* context,
                                        const bowden::v1::KillSessionRequest* request,
                                        bowden::v1::KillSessionResponse* response) override;
  grpc::ServerUnaryReactor* QueryAudit(grpc::CallbackServerContext* context,
                                       const bowden::v1::AuditQuery* request,
                                       bowden::v1::QueryAuditResponse* response) override;
  grpc::ServerUnaryReactor* Revoke(grpc::CallbackServerContext* context,
                                   const bowden::v1::RevokeRequest* request,
                                   bowden::v1::RevokeResponse* response) override;
  grpc::ServerUnaryReactor* ListIdentities(grpc::CallbackServerContext* context,
                                           const bowden::v1::ListIdentitiesRequest* request,
                                           bowden::v1::ListIdentitiesResponse* response) override;
  grpc::ServerUnaryReactor* CreateToken(grpc::CallbackServerContext* context,
                                        const bowden::v1::CreateTokenRequest* request,
                                        bowden::v1::CreateTokenResponse* response) override;
  grpc::ServerUnaryReactor* VerifyAudit(grpc::CallbackServerContext* context,
                                        const bowden::v1::VerifyAuditRequest* request,
                                        bowden::v1::VerifyAuditResponse* response) override;

 private:
  // Authenticates the caller as a relay admin; on refusal finishes `reactor`
  // (and audits it) and returns nullopt.
  std::optional<identity::SpiffeId> AuthoriseAdmin(grpc::CallbackServerContext* context,
                      grpc::ServerUnaryReactor* reactor, absl::string_view action);

  // The parts of the handlers that wait on the disk, run on an offload
  // thread (offload_thread.h) once the caller is authorised and the request
  // checked: QueryAuditNow and VerifyAuditNow on the audit's, the others on
  // the store thread.
  grpc::Status QueryAuditNow(const bowden::v1::AuditQuery& request,
                             bowden::v1::QueryAuditResponse* response);
  void VerifyAuditNow(const bowden::v1::VerifyAuditRequest& request,
                      bowden::v1::VerifyAuditResponse* response);
  // `subject` is the request's, normalised.
  grpc::Status RevokeNow(const std::string& admin, const std::string& subject,
                         const bowden::v1::RevokeRequest& request,
                         bowden::v1::RevokeResponse* response);
  void ListIdentitiesNow(bowden::v1::ListIdentitiesResponse* response);
  grpc::Status CreateTokenNow(const std::string& admin, absl::Duration ttl,
                              const bowden::v1::CreateTokenRequest& request,
                              bowden::v1::CreateTokenResponse* response);

  // Ends every live session and attachment that `revocation` covers; returns
  // how many sessions it cut.
  int CutRevoked(const Revocation& revocation);

  RelayState* const state_;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_ADMIN_SERVICE_H_
