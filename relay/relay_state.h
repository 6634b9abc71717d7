#ifndef BOWDEN_RELAY_RELAY_STATE_H_
#define BOWDEN_RELAY_RELAY_STATE_H_

#include <string>

#include "policy/policy.h"
#include "relay/printer_store.h"
#include "relay/registry.h"

namespace bowden::relay {

// What the relay's services share. `policy` and `trust_domain` are fixed for
// the process; `registry` and `store` are thread-safe.
struct RelayState {
  std::string trust_domain;
  policy::Policy policy;
  Registry registry;
  PrinterStore* store;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_RELAY_STATE_H_
