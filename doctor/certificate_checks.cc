#include "doctor/certificate_checks.h"

#include <sys/stat.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "certs/pem_files.h"
#include "enroll/renewer.h"
#include "identity/client_chain.h"
#include "identity/peer.h"

namespace bowden::doctor {
namespace {

constexpr char kNewCertificate[] =
    "get a join token from the farm operator and run `bowden login --token` "
    "(users) or "
    "`bowden-agent enroll --token` (printers), or issue one with `bowden ca "
    "issue`";

// Findings about the key file's mode; empty when it is owner-only.
void CheckKeyMode(const std::string& path, std::vector<Finding>* findings) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;  // reported by the read
  if ((st.st_mode & 077) == 0) {
    findings->push_back(
        Ok(absl::StrCat("key '", path, "' is readable by its owner only")));
    return;
  }
  findings->push_back(Fail(
      absl::StrFormat(
          "key '%s' has mode %04o, so other users on this host can read it",
          path, st.st_mode & 07777),
      absl::StrCat("run `chmod 600 ", path, "`")));
}

// Validity against `now`. Returns false when the certificate is expired or
// not yet valid (the chain check would only repeat it).
bool CheckValidity(const std::string& path,
                   const identity::PeerCertificate& cert, absl::Time now,
                   std::vector<Finding>* findings) {
  if (now < cert.not_before) {
    findings->push_back(
        Fail(absl::StrCat("certificate '", path, "' is not valid before ",
                          When(cert.not_before), " (",
                          HumanDuration(cert.not_before - now), " from now)"),
             "this host's clock is probably behind: set it right (e.g. enable "
             "NTP with "
             "`timedatectl set-ntp true`)"));
    return false;
  }
  if (now >= cert.not_after) {
    findings->push_back(
        Fail(absl::StrCat("certificate '", path, "' expired at ",
                          When(cert.not_after), " (",
                          HumanDuration(now - cert.not_after), " ago)"),
             kNewCertificate));
    return false;
  }
  std::string left = absl::StrCat(
      "certificate '", path, "' is valid until ", When(cert.not_after), " (",
      HumanDuration(cert.not_after - now), " left)");
  absl::Time renew_at =
      enroll::RenewalTime({cert.not_before, cert.not_after}, 0);
  if (now >= renew_at) {
    findings->push_back(
        Warn(absl::StrCat(left, " and is past its renewal time (",
                          When(renew_at), ")"),
             "renewal happens when the CLI or agent next reaches the relay "
             "with it; if it keeps "
             "failing, check the relay signs renewals (--ca-dir) or " +
                 std::string(kNewCertificate)));
  } else {
    findings->push_back(Ok(left));
  }
  return true;
}

}  // namespace

bool ReadableFiles(const identity::TlsFiles& files,
                   std::vector<Finding>* findings) {
  bool readable = true;
  for (auto [what, path] :
       {std::pair<const char*, const std::string*>{"certificate", &files.cert},
        {"key", &files.key},
        {"CA file", &files.ca}}) {
    absl::StatusOr<std::string> pem = certs::ReadPemFile(*path, false);
    if (pem.ok()) continue;
    readable = false;
    if (findings != nullptr) {
      findings->push_back(
          Fail(absl::StrCat("cannot read the ", what, " '", *path, "' (",
                            pem.status().message(), ")"),
               "check the path and that this user may read it"));
    }
  }
  return readable;
}

std::vector<Finding> CheckCertificate(const identity::TlsFiles& files,
                                      identity::PeerKind want, absl::Time now) {
  std::vector<Finding> findings;
  if (files.cert.empty() || files.key.empty() || files.ca.empty()) {
    findings.push_back(
        Fail("no certificate, key or CA file is configured",
             "pass --cert, --key and --ca (or set them in the config file)"));
    return findings;
  }
  if (!ReadableFiles(files, &findings)) return findings;
  absl::StatusOr<std::string> cert_pem = certs::ReadPemFile(files.cert, false);
  if (!cert_pem.ok()) return findings;  // changed since ReadableFiles
  CheckKeyMode(files.key, &findings);

  absl::StatusOr<identity::PeerCertificate> cert =
      identity::ParseCertificatePem(*cert_pem);
  if (!cert.ok()) {
    findings.push_back(
        Fail(absl::StrCat("'", files.cert, "' holds no readable certificate (",
                          cert.status().message(), ")"),
             "pass the .crt file"));
    return findings;
  }
  bool in_window = CheckValidity(files.cert, *cert, now, &findings);

  // Key match, SAN and kind: the same check every command makes at start.
  // Its expiry verdict uses the real clock and is already reported above.
  absl::StatusOr<identity::SpiffeId> self = identity::CheckTlsFiles(files);
  if (self.ok()) {
    if (self->kind == want) {
      findings.push_back(Ok(absl::StrCat(
          "key matches the certificate, identity ", self->ToString())));
    } else {
      findings.push_back(
          Fail(absl::StrCat("certificate '", files.cert, "' is for ",
                            self->ToString(), ", not a ",
                            identity::PeerKindName(want)),
               absl::StrCat("pass the ", identity::PeerKindName(want),
                            "'s certificate")));
    }
  } else if (!(absl::IsFailedPrecondition(self.status()) && !in_window)) {
    findings.push_back(Fail(std::string(self.status().message()), ""));
  }

  absl::StatusOr<std::unique_ptr<identity::ClientChainChecker>> checker =
      identity::ClientChainChecker::Create(files.ca);
  if (!checker.ok()) {
    findings.push_back(
        Fail(absl::StrCat("cannot use the CA file '", files.ca, "' (",
                          checker.status().message(), ")"),
             "pass the farm's ca.crt (or bundle.crt)"));
    return findings;
  }
  identity::ChainVerdict verdict = (*checker)->Check(*cert_pem, *cert_pem);
  if (verdict.status.ok()) {
    findings.push_back(
        Ok(absl::StrCat("certificate chains to the CA in '", files.ca, "'")));
  } else if (in_window ||
             (verdict.code != "expired" && verdict.code != "not_yet_valid")) {
    findings.push_back(
        Fail(absl::StrCat("certificate does not verify against the CA in '",
                          files.ca, "': ", verdict.status.message()),
             absl::StrCat("pass this farm's CA file, or ", kNewCertificate)));
  }
  return findings;
}

}  // namespace bowden::doctor
