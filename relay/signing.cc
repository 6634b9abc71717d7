#include "relay/signing.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "certs/ca.h"

namespace bowden::relay {

absl::StatusOr<std::string> ReadTrustBundle(const SigningConfig& config) {
  std::ifstream in(config.trust_bundle, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in || out.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the relay cannot read its CA bundle '", config.trust_bundle,
        "': the operator should check --ca"));
  }
  return out.str();
}

absl::StatusOr<SignedCertificate> SignForPeer(const SigningConfig& config,
                                              absl::string_view csr_pem,
                                              const identity::SpiffeId& id) {
  if (config.ca_dir.empty()) {
    return absl::FailedPreconditionError(
        "this relay does not sign certificates (start it with --ca-dir DIR); ask the farm "
        "operator for a new certificate");
  }
  certs::Role role;
  absl::Duration ttl;
  switch (id.kind) {
    case identity::PeerKind::kAgent:
      role = certs::Role::kAgent;
      ttl = config.agent_ttl;
      break;
    case identity::PeerKind::kUser:
      role = certs::Role::kUser;
      ttl = config.user_ttl;
      break;
    default:
      return absl::PermissionDeniedError(
          absl::StrCat(id.ToString(), " cannot get a certificate from the relay"));
  }
  if (absl::Status s = certs::CheckCsrAsksOnlyFor(csr_pem, id.name, id.ToString()); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::string> bundle = ReadTrustBundle(config);
  if (!bundle.ok()) return bundle.status();
  absl::Time now = absl::Now();
  absl::StatusOr<std::string> certificate =
      certs::SignCsr(config.ca_dir, csr_pem, role, id.name, ttl);
  if (!certificate.ok()) return certificate.status();
  return SignedCertificate{*std::move(certificate), *std::move(bundle), now + ttl};
}

}  // namespace bowden::relay
