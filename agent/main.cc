// bowden-agent: runs next to OctoPrint and dials out to a relay.
//
//   bowden-agent --relay relay.example:7443 --cert prusa-01.crt
//       --key prusa-01.key --ca ca.crt --target octoprint=127.0.0.1:5000
//       [--target webcam=127.0.0.1:8080] [--config agent.textproto]

#include <sys/stat.h>

#include <csignal>
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
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_metrics.h"
#include "agent/doctor_checks.h"
#include "agent/login_watch.h"
#include "agent/octoprint_probe.h"
#include "agent/relay_link.h"
#include "agent/targets.h"
#include "certs/pem_files.h"
#include "config/changed_fields.h"
#include "config/repeated_flag.h"
#include "config/textproto.h"
#include "doctor/certificate_checks.h"
#include "doctor/finding.h"
#include "enroll/enroll_client.h"
#include "enroll/renewer.h"
#include "glog/logging.h"
#include "guard/forwarding.h"
#include "identity/credentials.h"
#include "identity/peer.h"
#include "metrics/process_info.h"
#include "metrics/server.h"
#include "proto/config.pb.h"
#include "transport/relay_channel.h"
#include "tunnel/completion_thread.h"
#include "tunnel/daemon_signals.h"
#include "tunnel/event_loop.h"
#include "tunnel/malloc_tuning.h"
#include "version/version.h"

ABSL_FLAG(std::string, config, "", "AgentConfig textproto; flags override it");
// Listed by --help only: config::TakeRepeatedFlag takes every --target out of
// the arguments before Abseil parses them (Abseil keeps only the last one).
ABSL_FLAG(std::string, target, "",
          "NAME=HOST:PORT[,guard=octoprint|webcam|none], repeatable: a local service the "
          "relay may ask for, e.g. octoprint=127.0.0.1:5000,guard=octoprint");
ABSL_FLAG(std::string, relay, "", "relay HOST:PORT to dial");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT for Prometheus metrics on GET /metrics (default 127.0.0.1:9471; "
          "off: none)");
ABSL_FLAG(std::string, cert, "", "agent certificate (PEM); its name is the printer id");
ABSL_FLAG(std::string, key, "", "agent private key (PEM)");
ABSL_FLAG(std::string, ca, "", "farm CA bundle (PEM)");
ABSL_FLAG(std::string, state_dir, "",
          "keeps audit events here (events.db) until the relay has them; "
          "without it they wait in memory");
ABSL_FLAG(std::string, token, "", "enroll: the join token from `bowden token create agent ID`");
ABSL_FLAG(double, max_hotend_c, 0, "hot-end target cap, degrees C (default 280)");
ABSL_FLAG(double, max_bed_c, 0, "bed target cap, degrees C (default 120)");
ABSL_FLAG(double, max_chamber_c, 0, "chamber target cap, degrees C (default 70)");
ABSL_FLAG(bool, allow_system_commands, false, "let admins run OctoPrint system commands");
ABSL_FLAG(bool, allow_plugin_install, false, "let admins install plugins");
ABSL_FLAG(bool, allow_user_management, false, "let admins manage OctoPrint users");
ABSL_FLAG(bool, allow_firmware_flash, false, "let admins flash firmware");
ABSL_FLAG(bool, allow_gcode_scripts, false, "let admins run OctoPrint G-code scripts");
ABSL_FLAG(bool, lock_settings, false,
          "refuse every change of OctoPrint's settings through the tunnel, admins' too");
ABSL_FLAG(std::string, http_header_timeout, "",
          "a guarded connection closes when a request head is not complete this long after "
          "it began (default 30s)");
ABSL_FLAG(std::string, http_idle_timeout, "",
          "a guarded connection closes after this long without a request (default 10m)");
ABSL_FLAG(bool, allow_octoprint_autologin, false,
          "serve OctoPrint targets even when OctoPrint logs a tunnel session in without a "
          "password (autologinLocal with 198.18.0.0/15 in its localNetworks): every Bowden "
          "user, viewers too, then acts as OctoPrint's autologin user. Without it the agent "
          "refuses such targets");
ABSL_FLAG(std::string, octoprint_remote_user_header, "",
          "single sign-on: log each Bowden user in to OctoPrint as the user of the same name "
          "through this header (OctoPrint's accessControl.remoteUserHeader, e.g. REMOTE_USER; "
          "needs trustRemoteUser)");

