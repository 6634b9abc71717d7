#ifndef BOWDEN_ENROLL_RENEWER_H_
#define BOWDEN_ENROLL_RENEWER_H_

#include <functional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "identity/credentials.h"

namespace bowden::enroll {

// A certificate's validity window.
struct Validity {
  absl::Time not_before;
  absl::Time not_after;
};

// Reads the validity of the first certificate in the PEM file at `path`.
absl::StatusOr<Validity> ReadValidity(const std::string& path);

// When to renew a certificate: at two thirds of its lifetime, up to a tenth of
// the lifetime earlier for `jitter` in [0, 1], so a farm's hosts do not all
// renew in the same second. The lifetime counts from issuance, i.e. without
// the certs::kIssueBackdate in notBefore.
absl::Time RenewalTime(const Validity& validity, double jitter);

// Renews the certificate at `files.cert` once, over mTLS to `relay_address`,
// for the same key (only the certificate file changes, so a file watcher never
// sees a key beside a certificate it does not match). Replaces `files.cert`
// and, when the relay's trust bundle differs, `files.ca`, each atomically.
// Returns the new certificate's validity, and a warning when the bundle could
// not be written. Errors say what to do.
struct Renewed {
  Validity validity;
  std::string warning;  // "" unless the CA bundle could not be updated
};
absl::StatusOr<Renewed> RenewOnce(const std::string& relay_address,
                                  const identity::TlsFiles& files);

// Checks a renewed certificate before it replaces the current one: it must
// be for the key this host holds (`key_pem`), carry the same identity as
// `old_cert_pem`, and verify against `bundle_pem`, the CA bundle the host
// will trust next. DataLossError naming the problem otherwise; a relay that
// sent anything else would lock the host out.
absl::Status CheckRenewedCertificate(const std::string& cert_pem, const std::string& bundle_pem,
                                     const std::string& key_pem,
                                     const std::string& old_cert_pem);

// How the renewer reports: `problem` is false for progress (scheduled,
// renewed) and true for what someone should look at.
using RenewalReport = std::function<void(bool problem, const std::string& message)>;

// Keeps a certificate fresh in the background: renews at RenewalTime, retries
// with backoff (0.5 s doubling to 30 s) while the relay is away or refuses,
// and says clearly when the certificate has expired meanwhile. Running
// processes pick up the new files through gRPC's file watcher, so live
// connections are not touched.
//
// Thread-safe: owns one thread, stopped and joined by the destructor.
class CertificateRenewer {
 public:
  CertificateRenewer(std::string relay_address, identity::TlsFiles files,
                     RenewalReport report);
  ~CertificateRenewer();

  CertificateRenewer(const CertificateRenewer&) = delete;
  CertificateRenewer& operator=(const CertificateRenewer&) = delete;

 private:
  void Run();
  // Waits until `deadline` or Stop; false when stopping.
  bool WaitUntil(absl::Time deadline) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string relay_address_;
  const identity::TlsFiles files_;
  const RenewalReport report_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace bowden::enroll

#endif  // BOWDEN_ENROLL_RENEWER_H_
