#ifndef BOWDEN_RELAY_USER_SERVICE_H_
#define BOWDEN_RELAY_USER_SERVICE_H_

#include "absl/time/time.h"
#include "proto/tunnel.grpc.pb.h"
#include "relay/relay_state.h"

namespace bowden::relay {

// UserService for certificates spiffe://<domain>/user/<name>: listing the
// printers a user may reach, and Dial, which authorises a session, asks the
// printer's agent to open it and splices the two streams.
//
// Thread-safe; `state` must outlive the service.
// Dial is a raw method: the relay forwards its messages without parsing.
class UserServiceImpl final
    : public bowden::v1::UserService::WithCallbackMethod_ListPrinters<
          bowden::v1::UserService::WithRawCallbackMethod_Dial<
              bowden::v1::UserService::Service>> {
 public:
  explicit UserServiceImpl(RelayState* state) : state_(state) {}

  grpc::ServerUnaryReactor* ListPrinters(
      grpc::CallbackServerContext* context,
      const bowden::v1::ListPrintersRequest* request,
      bowden::v1::ListPrintersResponse* response) override;

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Dial(
      grpc::CallbackServerContext* context) override;

 private:
  struct Authorised {
    std::shared_ptr<AgentChannel> channel;
    policy::Role role;
  };
  // Decides whether `user` may open `printer`/`target` now; on success
  // returns the agent's channel and the user's role there.
  absl::StatusOr<Authorised> Authorise(
      const std::string& user, const std::string& printer,
      const std::string& target);
  // Audits and logs a refused Dial (rate-limited: RelayState::call_refusals).
  void RecordRefusedDial(const SessionInfo& info, const absl::Status& refused);
  // ListPrinters once `user` is authenticated, on the offload thread: it
  // reads the printer store.
  grpc::Status ListPrintersNow(const std::string& user,
                               bowden::v1::ListPrintersResponse* response);

  RelayState* const state_;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_USER_SERVICE_H_