namespace {

using bowden::v1::AgentConfig;

void Override(std::string* field, const absl::Flag<std::string>& flag) {
  std::string value = absl::GetFlag(flag);
  if (!value.empty()) *field = value;
}

absl::StatusOr<AgentConfig> LoadConfig(const std::vector<std::string>& targets) {
  AgentConfig config;
  if (!absl::GetFlag(FLAGS_config).empty()) {
    absl::Status loaded =
        bowden::config::LoadTextProto(absl::GetFlag(FLAGS_config), &config);
    if (!loaded.ok()) return loaded;
  }
  Override(config.mutable_relay(), FLAGS_relay);
  Override(config.mutable_cert(), FLAGS_cert);
  Override(config.mutable_key(), FLAGS_key);
  Override(config.mutable_ca(), FLAGS_ca);
  Override(config.mutable_state_dir(), FLAGS_state_dir);
  Override(config.mutable_octoprint_remote_user_header(), FLAGS_octoprint_remote_user_header);
  Override(config.mutable_http_header_timeout(), FLAGS_http_header_timeout);
  Override(config.mutable_http_idle_timeout(), FLAGS_http_idle_timeout);
  Override(config.mutable_metrics_listen(), FLAGS_metrics_listen);
  if (config.metrics_listen().empty()) config.set_metrics_listen("127.0.0.1:9471");
  if (!targets.empty()) {
    config.clear_target();
    for (const std::string& t : targets) config.add_target(t);
  }
  if (absl::GetFlag(FLAGS_max_hotend_c) != 0) {
    config.set_max_hotend_c(absl::GetFlag(FLAGS_max_hotend_c));
  }
  if (absl::GetFlag(FLAGS_max_bed_c) != 0) config.set_max_bed_c(absl::GetFlag(FLAGS_max_bed_c));
  if (absl::GetFlag(FLAGS_max_chamber_c) != 0) {
    config.set_max_chamber_c(absl::GetFlag(FLAGS_max_chamber_c));
  }
  // Flags can only add permissions to the file's, never take them away.
  if (absl::GetFlag(FLAGS_allow_system_commands)) config.set_allow_system_commands(true);
  if (absl::GetFlag(FLAGS_allow_plugin_install)) config.set_allow_plugin_install(true);
  if (absl::GetFlag(FLAGS_allow_user_management)) config.set_allow_user_management(true);
  if (absl::GetFlag(FLAGS_allow_firmware_flash)) config.set_allow_firmware_flash(true);
  if (absl::GetFlag(FLAGS_allow_gcode_scripts)) config.set_allow_gcode_scripts(true);
  // Locking only takes power away, so the flag may add it to the file's.
  if (absl::GetFlag(FLAGS_lock_settings)) config.set_lock_settings(true);
  if (absl::GetFlag(FLAGS_allow_octoprint_autologin)) {
    config.set_allow_octoprint_autologin(true);
  }
  for (auto [name, value] :
       {std::pair<const char*, const std::string*>{"relay", &config.relay()},
        {"cert", &config.cert()},
        {"key", &config.key()},
        {"ca", &config.ca()}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", name, " is required (or set it in --config)"));
    }
  }
  return config;
}

int Fail(const absl::Status& status) {
  std::cerr << "bowden-agent: " << status.message() << std::endl;
  return 1;
}

// The ceiling the agent's guards enforce, from the local config only.
absl::StatusOr<bowden::agent::LocalSafety> BuildSafety(const AgentConfig& config) {
  bowden::gcode::Ceiling ceiling;
  if (config.max_hotend_c() != 0) ceiling.hotend_max_celsius = config.max_hotend_c();
  if (config.max_bed_c() != 0) ceiling.bed_max_celsius = config.max_bed_c();
  if (config.max_chamber_c() != 0) ceiling.chamber_max_celsius = config.max_chamber_c();
  absl::StatusOr<bowden::gcode::Checker> checker =
      bowden::gcode::Checker::Create(std::move(ceiling));
  if (!checker.ok()) return checker.status();
  bowden::guard::LocalCeiling local;
  local.allow_system_commands = config.allow_system_commands();
  local.allow_plugin_install = config.allow_plugin_install();
  local.allow_user_management = config.allow_user_management();
  local.allow_firmware_flash = config.allow_firmware_flash();
  local.allow_gcode_scripts = config.allow_gcode_scripts();
  local.allow_settings_write = !config.lock_settings();
  std::string remote_user_header;
  if (!config.octoprint_remote_user_header().empty()) {
    absl::StatusOr<std::string> header =
        bowden::guard::RemoteUserHeaderName(config.octoprint_remote_user_header());
    if (!header.ok()) return header.status();
    remote_user_header = *header;
  }
  bowden::guard::ProxyLimits limits;
  for (auto [name, text, value] :
       {std::tuple<const char*, const std::string*, absl::Duration*>{
            "http-header-timeout", &config.http_header_timeout(), &limits.header_timeout},
        {"http-idle-timeout", &config.http_idle_timeout(), &limits.idle_timeout}}) {
    if (text->empty()) continue;
    if (!absl::ParseDuration(*text, value) || *value <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, " '", *text, "' is not a positive duration: write e.g. 30s or 10m"));
    }
  }
  return bowden::agent::LocalSafety{*std::move(checker), local, remote_user_header, limits};
}

