#ifndef BOWDEN_RELAY_STATUS_CONVERT_H_
#define BOWDEN_RELAY_STATUS_CONVERT_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace bowden::relay {

// absl and gRPC share the canonical code numbers.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_STATUS_CONVERT_H_
