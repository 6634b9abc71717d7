// bowden ca init / issue / rotate / retire: run the farm's certificate
// authority.

#include <iostream>

#include "absl/strings/str_cat.h"
#include "certs/ca.h"
#include "cli/commands.h"
#include "cli/relay_session.h"

namespace bowden::cli {

int RunCaInit(const CliOptions& options, const std::vector<std::string>& args) {
  if (!args.empty()) {
    return UsageError(
        absl::StrCat("ca init takes no arguments, got '", args[0], "'"));
  }
  if (options.dir.empty() || options.trust_domain.empty()) {
    return UsageError("ca init needs --dir DIR and --trust-domain DOMAIN");
  }
  absl::Status status = certs::InitCa(options.dir, options.trust_domain);
  if (!status.ok()) return Fail(status);
  std::cout << "Created the CA for spiffe://" << options.trust_domain << ": "
            << options.dir << "/ca.crt (share it) and " << options.dir
            << "/ca.key (mode 0600: whoever holds it can mint any identity, "
               "so keep it offline, or only on the relay if it signs join "
               "tokens and renewals with --ca-dir). Give peers and the relay "
            << options.dir << "/bundle.crt as --ca." << std::endl;
  return 0;
}

// ca rotate and ca retire take only --dir.
int RunCaStep(const CliOptions& options, const std::vector<std::string>& args,
              const char* name, absl::Status (*step)(const std::string&)) {
  if (!args.empty() || options.dir.empty()) {
    return UsageError(absl::StrCat("usage: bowden ca ", name, " --dir DIR"));
  }
  absl::Status status = step(options.dir);
  if (!status.ok()) return Fail(status);
  return 0;
}

int RunCaRotate(const CliOptions& options,
                const std::vector<std::string>& args) {
  int failed = RunCaStep(options, args, "rotate", certs::RotateCa);
  if (failed) return failed;
  std::cout << "New CA in " << options.dir << "/ca.crt; the previous one is in "
            << options.dir << "/previous-ca.crt and " << options.dir
            << "/bundle.crt trusts both. New certificates come from the new "
               "CA. Once every "
               "peer has renewed, re-issue the relay's certificate; once every "
               "certificate of "
               "the previous CA has expired, run `bowden ca retire --dir "
            << options.dir << "`." << std::endl;
  return 0;
}

int RunCaRetire(const CliOptions& options,
                const std::vector<std::string>& args) {
  int failed = RunCaStep(options, args, "retire", certs::RetirePreviousCa);
  if (failed) return failed;
  std::cout << "Retired the previous CA: " << options.dir
            << "/bundle.crt now trusts only the current one." << std::endl;
  return 0;
}

namespace {

// Agents and users renew their certificates themselves (enroll/renewer.h,
// `bowden open`), so a short default limits what a stolen key is worth.
// Nothing renews the relay's own certificate: a day would stop the farm a day
// after set-up, so it gets a year, to be re-issued by hand (`bowden doctor`
// warns 30 days before it runs out).
absl::Duration DefaultTtl(certs::Role role) {
  return role == certs::Role::kRelay ? absl::Hours(24 * 365) : absl::Hours(24);
}

}  // namespace

int RunCaIssue(const CliOptions& options,
               const std::vector<std::string>& args) {
  if (args.size() != 2) {
    return UsageError(
        "usage: bowden ca issue --dir DIR {relay|agent|user} NAME");
  }
  if (options.dir.empty()) {
    return UsageError("ca issue needs --dir DIR");
  }
  absl::StatusOr<certs::Role> role = certs::ParseRole(args[0]);
  if (!role.ok()) return UsageError(role.status().message());
  certs::IssueOptions issue;
  issue.role = *role;
  issue.name = args[1];
  issue.ttl =
      options.ttl > absl::ZeroDuration() ? options.ttl : DefaultTtl(*role);
  issue.dns = options.dns;
  issue.ips = options.ips;
  absl::Status status = certs::IssueCertificate(options.dir, issue);
  if (!status.ok()) return Fail(status);
  std::cout << "Issued " << (args[0] == "agent" ? "an " : "a ") << args[0]
            << " certificate for '" << args[1] << "' valid for "
            << absl::FormatDuration(issue.ttl) << ": " << options.dir << "/"
            << args[1] << ".crt and " << options.dir << "/" << args[1]
            << ".key (mode 0600)." << std::endl;
  return 0;
}

}  // namespace bowden::cli
