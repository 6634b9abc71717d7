#ifndef BOWDEN_RELAY_FINISHED_REACTOR_H_
#define BOWDEN_RELAY_FINISHED_REACTOR_H_

#include "grpcpp/support/server_callback.h"

namespace bowden::relay {

// A bidi reactor that refuses its call with `status` and reads nothing.
// Owned by gRPC; thread-safe (it has no state).
template <typename Request, typename Response>
class FinishedReactor final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit FinishedReactor(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_FINISHED_REACTOR_H_
