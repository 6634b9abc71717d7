#ifndef BOWDEN_IDENTITY_CLIENT_CHAIN_H_
#define BOWDEN_IDENTITY_CLIENT_CHAIN_H_

#include <openssl/x509.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace bowden::identity {

// What the relay records of a client certificate it refused: enough to find
// the certificate again (issuer and serial) without storing it. Every string
// comes from the certificate, i.e. from the peer: names are RFC 2253 with
// control characters escaped, and each is at most kMaxFactChars long.
struct CertificateFacts {
  std::string subject;     // e.g. "CN=alice"
  std::string issuer;      // e.g. "CN=Bowden CA farm.test"
  std::string serial_hex;  // upper-case hex, as PeerCertificate
  std::string not_after;   // "2024-05-01 12:00:00 UTC"
};
inline constexpr size_t kMaxFactChars = 256;

// The outcome of checking a client's chain. `code` is a short, stable name
// to count refusals by ("expired", "not_yet_valid", "self_signed",
// "untrusted_issuer", "not_client_auth", "ca_certificate", "bad_signature",
// "ca_expired", "invalid_chain", "unreadable", "invalid"); `status` is OK or
// UNAUTHENTICATED with one sentence saying why.
struct ChainVerdict {
  absl::Status status;
  std::string code;
  CertificateFacts leaf;  // empty when the leaf could not be read
};

// Verifies a TLS client's certificate chain against the farm's trust bundle,
// as OpenSSL would during the handshake (same flags as gRPC: any certificate
// in the bundle is an anchor, trusted certificates first; purpose SSL client,
// so a leaf with an extendedKeyUsage must list clientAuth), plus: the leaf
// must not be a CA certificate. Unlike OpenSSL's handshake, it says precisely
// why a chain is refused, so the refusal can be audited.
//
// The bundle file is the one gRPC's FileWatcherCertificateProvider watches:
// it is stat()ed on every check and re-read when its inode, size or mtime
// changed, so a CA rotation (`bowden ca rotate` / `retire` rewrite it
// atomically) takes effect for the next handshake. A bundle that has become
// unreadable or holds no certificate is logged and the previous one is kept,
// as gRPC's provider does.
//
// Thread-safe: Check() may run on many gRPC threads at once; the trust store
// is immutable once built and swapped under a mutex.
class ClientChainChecker {
 public:
  // Reads `bundle_path` now; FailedPrecondition if it holds no certificate,
  // NotFound if it cannot be read.
  static absl::StatusOr<std::unique_ptr<ClientChainChecker>> Create(
      std::string bundle_path);
  ~ClientChainChecker();

  // `leaf_pem`: the client's certificate; `chain_pem`: what else it sent
  // (may be empty, may repeat the leaf; at most 8 certificates are read).
  ChainVerdict Check(absl::string_view leaf_pem, absl::string_view chain_pem)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Bundle;  // one parsed trust bundle: an X509_STORE and its CA names
  struct FileStamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const FileStamp& o) const;
  };

  explicit ClientChainChecker(std::string bundle_path);
  static absl::StatusOr<std::shared_ptr<const Bundle>> Load(
      const std::string& path);
  // The bundle to check against, re-read first if the file changed.
  std::shared_ptr<const Bundle> Current() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string bundle_path_;
  absl::Mutex mu_;
  std::shared_ptr<const Bundle> bundle_ ABSL_GUARDED_BY(mu_);
  FileStamp stamp_ ABSL_GUARDED_BY(mu_);
};

}  // namespace bowden::identity

#endif  // BOWDEN_IDENTITY_CLIENT_CHAIN_H_
