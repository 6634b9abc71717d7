#ifndef BOWDEN_RELAY_RELAY_STATE_H_
#define BOWDEN_RELAY_RELAY_STATE_H_

#include <string>

#include "policy/policy_source.h"
#include "relay/printer_store.h"
#include "relay/registry.h"

namespace bowden::relay {

// What the relay's services share. `trust_domain` is fixed for the process;
// `policy`, `registry` and `store` are thread-safe.
struct RelayState {
  std::string trust_domain;
  policy::PolicySource* policy;
  Registry registry;
  PrinterStore* store;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_RELAY_STATE_H_
