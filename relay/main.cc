// bowden-relay: the self-hosted meeting point of agents and users.
//
//   bowden-relay --listen 0.0.0.0:7443 --cert relay.crt --key relay.key
//       --ca ca.crt --state-dir /var/lib/bowden [--policy policy.textproto]
//       [--allow alice=prusa-*] [--config relay.textproto]

#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "config/repeated_flag.h"
#include "config/textproto.h"
#include "glog/logging.h"
#include "metrics/process_info.h"
#include "metrics/server.h"
#include "policy/policy_source.h"
#include "proto/config.pb.h"
#include "relay/accept_gate.h"
#include "relay/relay_metrics.h"
#include "relay/relay_server.h"
#include "tunnel/daemon_signals.h"
#include "tunnel/malloc_tuning.h"
#include "version/version.h"

ABSL_FLAG(std::string, config, "", "RelayConfig textproto; flags override it");
// Listed by --help only: config::TakeRepeatedFlag takes every --allow out of
// the arguments before Abseil parses them (Abseil keeps only the last one).
ABSL_FLAG(std::string, allow, "",
          "USER=PRINTER_GLOB, repeatable: a grant with role operator, e.g. alice=prusa-* "
          "(roles, groups and many users: --policy)");
ABSL_FLAG(std::string, listen, "", "HOST:PORT to listen on (port 0 picks one)");
ABSL_FLAG(std::string, cert, "", "relay certificate (PEM)");
ABSL_FLAG(std::string, key, "", "relay private key (PEM)");
ABSL_FLAG(std::string, ca, "", "farm CA bundle (PEM)");
ABSL_FLAG(std::string, state_dir, "", "directory for state.db");
ABSL_FLAG(std::string, policy, "", "Policy textproto: who may reach what");
ABSL_FLAG(std::string, ca_dir, "",
          "enrollment: the farm CA directory (ca.crt, ca.key) the relay signs with");
ABSL_FLAG(std::string, enroll_listen, "",
          "enrollment: HOST:PORT for hosts without a certificate yet (join tokens)");
ABSL_FLAG(std::string, agent_cert_ttl, "",
          "lifetime of the agent certificates the relay signs (enrollment, renewal; "
          "default 24h)");
ABSL_FLAG(std::string, user_cert_ttl, "",
          "lifetime of the user certificates the relay signs (enrollment, renewal; "
          "default 12h)");
ABSL_FLAG(std::string, public_host, "",
          "enrollment: the host name join tokens give for this relay (default: the "
          "--listen host); needed when --listen is 0.0.0.0 or [::]");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT for Prometheus metrics on GET /metrics (default 127.0.0.1:9470; "
          "off: none)");
ABSL_FLAG(int32_t, max_sessions_per_user, 0,
          "sessions one user may hold open at once (default 64)");
ABSL_FLAG(int32_t, audit_backlog_limit, 0,
          "audit events that may wait to be written (e.g. while another program "
          "holds audit.db's lock) before new sessions are refused (default 5000)");

ABSL_FLAG(int, max_unauthenticated_per_source, 0,
          "connections from one address that may wait to authenticate at once (default 256; keep it above the number of printers behind one NAT address)");
ABSL_FLAG(int, max_unauthenticated, 0,
          "connections that may wait to authenticate at once, in all (default 1024)");
ABSL_FLAG(std::string, handshake_timeout, "",
          "close a connection whose TLS handshake is not done by then (default 10s)");
ABSL_FLAG(int64_t, audit_segment_rows, 0,
          "seal the audit log's open segment at this many rows "
          "(default 1000000)");
ABSL_FLAG(std::string, audit_segment_age, "",
          "also seal the audit log's open segment when its first row is "
          "this old (default 24h; 0: by size only)");
ABSL_FLAG(std::string, audit_retention, "",
          "delete the rows of audit segments sealed longer ago than this "
          "(e.g. 90d or 720h); their sealed records stay, so `bowden audit "
          "verify` still proves what is kept (default off: keep everything)");

