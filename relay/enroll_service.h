#ifndef BOWDEN_RELAY_ENROLL_SERVICE_H_
#define BOWDEN_RELAY_ENROLL_SERVICE_H_

#include <string>

#include "absl/time/time.h"
#include "proto/tunnel.grpc.pb.h"
#include "relay/rate_limiter.h"
#include "relay/relay_state.h"

namespace bowden::relay {

// Enrollment with single-use join tokens, on its own listener that accepts
// peers without client certificates. A host sends the token's secret and a
// CSR for a key it generated itself; the relay signs a certificate whose
// identity comes from the token (the CSR only contributes the public key).
// GetCa hands out the relay's trust bundle (its --ca file), whose first
// certificate the token pins.
// Each peer address gets 5 enrollment attempts at once, then 10 a minute.
//
// Thread-safe; `state` must outlive the service.
class EnrollServiceImpl final : public bowden::v1::EnrollService::CallbackService {
 public:
  explicit EnrollServiceImpl(RelayState* state) : state_(state), limiter_(5, 10) {}

  grpc::ServerUnaryReactor* GetCa(grpc::CallbackServerContext* context,
                                  const bowden::v1::GetCaRequest* request,
                                  bowden::v1::GetCaResponse* response) override;
  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* context,
                                   const bowden::v1::EnrollRequest* request,
                                   bowden::v1::EnrollResponse* response) override;

 private:
  // The peer's address without the port, so one host shares one bucket.
  static std::string PeerHost(grpc::CallbackServerContext* context);
  // Audits and logs a refused enrollment; returns the status to finish with.
  grpc::Status Refuse(const std::string& peer, const absl::Status& status,
                      const std::string& actor);
  // Enroll's token check, signing and token use: on the offload thread, as
  // they wait on SQLite and on the CPU.
  grpc::Status EnrollNow(const std::string& peer,
                         const bowden::v1::EnrollRequest& request,
                         bowden::v1::EnrollResponse* response);

  RelayState* const state_;
  RateLimiter limiter_;
};

// Hex SHA-256 of a token secret: all the relay keeps of it.
std::string TokenSecretHash(absl::string_view secret);

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_ENROLL_SERVICE_H_
