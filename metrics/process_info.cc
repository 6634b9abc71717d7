#include "metrics/process_info.h"

#include <fstream>
#include <iterator>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "identity/peer.h"
#include "version/version.h"

namespace bowden::metrics {

void AddBuildInfo(Registry& registry) {
  std::string revision(version::Revision());
  registry.AddCallbackGauge(
      "bowden_build_info", "Always 1; the labels say which build runs.",
      [] { return 1.0; },
      {{"version", std::string(version::Number())},
       {"revision", revision.empty() ? "unknown" : revision}});
}

void AddCertificateExpiry(Registry& registry, const std::string& cert_path) {
  registry.AddCallbackGauge(
      "bowden_certificate_expiry_timestamp_seconds",
      "When this daemon's own certificate expires (notAfter), in Unix seconds; "
      "0 if the "
      "file cannot be read.",
      [cert_path]() -> double {
        std::ifstream in(cert_path, std::ios::binary);
        std::string pem((std::istreambuf_iterator<char>(in)), {});
        absl::StatusOr<identity::PeerCertificate> cert =
            identity::ParseCertificatePem(pem);
        return cert.ok()
                   ? static_cast<double>(absl::ToUnixSeconds(cert->not_after))
                   : 0;
      });
}

}  // namespace bowden::metrics