namespace {

using bowden::v1::RelayConfig;

void Override(std::string* field, const absl::Flag<std::string>& flag) {
  std::string value = absl::GetFlag(flag);
  if (!value.empty()) *field = value;
}

absl::StatusOr<RelayConfig> LoadConfig(const std::vector<std::string>& allows) {
  RelayConfig config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    absl::Status loaded =
        bowden::config::LoadTextProto(absl::GetFlag(FLAGS_config), &config);
    if (!loaded.ok()) return loaded;
  }
  Override(config.mutable_listen(), FLAGS_listen);
  Override(config.mutable_cert(), FLAGS_cert);
  Override(config.mutable_key(), FLAGS_key);
  Override(config.mutable_ca(), FLAGS_ca);
  Override(config.mutable_state_dir(), FLAGS_state_dir);
  Override(config.mutable_policy(), FLAGS_policy);
  Override(config.mutable_ca_dir(), FLAGS_ca_dir);
  Override(config.mutable_enroll_listen(), FLAGS_enroll_listen);
  Override(config.mutable_public_host(), FLAGS_public_host);
  if (absl::GetFlag(FLAGS_max_sessions_per_user) != 0) {
    config.set_max_sessions_per_user(absl::GetFlag(FLAGS_max_sessions_per_user));
  }
  if (absl::GetFlag(FLAGS_audit_backlog_limit) != 0) {
    config.set_audit_backlog_limit(absl::GetFlag(FLAGS_audit_backlog_limit));
  }
  Override(config.mutable_agent_cert_ttl(), FLAGS_agent_cert_ttl);
  Override(config.mutable_user_cert_ttl(), FLAGS_user_cert_ttl);
  Override(config.mutable_handshake_timeout(), FLAGS_handshake_timeout);
  if (int n = absl::GetFlag(FLAGS_max_unauthenticated_per_source); n != 0) {
    config.set_max_unauthenticated_per_source(n);
  }
  if (int n = absl::GetFlag(FLAGS_max_unauthenticated); n != 0) config.set_max_unauthenticated(n);
  if (int64_t n = absl::GetFlag(FLAGS_audit_segment_rows); n != 0) {
    config.set_audit_segment_rows(n);
  }
  Override(config.mutable_audit_segment_age(), FLAGS_audit_segment_age);
  Override(config.mutable_audit_retention(), FLAGS_audit_retention);
  Override(config.mutable_metrics_listen(), FLAGS_metrics_listen);
  if (config.metrics_listen().empty()) config.set_metrics_listen("127.0.0.1:9470");
  for (const std::string& allow : allows) config.add_allow(allow);
  for (auto [name, value] :
       {std::pair<const char*, const std::string*>{"listen", &config.listen()},
        {"cert", &config.cert()},
        {"key", &config.key()},
        {"ca", &config.ca()},
        {"state-dir", &config.state_dir()}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is required (or set it in --config)"));
    }
  }
  return config;
}

absl::StatusOr<std::unique_ptr<bowden::policy::PolicySource>> LoadPolicy(
    const RelayConfig& config) {
  std::vector<bowden::v1::Grant> grants;
  for (const std::string& allow : config.allow()) {
    absl::StatusOr<bowden::v1::Grant> grant =
        bowden::policy::Policy::ParseAllowFlag(allow);
    if (!grant.ok()) return grant.status();
    grants.push_back(*grant);
  }
  return bowden::policy::PolicySource::Load(config.policy(), std::move(grants));
}

// "off" (no retention), "90d" (days), or any absl duration ("720h", "30m").
bool ParseRetention(const std::string& text, absl::Duration* out) {
  if (text == "off") {
    *out = absl::InfiniteDuration();
    return true;
  }
  int64_t days = 0;
  if (absl::EndsWith(text, "d") &&
      absl::SimpleAtoi(absl::string_view(text).substr(0, text.size() - 1),
                       &days)) {
    if (days <= 0 || days > 100000) return false;
    *out = absl::Hours(24 * days);
    return true;
  }
  return absl::ParseDuration(text, out) && *out >= absl::Seconds(1) &&
         *out != absl::InfiniteDuration();
}

// The audit log's segment policy from the config, or what is wrong with it.
// A count from the config or a flag: 0 keeps `*target`'s default; a
// negative one is an error naming the flag and saying what to give (`what`).
template <typename T>
absl::Status SetCount(const char* flag, int64_t value, const char* what,
                      T* target) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, " ", value, " is negative: give ", what));
  }
  if (value > 0) *target = static_cast<T>(value);
  return absl::OkStatus();
}

