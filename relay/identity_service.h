#ifndef BOWDEN_RELAY_IDENTITY_SERVICE_H_
#define BOWDEN_RELAY_IDENTITY_SERVICE_H_

#include <optional>
#include <string>

#include "proto/tunnel.grpc.pb.h"
#include "relay/call_auth.h"
#include "relay/relay_state.h"

namespace bowden::relay {

// Certificate renewal over mTLS: an agent or user that still holds a valid,
// unrevoked certificate gets a fresh one for the same identity (taken from
// the certificate it authenticated with, never from the request) and the
// relay's current trust bundle. Every renewal and refusal is audited.
//
// Thread-safe; `state` must outlive the service.
class IdentityServiceImpl final : public bowden::v1::IdentityService::CallbackService {
 public:
  explicit IdentityServiceImpl(RelayState* state) : state_(state) {}

  grpc::ServerUnaryReactor* Renew(grpc::CallbackServerContext* context,
                                  const bowden::v1::RenewRequest* request,
                                  bowden::v1::RenewResponse* response) override;

 private:
  // The key check, signing and audit, on the offload thread: signing is slow
  // CPU work. `pem` is the certificate the peer authenticated with.
  grpc::Status RenewNow(const AuthenticatedPeer& peer,
                        const std::optional<std::string>& pem,
                        const bowden::v1::RenewRequest& request,
                        bowden::v1::RenewResponse* response);

  RelayState* const state_;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_IDENTITY_SERVICE_H_
