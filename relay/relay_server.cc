#include "relay/relay_server.h"

#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "certs/ca.h"
#include "glog/logging.h"
#include "grpcpp/server_builder.h"
#include "identity/client_chain.h"
#include "identity/peer_verifier.h"
#include "identity/spiffe_id.h"
#include "relay/audit_startup.h"
#include "relay/callback_threads.h"
#include "transport/stream_window.h"
#include "tunnel/net.h"

namespace bowden::relay {
namespace {

// Chunks are at most 128 KiB; anything much larger is a misbehaving peer.
constexpr int kMaxMessageBytes = 1 << 20;

// gRPC sets SO_REUSEPORT on its listeners by default, so a second relay on
// the same port would start without a word and take a share of the
// connections (with its own registry: agents and users would miss each
// other). Every listener turns it off.
void NoReusePort(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

void HandshakeDeadline(grpc::ServerBuilder& builder, absl::Duration timeout) {
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(timeout)));
}

// Why `listen` could not be bound, for the flag named `flag`. gRPC only says
// that no port was added, so a plain bind (with SO_REUSEADDR, as gRPC does)
// tells a port that is taken from an address that is not this host's.
absl::Status CannotListen(const tunnel::HostPort& listen,
                          absl::string_view flag) {
  absl::StatusOr<tunnel::SocketAddress> address = tunnel::Resolve(listen);
  if (address.ok()) {
    tunnel::UniqueFd probe(
        socket(address->storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int one = 1;
    if (probe.valid() &&
        setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ==
            0 &&
        bind(probe.get(), reinterpret_cast<const sockaddr*>(&address->storage),
             address->length) != 0 &&
        errno == EADDRINUSE) {
      return absl::AlreadyExistsError(
          absl::StrCat("port ", listen.port,
                       " is in use: is another relay running? (stop it, "
                       "or pick another ",
                       flag, ")"));
    }
  }
  return absl::UnavailableError(
      absl::StrCat("cannot listen on ", listen.ToString(),
                   ": the address is not this host's; pick another ", flag));
}

}  // namespace

RelayServer::RelayServer(std::string trust_domain,
                         std::unique_ptr<policy::PolicySource> policy,
                         std::unique_ptr<PrinterStore> store,
                         std::unique_ptr<AuditSink> audit,
                         std::unique_ptr<IdentityStore> identities,
                         absl::Duration open_timeout)
    : audit_(std::move(audit)),
      policy_(std::move(policy)),
      store_(std::move(store)),
      identities_(std::move(identities)),
      state_{std::move(trust_domain), policy_.get(), {},
             store_.get(), audit_.get(), identities_.get(), {}, {}},
      agent_service_(&state_),
      user_service_(&state_),
      admin_service_(&state_),
      identity_service_(&state_),
      open_timeouts_(&state_.registry, open_timeout),
      call_refusals_(audit_.get(), CallRefusalLog::Options{}) {
  state_.offload = &offload_;
  state_.open_timeouts = &open_timeouts_;
  state_.call_refusals = &call_refusals_;
  state_.audit_offload = &audit_offload_;
}

RelayServer::~RelayServer() { Shutdown(absl::ZeroDuration()); }

absl::StatusOr<std::unique_ptr<RelayServer>> RelayServer::Start(RelayOptions options) {
  absl::StatusOr<identity::SpiffeId> self = identity::CheckTlsFiles(options.tls);
  if (!self.ok()) return self.status();
  if (self->kind != identity::PeerKind::kRelay) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate '", options.tls.cert, "' is for ", self->ToString(),
        ", not a relay: issue one with `bowden ca issue --dir DIR relay NAME`"));
  }
  absl::StatusOr<tunnel::HostPort> listen = tunnel::ParseHostPort(options.listen);
  if (!listen.ok()) return listen.status();
  absl::StatusOr<std::unique_ptr<PrinterStore>> store =
      PrinterStore::Open(options.state_dir);
  if (!store.ok()) return store.status();

  audit::AuditLogOptions audit_options;
  audit_options.segments = options.audit_segments;
  absl::StatusOr<std::unique_ptr<audit::AuditLog>> audit_log =
      audit::AuditLog::Open(absl::StrCat(options.state_dir, "/audit.db"),
                            std::move(audit_options));
  if (!audit_log.ok()) return audit_log.status();
  PrepareAuditLog(**audit_log);
  absl::StatusOr<std::unique_ptr<IdentityStore>> identities =
      IdentityStore::Open(options.state_dir);
  if (!identities.ok()) return identities.status();
  std::unique_ptr<RelayServer> relay(new RelayServer(
      self->trust_domain, std::move(options.policy), std::move(*store),
      std::make_unique<AuditSink>(*std::move(audit_log), options.audit_backlog_limit),
      std::move(*identities),
      options.open_timeout));
  relay->state_.max_sessions_per_user = options.max_sessions_per_user;
  relay->state_.signing = SigningConfig{options.ca_dir, options.tls.ca,
                                        options.agent_cert_ttl, options.user_cert_ttl};

  // The relay checks client chains itself, so that a refused one is audited
  // with its reason instead of ending the handshake without a trace.
  absl::StatusOr<std::unique_ptr<identity::ClientChainChecker>> checker =
      identity::ClientChainChecker::Create(options.tls.ca);
  if (!checker.ok()) return checker.status();
  relay->tls_refusals_ = std::make_shared<TlsRefusalLog>(relay->audit_.get());
  auto verifier = identity::MakeClientCertificateVerifier(
      std::move(*checker),
      [refusals = relay->tls_refusals_](const identity::TlsRefusal& refusal) {
        refusals->Record(refusal);
      });

  grpc::ServerBuilder builder;
  builder.AddListeningPort(
      listen->ToString(),
      identity::MakeServerCredentials(options.tls, std::move(verifier)),
      &relay->port_);
  builder.RegisterService(&relay->agent_service_);
  builder.RegisterService(&relay->user_service_);
  builder.RegisterService(&relay->admin_service_);
  builder.RegisterService(&relay->identity_service_);
  builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
  NoReusePort(builder);
  HandshakeDeadline(builder, options.handshake_timeout);
  // Ping idle agents so a vanished one is unregistered within ~20 s, and
  // accept the agents' own keepalive pings.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_FRAME_SIZE, 1 << 20);
  // Memory (issue 12): bounds what a stalled session buffers here.
  transport::BoundStreamWindows(
      [&builder](const char* name, int value) { builder.AddChannelArgument(name, value); });
  relay->server_ = builder.BuildAndStart();
  if (relay->server_ == nullptr || relay->port_ == 0) return CannotListen(*listen, "--listen");
  HoldCallbackThreadsToOne();
  relay->holds_callback_threads_ = true;
  if (!options.enroll_listen.empty() && options.ca_dir.empty()) {
    return absl::InvalidArgumentError(
        "enrollment needs --ca-dir (the CA the relay signs with) as well as --enroll-listen");
  }
  if (!options.enroll_listen.empty()) {
    absl::Status enroll = relay->StartEnrollment(options, *listen);
    if (!enroll.ok()) return enroll;
  }
  return relay;
}

