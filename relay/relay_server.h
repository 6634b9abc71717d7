#ifndef BOWDEN_RELAY_RELAY_SERVER_H_
#define BOWDEN_RELAY_RELAY_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "audit/audit_log.h"
#include "grpcpp/server.h"
#include "identity/credentials.h"
#include "policy/policy_source.h"
#include "relay/admin_service.h"
#include "relay/agent_service.h"
#include "relay/audit_sink.h"
#include "relay/enroll_service.h"
#include "relay/identity_service.h"
#include "relay/relay_state.h"
#include "relay/tls_refusals.h"
#include "relay/user_service.h"
#include "tunnel/net.h"

namespace bowden::relay {

struct RelayOptions {
  std::string listen;  // HOST:PORT; port 0 picks one
  identity::TlsFiles tls;
  std::string state_dir;
  std::unique_ptr<policy::PolicySource> policy;
  absl::Duration open_timeout = absl::Seconds(15);
  // A connection that has not finished its TLS handshake by then is closed
  // (gRPC's default is 120 s, which lets idle sockets pile up).
  absl::Duration handshake_timeout = absl::Seconds(10);
  int max_sessions_per_user = 64;  // sessions one user may hold open at once
  // Audit events waiting for audit.db at which new sessions are refused.
  size_t audit_backlog_limit = AuditSink::kDefaultBacklogLimit;
  // Enrollment (both or neither): the CA directory the relay signs with, and
  // the listener for hosts that have no certificate yet.
  std::string ca_dir;
  std::string enroll_listen;
  // The host name tokens give for both listeners; empty: the --listen host.
  std::string public_host;
  // Lifetimes of the certificates the relay signs (enrollment and renewal).
  absl::Duration agent_cert_ttl = absl::Hours(24);
  absl::Duration user_cert_ttl = absl::Hours(12);
  // When audit segments are sealed and how long their rows are kept.
  audit::SegmentPolicy audit_segments;
};

// The running relay: one gRPC server (TLS 1.2+, client certificates required)
// with AgentService and UserService.
//
// Thread-safe.
class RelayServer {
 public:
  static absl::StatusOr<std::unique_ptr<RelayServer>> Start(RelayOptions options);
  ~RelayServer();

  int port() const { return port_; }
  int enroll_port() const { return enroll_port_; }
  AuditSink& audit() { return *audit_; }
  const std::string& trust_domain() const { return state_.trust_domain; }
  // Stops accepting, cancels live calls after `grace`, and returns.
  void Shutdown(absl::Duration grace);

 private:
  RelayServer(std::string trust_domain,
              std::unique_ptr<policy::PolicySource> policy,
              std::unique_ptr<PrinterStore> store, std::unique_ptr<AuditSink> audit,
              std::unique_ptr<IdentityStore> identities, absl::Duration open_timeout);

  // Declared first so it is destroyed last: the policy watcher thread
  // records into it until the PolicySource stops.
  std::unique_ptr<AuditSink> audit_;
  std::unique_ptr<policy::PolicySource> policy_;
  std::unique_ptr<PrinterStore> store_;
  std::unique_ptr<IdentityStore> identities_;
  RelayState state_;
  AgentServiceImpl agent_service_;
  UserServiceImpl user_service_;
  AdminServiceImpl admin_service_;
  IdentityServiceImpl identity_service_;
  absl::Status StartEnrollment(const RelayOptions& options,
                               const tunnel::HostPort& main_listen);

  std::unique_ptr<EnrollServiceImpl> enroll_service_;
  // After the services and state they use, so they are joined before those
  // go: the store jobs' thread and the audit's long jobs' (queries,
  // verification), which never wait for each other. Neither queues jobs on
  // the other, so their order among themselves does not matter.
  OffloadThread offload_;
  OffloadThread audit_offload_{"relay-audit"};
  // Fails the sessions of state_.registry their agent does not open.
  OpenTimeouts open_timeouts_;
  // Writes to audit_; stopped at Shutdown.
  CallRefusalLog call_refusals_;
  // Whether this server holds gRPC's callback threads to one
  // (callback_threads.h) until Shutdown.
  bool holds_callback_threads_ = false;
  // Audits client certificates refused during the TLS handshake; shared
  // with the listener's certificate verifier, stopped at Shutdown.
  std::shared_ptr<TlsRefusalLog> tls_refusals_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> enroll_server_;
  int port_ = 0;
  int enroll_port_ = 0;
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_RELAY_SERVER_H_
