// Thin, owning wrappers over the OpenSSL 3 calls the CA needs to mint and read
// certificates. Only the API subset BoringSSL shares is used (no EVP_EC_gen,
// no config-string extensions, nothing deprecated), so a BoringSSL build stays
// possible. Extensions are built from their ASN.1 structures rather than from
// OpenSSL's config syntax, which would let a comma in a name inject a SAN.
//
// Functions are thread-safe as long as callers do not share the objects they
// pass in; OpenSSL's error queue is per thread. Failures of OpenSSL calls come
// back as Internal with OpenSSL's error strings attached.

#ifndef BOWDEN_CERTS_CERT_BUILDER_H_
#define BOWDEN_CERTS_CERT_BUILDER_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bowden::certs {

// std::unique_ptr deleters for OpenSSL objects: every object the CA creates is
// owned by exactly one of these.
template <typename T, void (*kFree)(T*)>
struct OpenSslFree {
  void operator()(T* p) const { kFree(p); }
};
template <typename T, void (*kFree)(T*)>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree<T, kFree>>;
using BioPtr = OpenSslPtr<BIO, BIO_free_all>;
using EvpPkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = OpenSslPtr<X509, X509_free>;

// keyUsage bit numbers (RFC 5280 section 4.2.1.3).
inline constexpr int kDigitalSignature = 0;
inline constexpr int kKeyCertSign = 5;
inline constexpr int kCrlSign = 6;

// Empties this thread's OpenSSL error queue into "err1; err2" (via
// ERR_error_string_n), so a stale error never decorates a later failure.
std::string DrainOpenSslErrors();

// Internal "<what> failed (<OpenSSL errors>)".
absl::Status OpenSslError(absl::string_view what);

// A fresh EC P-256 key (EVP_PKEY_CTX_new_id + set_ec_paramgen_curve_nid).
absl::StatusOr<EvpPkeyPtr> GenerateP256Key();

// An unsigned v3 certificate for `key`: subject CN `common_name`, random
// positive 16-byte serial, validity [not_before, not_after]. The caller sets
// the issuer, adds extensions and signs.
absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key,
                                       absl::string_view common_name,
                                       absl::Time not_before,
                                       absl::Time not_after);

// basicConstraints, critical: CA:TRUE pathlen:0, or CA:FALSE.
absl::Status AddBasicConstraints(X509* cert, bool is_ca);
// keyUsage, critical, with the given bits set.
absl::Status AddKeyUsage(X509* cert, std::initializer_list<int> bits);
// extendedKeyUsage, not critical, e.g. {NID_server_auth, NID_client_auth}.
absl::Status AddExtendedKeyUsage(X509* cert, std::initializer_list<int> nids);
// subjectKeyIdentifier, and authorityKeyIdentifier naming `issuer` (nullptr
// for a self-signed certificate), so verifiers pick the right CA certificate
// even when two carry the same name, as during a CA rotation.
absl::Status AddKeyIdentifiers(X509* cert, X509* issuer);
// subjectAltName: one URI, then DNS names, then IPs (4 or 16 raw bytes each,
// as ParseIpAddress returns). Not critical, since the subject is not empty.
absl::Status AddSubjectAltNames(X509* cert, absl::string_view uri,
                                const std::vector<std::string>& dns,
                                const std::vector<std::string>& ip_bytes);

// All URI SANs of `cert`, in order; empty if it has none.
std::vector<std::string> UriSans(const X509* cert);

// Parses the first PEM certificate / unencrypted private key in `pem`, never
// prompting on the terminal for a passphrase. `path` only names the source in
// errors, which are FailedPrecondition (a damaged or foreign file).
absl::StatusOr<X509Ptr> ParseCertificatePem(absl::string_view pem,
                                            absl::string_view path);
absl::StatusOr<EvpPkeyPtr> ParsePrivateKeyPem(absl::string_view pem,
                                              absl::string_view path);

// PEM encodings in a memory BIO. Callers write BioContents() straight to
// disk, so a private key is never copied into a std::string; OpenSSL clears a
// memory BIO's buffer when it is freed.
absl::StatusOr<BioPtr> PrivateKeyToPkcs8Pem(EVP_PKEY* key);
absl::StatusOr<BioPtr> CertificateToPem(X509* cert);
absl::string_view BioContents(BIO* bio);

}  // namespace bowden::certs

#endif  // BOWDEN_CERTS_CERT_BUILDER_H_
