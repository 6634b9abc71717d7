// Test-only OpenSSL helpers for the certs tests: build CSRs the library itself
// would never make (other key types, requested SANs and extensions, tampered
// bytes) and inspect what it issued, independently of the code under test.
//
// Functions are thread-compatible: they share no state, but the objects passed
// in must not be used from two threads at once.

#ifndef BOWDEN_CERTS_TEST_X509_H_
#define BOWDEN_CERTS_TEST_X509_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace bowden::certs::test_x509 {

template <typename T, void (*kFree)(T*)>
struct Free {
  void operator()(T* p) const { kFree(p); }
};
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using ReqPtr = std::unique_ptr<X509_REQ, Free<X509_REQ, X509_REQ_free>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;

// Whole file contents ("" if unreadable) and permission bits (0 if missing).
std::string ReadFile(const std::string& path);
mode_t Mode(const std::string& path);

// The first PEM object of each kind in `pem`, or nullptr.
X509Ptr ParseCert(const std::string& pem);
ReqPtr ParseCsr(const std::string& pem);
KeyPtr ParseKey(const std::string& pem);

// A fresh key: `id` EVP_PKEY_EC with `param` a curve NID, EVP_PKEY_RSA with
// `param` bits, or EVP_PKEY_ED25519. nullptr on failure.
KeyPtr GenerateKey(int id, int param);
// Unencrypted PEM of `key`'s private half.
std::string PrivateKeyPem(EVP_PKEY* key);

// DER SubjectPublicKeyInfo: equal strings mean the same public key.
std::string Spki(EVP_PKEY* key);
std::string CertSpki(X509* cert);
std::string CsrSpki(const std::string& csr_pem);  // "" if not a CSR.

// A PEM CSR signed by `key` (SHA-256, or none for Ed25519), subject CN `cn`,
// requesting `extensions` given as (NID, OpenSSL config value) pairs, e.g.
// {NID_subject_alt_name, "URI:spiffe://evil/user/root"}. "" on failure.
std::string MakeCsr(EVP_PKEY* key, const std::string& cn,
                    const std::vector<std::pair<int, std::string>>& extensions);
// A PEM certificate for `key`, subject CN `cn`, issued and signed (SHA-256)
// by `issuer` (nullptr: self-signed) with `issuer_key`, valid from an hour ago for a day, with
// `extensions` given as for MakeCsr, e.g. {NID_basic_constraints,
// "critical,CA:TRUE"}: certificates the CA itself would never issue. "" on
// failure.
std::string IssueCert(X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* key, const std::string& cn,
                      const std::vector<std::pair<int, std::string>>& extensions);
// As IssueCert, valid from `not_before` to `not_after` seconds from now
// (negative: in the past), e.g. -7200, -3600 for one that expired an hour ago.
std::string IssueCertValid(
    X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* key, const std::string& cn,
    long not_before, long not_after,
    const std::vector<std::pair<int, std::string>>& extensions);
// The DER of the first CSR in `pem`, and DER wrapped as PEM verbatim, so that
// a byte tampered with in between survives into the PEM.
std::string CsrDer(const std::string& pem);
std::string DerToCsrPem(const std::string& der);

// SANs of `type` (GEN_URI, GEN_DNS, GEN_IPADD) as raw bytes, in order.
std::vector<std::string> Sans(X509* cert, int type);
// The CN entry of `name`, "" if none.
std::string CommonName(X509_NAME* name);
// X509_V_OK, or why `leaf` does not chain to `ca` for `purpose`.
int Verify(X509* ca, X509* leaf, int purpose);
// Extension NIDs with their criticality, in order.
std::vector<std::pair<int, int>> Extensions(X509* cert);

}  // namespace bowden::certs::test_x509

#endif  // BOWDEN_CERTS_TEST_X509_H_
