#ifndef BOWDEN_METRICS_PROCESS_INFO_H_
#define BOWDEN_METRICS_PROCESS_INFO_H_

#include <string>

#include "metrics/registry.h"

// What every Bowden daemon reports about itself, whatever its role.

namespace bowden::metrics {

// Registers bowden_build_info{version="0.1.0",revision="51c2b8d85c3f"} 1
// (revision "unknown" in unstamped builds).
void AddBuildInfo(Registry& registry);

// Registers bowden_certificate_expiry_timestamp_seconds: the notAfter of the
// certificate at `cert_path` as Unix seconds, read from the file at each
// scrape, so a renewed certificate shows at once. An unreadable file reads
// as 0 (long expired), so an expiry alert also catches a broken file.
void AddCertificateExpiry(Registry& registry, const std::string& cert_path);

}  // namespace bowden::metrics

#endif  // BOWDEN_METRICS_PROCESS_INFO_H_
