#ifndef BOWDEN_RELAY_AGENT_SERVICE_H_
#define BOWDEN_RELAY_AGENT_SERVICE_H_

#include "proto/tunnel.grpc.pb.h"
#include "relay/agent_audit.h"
#include "relay/relay_state.h"

namespace bowden::relay {

// AgentService for certificates spiffe://<domain>/agent/<printer-id>: the
// control stream (Attach) and the per-session data streams (Carry).
//
// Thread-safe; `state` must outlive the service.
// Carry is a raw method: the relay forwards its messages without parsing.
class AgentServiceImpl final
    : public bowden::v1::AgentService::WithCallbackMethod_Attach<
          bowden::v1::AgentService::WithRawCallbackMethod_Carry<
              bowden::v1::AgentService::Service>> {
 public:
  explicit AgentServiceImpl(RelayState* state) : state_(state) {}

  grpc::ServerBidiReactor<bowden::v1::AgentMessage, bowden::v1::RelayMessage>*
  Attach(grpc::CallbackServerContext* context) override;

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Carry(
      grpc::CallbackServerContext* context) override;

 private:
  RelayState* const state_;
  // Shared by every Attach, so an agent cannot refill it by reconnecting.
  AgentAuditBudget audit_budget_;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_AGENT_SERVICE_H_