absl::Status RelayServer::StartEnrollment(const RelayOptions& options,
                                          const tunnel::HostPort& main_listen) {
  absl::StatusOr<std::string> bundle = ReadTrustBundle(state_.signing);
  if (!bundle.ok()) return bundle.status();
  absl::StatusOr<tunnel::HostPort> enroll_listen = tunnel::ParseHostPort(options.enroll_listen);
  if (!enroll_listen.ok()) return enroll_listen.status();
  // Tokens name the relay for hosts elsewhere: a wildcard address is no name.
  std::string public_host = options.public_host;
  if (public_host.empty()) public_host = main_listen.host;
  if (public_host == "0.0.0.0" || public_host == "::" || public_host.empty()) {
    return absl::InvalidArgumentError(
        "enrollment needs --public-host NAME when --listen is a wildcard address: join "
        "tokens must say where new hosts find the relay (the name on its certificate)");
  }
  enroll_service_ = std::make_unique<EnrollServiceImpl>(&state_);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(enroll_listen->ToString(),
                           identity::MakeServerOnlyCredentials(options.tls), &enroll_port_);
  builder.RegisterService(enroll_service_.get());
  builder.SetMaxReceiveMessageSize(64 * 1024);
  NoReusePort(builder);
  HandshakeDeadline(builder, options.handshake_timeout);
  enroll_server_ = builder.BuildAndStart();
  if (enroll_server_ == nullptr || enroll_port_ == 0) {
    return CannotListen(*enroll_listen, "--enroll-listen");
  }
  state_.enrollment.enroll_address =
      tunnel::HostPort{public_host, static_cast<uint16_t>(enroll_port_)}.ToString();
  state_.enrollment.relay_address =
      tunnel::HostPort{public_host, static_cast<uint16_t>(port_)}.ToString();
  return absl::OkStatus();
}

void RelayServer::Shutdown(absl::Duration grace) {
  // An audit job waiting for another program's lock on audit.db must not
  // keep the relay from stopping: from now on a locked audit.db loses the
  // events it keeps out (each logged), as a kill would.
  audit_->StopWaitingForLocks();
  // The last server's Shutdown joins gRPC's callback threads: none may stay
  // parked (callback_threads.h). Its remaining calls run on all of them.
  if (holds_callback_threads_) {
    ReleaseCallbackThreads();
    holds_callback_threads_ = false;
  }
  if (enroll_server_ != nullptr) {
    enroll_server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    enroll_server_.reset();
  }
  if (server_ != nullptr) {
    server_->Shutdown(absl::ToChronoTime(absl::Now() + grace));
    server_.reset();
  }
  // gRPC may keep the verifier (and so the log) past this point.
  if (tls_refusals_ != nullptr) tls_refusals_->Stop();
  call_refusals_.Stop();
}

}  // namespace bowden::relay