// SIGHUP (`systemctl reload`): re-reads the certificate files and the
// --config file and logs what it found. The agent applies its configuration
// at start only (the relay learns the targets when the agent attaches, and
// sessions hold pointers to the guards' settings), so a changed file is
// reported, not applied; a broken one gets a warning and changes nothing.
// Flags (e.g. from /etc/bowden/agent.env) are the ones the agent started
// with: they cannot change without a restart.
void Reload(const AgentConfig& running,
            const std::vector<std::string>& target_flags) {
  const bowden::identity::TlsFiles tls{running.cert(), running.key(),
                                       running.ca()};
  absl::StatusOr<bowden::identity::SpiffeId> id =
      bowden::identity::CheckTlsFiles(tls);
  absl::StatusOr<std::string> pem =
      id.ok() ? bowden::certs::ReadPemFile(tls.cert, /*owner_only=*/false)
              : id.status();
  absl::StatusOr<bowden::identity::PeerCertificate> cert =
      pem.ok() ? bowden::identity::ParseCertificatePem(*pem) : pem.status();
  if (!cert.ok()) {
    LOG(WARNING) << "SIGHUP: the certificate files cannot be used, so new "
                    "connections keep the certificate the agent last read: "
                 << cert.status().message();
  } else {
    LOG(INFO) << "SIGHUP: certificate '" << tls.cert << "' (" << id->ToString()
              << ") is valid until " << bowden::doctor::When(cert->not_after)
              << "; new connections use these files within seconds (the TLS "
                 "credentials re-read them themselves), live sessions keep "
                 "theirs";
  }
  const std::string& file = absl::GetFlag(FLAGS_config);
  if (file.empty()) {
    LOG(INFO) << "SIGHUP: no --config file to re-read; flags change only with "
                 "a restart";
    return;
  }
  absl::StatusOr<AgentConfig> reread = LoadConfig(target_flags);
  absl::Status usable = reread.status();
  if (usable.ok()) {
    std::vector<std::string> specs(reread->target().begin(),
                                   reread->target().end());
    usable = bowden::agent::ParseTargets(specs).status();
  }
  if (usable.ok()) usable = BuildSafety(*reread).status();
  if (!usable.ok()) {
    LOG(WARNING)
        << "SIGHUP: " << file
        << " is not usable, so the agent keeps the configuration it runs with: "
        << usable.message();
    return;
  }
  std::vector<std::string> changed =
      bowden::config::ChangedFields(running, *reread);
  if (changed.empty()) {
    LOG(INFO) << "SIGHUP: re-read " << file << ": nothing changed";
    return;
  }
  LOG(INFO) << "SIGHUP: re-read " << file << ": "
            << absl::StrJoin(changed, ", ")
            << " changed; the agent applies its configuration at start only, "
               "so this takes effect with `systemctl restart bowden-agent` "
               "(flags, e.g. from /etc/bowden/agent.env, too)";
}

// bowden-agent doctor: the same flags and config as serving; checks this
// host's half of the farm and prints one line per finding (doctor/).
int Doctor(const AgentConfig& config, const bowden::agent::TargetList& targets,
           const std::string& remote_user_header) {
  bowden::identity::TlsFiles tls{config.cert(), config.key(), config.ca()};
  std::vector<bowden::doctor::Finding> findings = bowden::doctor::CheckCertificate(
      tls, bowden::identity::PeerKind::kAgent, absl::Now());
  for (bowden::doctor::Finding& finding :
       bowden::agent::CheckRelay(config.relay(), tls, absl::Seconds(10))) {
    findings.push_back(std::move(finding));
  }
  for (bowden::doctor::Finding& finding :
       bowden::agent::CheckTargets(targets, remote_user_header,
                                   config.allow_octoprint_autologin(), absl::Seconds(5))) {
    findings.push_back(std::move(finding));
  }
  return bowden::doctor::Report(findings, std::cout);
}