absl::StatusOr<bowden::audit::SegmentPolicy> AuditSegments(
    const RelayConfig& config) {
  bowden::audit::SegmentPolicy policy;
  if (absl::Status s = SetCount("audit-segment-rows", config.audit_segment_rows(),
                                "the rows per sealed segment, e.g. 1000000",
                                &policy.max_rows);
      !s.ok()) {
    return s;
  }
  if (!config.audit_segment_age().empty() &&
      (!absl::ParseDuration(config.audit_segment_age(), &policy.max_age) ||
       policy.max_age < absl::ZeroDuration() ||
       policy.max_age == absl::InfiniteDuration())) {
    return absl::InvalidArgumentError(
        absl::StrCat("--audit-segment-age '", config.audit_segment_age(),
                     "' is not a duration, e.g. 24h (0 seals by size only)"));
  }
  if (!config.audit_retention().empty() &&
      !ParseRetention(config.audit_retention(), &policy.retention)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--audit-retention '", config.audit_retention(),
                     "' is not a retention: give days like 90d, a duration "
                     "like 720h, or off"));
  }
  return policy;
}

int Fail(const absl::Status& status) {
  std::cerr << "bowden-relay: " << status.message() << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  // The relay's files (state.db, audit.db, their journals) hold identities
  // and the audit log: its own, whatever umask it was started with
  // (systemd's UMask=0077 or a shell's 022). Before anything creates one.
  umask(077);
  bowden::tunnel::ReturnFreedMemory();
  absl::SetProgramUsageMessage(
      "bowden-relay --listen HOST:PORT --cert F --key F --ca F --state-dir DIR "
      "[--policy F] [--allow USER=PRINTER_GLOB ...] [--config F]");
  // --help lists the flags defined in this main.cc.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] { return bowden::version::Line("bowden-relay"); };
  absl::SetFlagsUsageConfig(usage);
  std::vector<char*> args(argv, argv + argc);
  std::vector<std::string> allows = bowden::config::TakeRepeatedFlag(&args, "allow");
  bowden::config::DashedFlagNamesToUnderscores(&args);
  int count = static_cast<int>(args.size());
  absl::ParseCommandLine(count, args.data());
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  // Debian's Abseil checks every lock for deadlock cycles, which costs a few
  // percent on the data path; the lock order is fixed by design instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  absl::StatusOr<RelayConfig> config = LoadConfig(allows);
  if (!config.ok()) return Fail(config.status());
  absl::StatusOr<std::unique_ptr<bowden::policy::PolicySource>> policy =
      LoadPolicy(*config);
  if (!policy.ok()) return Fail(policy.status());

  // Before gRPC starts its threads, so that only sigwait below receives them.
  sigset_t signals = bowden::tunnel::BlockDaemonSignals();

  bowden::relay::RelayOptions options;
  options.listen = config->listen();
  options.tls = {config->cert(), config->key(), config->ca()};
  options.state_dir = config->state_dir();
  options.ca_dir = config->ca_dir();
  options.enroll_listen = config->enroll_listen();
  options.public_host = config->public_host();
  bowden::relay::AcceptGate::Limits limits;
  for (absl::Status s :
       {SetCount("max-sessions-per-user", config->max_sessions_per_user(),
                 "the number of sessions one user may hold open, e.g. 64",
                 &options.max_sessions_per_user),
        SetCount("audit-backlog-limit", config->audit_backlog_limit(),
                 "the number of audit events that may wait, e.g. 5000",
                 &options.audit_backlog_limit),
        SetCount("max-unauthenticated-per-source",
                 config->max_unauthenticated_per_source(),
                 "the connections from one address that may wait to "
                 "authenticate, e.g. 256",
                 &limits.per_source),
        SetCount("max-unauthenticated", config->max_unauthenticated(),
                 "the connections that may wait to authenticate, e.g. 1024",
                 &limits.total)}) {
    if (!s.ok()) return Fail(s);
  }
  for (auto [name, text, ttl] :
       {std::tuple<const char*, const std::string*, absl::Duration*>{
            "agent-cert-ttl", &config->agent_cert_ttl(), &options.agent_cert_ttl},
        {"user-cert-ttl", &config->user_cert_ttl(), &options.user_cert_ttl}}) {
    if (text->empty()) continue;
    if (!absl::ParseDuration(*text, ttl) || *ttl < absl::Seconds(10)) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "--", name, " '", *text, "' is not a lifetime of at least 10s, e.g. 24h")));
    }
  }
  if (!config->handshake_timeout().empty() &&
      (!absl::ParseDuration(config->handshake_timeout(), &options.handshake_timeout) ||
       options.handshake_timeout < absl::Milliseconds(100))) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--handshake-timeout '", config->handshake_timeout(),
        "' is not a duration of at least 100ms, e.g. 10s")));
  }
  if (config->metrics_listen() != "off") {
    absl::StatusOr<std::string> metrics_listen =
        bowden::metrics::ParseListen(config->metrics_listen());
    if (!metrics_listen.ok()) return Fail(metrics_listen.status());
  }
  absl::StatusOr<bowden::audit::SegmentPolicy> segments =
      AuditSegments(*config);
  if (!segments.ok()) return Fail(segments.status());
  options.audit_segments = *segments;
  // A relay under systemd starts with a soft limit of 1024 descriptors, a
  // few hundred agents' worth; the hard limit is what the operator allowed.
  LOG(INFO) << bowden::relay::RaiseOpenFileLimit();
  bowden::relay::AcceptGate::Install(limits);
  if ((*policy)->Get()->grant_count() == 0) {
    LOG(WARNING) << "the policy grants nothing: every user request will be "
                    "denied (add --allow USER=PRINTER_GLOB or --policy FILE)";
  }
  bowden::policy::PolicySource* policy_source = policy->get();
  options.policy = *std::move(policy);
  absl::StatusOr<std::unique_ptr<bowden::relay::RelayServer>> relay =
      bowden::relay::RelayServer::Start(std::move(options));
  if (!relay.ok()) return Fail(relay.status());

  bowden::relay::AuditSink* audit = &(*relay)->audit();
  auto audit_policy = [audit, file = config->policy()](absl::string_view outcome,
                                                        std::string detail) {
    bowden::v1::AuditEvent event;
    event.set_kind("policy");
    event.set_actor("bowden-relay");
    event.set_outcome(std::string(outcome));
    event.set_detail(std::move(detail));
    (*event.mutable_fields())["file"] = file;
    audit->Record(std::move(event));
  };
  audit_policy("ok", absl::StrCat("policy loaded: ", policy_source->Get()->grant_count(),
                                  " grant(s) in force"));
  auto report_reload = [audit_policy](const absl::StatusOr<size_t>& result) {
    if (result.ok()) {
      LOG(INFO) << "policy reloaded: " << *result << " grant(s) in force";
      audit_policy("ok", absl::StrCat("policy reloaded: ", *result, " grant(s) in force"));
    } else {
      LOG(ERROR) << "policy change refused, the previous policy stays in force: "
                 << result.status().message();
      audit_policy("error", std::string(result.status().message()));
    }
  };
  policy_source->StartWatching(absl::Seconds(1), report_reload);

  // After the relay listens: a port the metrics cannot have must not keep
  // the tunnel from starting.
  std::shared_ptr<bowden::metrics::Registry> metrics =
      bowden::relay::RelayMetrics::Get().registry();
  bowden::metrics::AddBuildInfo(*metrics);
  bowden::metrics::AddCertificateExpiry(*metrics, config->cert());
  std::unique_ptr<bowden::metrics::Server> metrics_server =
      bowden::metrics::ServeOrWarn("bowden-relay", config->metrics_listen(), metrics);

  // Tests and scripts read the chosen port from this line.
  std::cout << "bowden-relay listening on port " << (*relay)->port()
            << " for trust domain " << (*relay)->trust_domain() << std::endl;
  if ((*relay)->enroll_port() != 0) {
    std::cout << "bowden-relay enrolling new hosts on port " << (*relay)->enroll_port()
              << std::endl;
  }

  int signal = 0;
  while (sigwait(&signals, &signal) == 0 && signal == SIGHUP) {
    // `systemctl reload`: read a changed policy file now rather than at the
    // watcher's next check. Certificates need nothing: the TLS credentials
    // re-read their files when these change.
    absl::StatusOr<bool> reloaded = policy_source->ReloadIfChanged();
    if (!reloaded.ok()) {
      report_reload(reloaded.status());
    } else if (*reloaded) {
      report_reload(policy_source->Get()->grant_count());
    } else {
      LOG(INFO) << "SIGHUP: the policy file is unchanged, "
                << policy_source->Get()->grant_count() << " grant(s) in force";
    }
  }
  LOG(INFO) << "stopping on signal " << signal;
  metrics_server.reset();
  (*relay)->Shutdown(absl::Seconds(2));
  return 0;
}
