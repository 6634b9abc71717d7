#ifndef BOWDEN_RELAY_RELAY_STATE_H_
#define BOWDEN_RELAY_RELAY_STATE_H_

#include <string>

#include "policy/policy_source.h"
#include "relay/audit_sink.h"
#include "relay/call_refusals.h"
#include "relay/identity_store.h"
#include "relay/offload_thread.h"
#include "relay/open_timeouts.h"
#include "relay/printer_store.h"
#include "relay/registry.h"
#include "relay/signing.h"

namespace bowden::relay {

// Where new hosts enroll, for the join tokens the relay hands out. Empty
// `enroll_address` means enrollment is off (no --enroll-listen).
struct EnrollmentInfo {
  std::string enroll_address;
  std::string relay_address;
};

// What the relay's services share. `trust_domain` is fixed for the process;
// `policy`, `registry` and `store` are thread-safe.
struct RelayState {
  std::string trust_domain;
  policy::PolicySource* policy;
  Registry registry;
  PrinterStore* store;
  AuditSink* audit;
  IdentityStore* identities;
  EnrollmentInfo enrollment;  // set once at start-up
  SigningConfig signing;      // set once at start-up
  // Sessions one user may hold open at once (set once at start-up).
  int max_sessions_per_user = 64;
  // Where handlers run what waits on the disk (see offload_thread.h): the
  // quick store jobs (identities.db, state.db, the CA files, signing)...
  OffloadThread* offload = nullptr;
  // ...and, on a thread of their own so that those never wait behind them,
  // the audit's long jobs (queries, which first flush the writer, and
  // verification, which reads the whole log).
  OffloadThread* audit_offload = nullptr;
  // Fails sessions their agent does not open in time; Dial calls Watch()
  // after adding a pending session.
  OpenTimeouts* open_timeouts = nullptr;
  // Where refused calls are audited, rate-limited per actor.
  CallRefusalLog* call_refusals = nullptr;
};

// Builds an audit event; the caller fills in the rest.
inline bowden::v1::AuditEvent MakeAuditEvent(absl::string_view kind,
                                             absl::string_view actor,
                                             absl::string_view outcome) {
  bowden::v1::AuditEvent event;
  event.set_kind(std::string(kind));
  event.set_actor(std::string(actor));
  event.set_outcome(std::string(outcome));
  return event;
}

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_RELAY_STATE_H_