// bowden-agent enroll --token T --state-dir DIR: a key made here, a
// certificate for it from the relay, and DIR/agent.textproto to run with.
int Enroll() {
  std::string dir = absl::GetFlag(FLAGS_state_dir);
  if (absl::GetFlag(FLAGS_token).empty() || dir.empty()) {
    return Fail(absl::InvalidArgumentError(
        "usage: bowden-agent enroll --token TOKEN --state-dir DIR"));
  }
  absl::StatusOr<bowden::v1::JoinToken> token =
      bowden::enroll::DecodeToken(absl::GetFlag(FLAGS_token));
  if (!token.ok()) return Fail(token.status());
  if (token->kind() == "user") {
    return Fail(absl::InvalidArgumentError(
        "this token is for a user, not a printer: use `bowden login --token` instead"));
  }
  absl::StatusOr<bowden::enroll::Enrolled> enrolled =
      bowden::enroll::EnrollWithToken(*token, "agent");
  if (!enrolled.ok()) return Fail(enrolled.status());
  absl::StatusOr<bowden::identity::SpiffeId> id =
      bowden::identity::ParseSpiffeId(enrolled->spiffe_id);
  if (!id.ok() || id->kind != bowden::identity::PeerKind::kAgent) {
    return Fail(absl::InvalidArgumentError(
        "this token is for a user, not a printer: use `bowden login --token` instead"));
  }
  absl::Status written = bowden::enroll::WriteIdentity(dir, "agent", *enrolled);
  if (!written.ok()) return Fail(written);
  std::string config = absl::StrCat(dir, "/agent.textproto");
  absl::Status configured = bowden::enroll::WriteConfig(
      config, {{"relay", enrolled->relay_address},
               {"cert", absl::StrCat(dir, "/agent.crt")},
               {"key", absl::StrCat(dir, "/agent.key")},
               {"ca", absl::StrCat(dir, "/ca.crt")},
               {"state_dir", dir}});
  if (!configured.ok()) return Fail(configured);
  std::cout << "Enrolled as " << enrolled->spiffe_id << " (key in " << dir
            << "/agent.key, 0600). Start the agent with:\n  bowden-agent --config " << config
            << " --target octoprint=127.0.0.1:5000" << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The agent's files (the audit queue, an enrolled key and config) are its
  // own, whatever umask it was started with (systemd's UMask=0077 or a shell's
  // 022): before anything creates one.
  umask(077);
  bowden::tunnel::ReturnFreedMemory();
  absl::SetProgramUsageMessage(
      "bowden-agent --relay HOST:PORT --cert F --key F --ca F "
      "--target NAME=HOST:PORT ... [--config F] [doctor]");
  // --help lists the flags defined in this main.cc.
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::EndsWith(file, "main.cc");
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] { return bowden::version::Line("bowden-agent"); };
  absl::SetFlagsUsageConfig(usage);
  std::vector<char*> args(argv, argv + argc);
  std::vector<std::string> target_flags =
      bowden::config::TakeRepeatedFlag(&args, "target");
  bowden::config::DashedFlagNamesToUnderscores(&args);
  int count = static_cast<int>(args.size());
  std::vector<char*> positional = absl::ParseCommandLine(count, args.data());
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);
  // Debian's Abseil checks every lock for deadlock cycles, which costs a few
  // percent on the data path; the lock order is fixed by design instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  if (positional.size() > 1 && std::string(positional[1]) == "enroll") return Enroll();
  const bool doctor = positional.size() == 2 && std::string(positional[1]) == "doctor";
  if (positional.size() > 1 && !doctor) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "unknown command '", positional[1], "': the commands are `enroll` and `doctor`")));
  }

  absl::StatusOr<AgentConfig> config = LoadConfig(target_flags);
  if (!config.ok()) return Fail(config.status());
  if (config->metrics_listen() != "off") {
    absl::StatusOr<std::string> metrics_listen =
        bowden::metrics::ParseListen(config->metrics_listen());
    if (!metrics_listen.ok()) return Fail(metrics_listen.status());
  }
  std::vector<std::string> specs(config->target().begin(), config->target().end());
  absl::StatusOr<bowden::agent::TargetList> targets = bowden::agent::ParseTargets(specs);
  if (!targets.ok()) return Fail(targets.status());

  absl::StatusOr<bowden::agent::LocalSafety> safety = BuildSafety(*config);
  if (!safety.ok()) return Fail(safety.status());
  if (doctor) return Doctor(*config, *targets, safety->remote_user_header);
  for (const auto& [name, target] : *targets) {
    if (target.guard == bowden::agent::GuardKind::kNone) {
      LOG(WARNING) << "target '" << name << "' passes bytes without an HTTP guard; "
                      "use guard=octoprint or guard=webcam for HTTP services";
    }
  }
  bowden::identity::TlsFiles tls{config->cert(), config->key(), config->ca()};
  absl::StatusOr<bowden::identity::SpiffeId> self = bowden::identity::CheckTlsFiles(tls);
  if (!self.ok()) return Fail(self.status());
  if (self->kind != bowden::identity::PeerKind::kAgent) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "certificate '", tls.cert, "' is for ", self->ToString(),
        ", not an agent: issue one with `bowden ca issue --dir DIR agent PRINTER-ID`")));
  }

  if (!safety->remote_user_header.empty()) {
    LOG(WARNING) << "single sign-on is on: OctoPrint logs every session in as "
                    "the OctoPrint user named like its Bowden user (header "
                 << safety->remote_user_header
                 << "); OctoPrint must have trustRemoteUser on and be "
                    "reachable only from this host, and it no longer asks for "
                    "the password again before sensitive actions";
  }

  // Before any thread starts, so that only sigwait below receives them.
  sigset_t signals = bowden::tunnel::BlockDaemonSignals();

  // Whom OctoPrint logs in without credentials, asked on the watch's own
  // thread: at start, every 5 minutes, and when a session finds it unknown.
  std::vector<std::string> octoprint_targets;
  for (const auto& [name, target] : *targets) {
    if (target.guard == bowden::agent::GuardKind::kOctoPrint) octoprint_targets.push_back(name);
  }
  bowden::agent::LoginWatch::Options watch_options;
  watch_options.allow_autologin = config->allow_octoprint_autologin();
  if (watch_options.allow_autologin) {
    LOG(WARNING) << "--allow-octoprint-autologin: OctoPrint targets are served even when "
                    "OctoPrint logs a tunnel session in without a password; every Bowden user, "
                    "viewers too, would then act as OctoPrint's autologin user";
  }
  const absl::Duration probe_timeout = absl::Seconds(5);
  bowden::agent::LoginWatch logins(
      octoprint_targets,
      [&targets, &safety, probe_timeout](const std::string& name) {
        const bowden::agent::Target& target = targets->at(name);
        return bowden::agent::ProbeOctoPrintLogin(
            {target.address, target.host_port.ToString(), safety->remote_user_header},
            probe_timeout);
      },
      watch_options);
  logins.Start();

  absl::StatusOr<std::unique_ptr<bowden::agent::EventQueue>> events =
      bowden::agent::EventQueue::Open(config->state_dir());
  if (!events.ok()) return Fail(events.status());
  if (!(*events)->persistent()) {
    LOG(WARNING) << "no --state-dir: audit events wait in memory while the relay is away "
                    "and are lost if the agent restarts";
  }

  absl::StatusOr<std::unique_ptr<bowden::tunnel::EventLoop>> loop =
      bowden::tunnel::EventLoop::Create();
  if (!loop.ok()) return Fail(loop.status());
  // A port the metrics cannot have is a warning: the tunnel runs without.
  std::shared_ptr<bowden::metrics::Registry> metrics =
      bowden::agent::AgentMetrics::Get().registry();
  bowden::metrics::AddBuildInfo(*metrics);
  bowden::metrics::AddCertificateExpiry(*metrics, config->cert());
  std::unique_ptr<bowden::metrics::Server> metrics_server =
      bowden::metrics::ServeOrWarn("bowden-agent", config->metrics_listen(), metrics);
  LOG(INFO) << "printer '" << self->name << "' serving " << targets->size()
            << " target(s); dialing out to " << config->relay();
  // The only thread that polls for the agent's streams (see CompletionThread).
  bowden::tunnel::CompletionThread calls;
  // Sessions wait for no probe; the first answers (or the timeout) come
  // before the first session can, so a target is judged from the start.
  logins.AwaitProbes(static_cast<int>(octoprint_targets.size()),
                     probe_timeout * octoprint_targets.size() + absl::Seconds(1));
  bowden::agent::RelayLink link(loop->get(), &calls, config->relay(),
                                bowden::transport::MakeRelayChannel(config->relay(), tls),
                                &*targets, &*safety, events->get(), &logins);
  link.Start();
  // Renews at two thirds of the lifetime; the channel's file watcher picks up
  // the new certificate for new connections, live sessions stay up.
  bowden::enroll::CertificateRenewer renewer(
      config->relay(), tls, [](bool problem, const std::string& message) {
        if (problem) {
          LOG(WARNING) << message;
        } else {
          LOG(INFO) << message;
        }
      });

  int signal = 0;
  while (sigwait(&signals, &signal) == 0 && signal == SIGHUP)
    Reload(*config, target_flags);
  LOG(INFO) << "stopping on signal " << signal;
  // Exit without unwinding: live sessions end with the process, and the
  // relay sees the connection drop.
  std::_Exit(0);
}
