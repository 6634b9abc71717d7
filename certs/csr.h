// Certificate signing requests: building them for our own keys, and checking
// the ones peers send before the CA signs their key. Internal to //certs:ca;
// the public API is in ca.h.
//
// Functions are thread-safe as long as callers do not share the objects they
// pass in; OpenSSL's error queue is per thread.

#ifndef BOWDEN_CERTS_CSR_H_
#define BOWDEN_CERTS_CSR_H_

#include <openssl/evp.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "certs/cert_builder.h"

namespace bowden::certs {

// A CSR or PEM argument from a peer is a few KiB; refusing anything larger
// before parsing bounds the work a hostile request can cause.
inline constexpr size_t kMaxPemArgumentBytes = 64 * 1024;

// OK if `key` is EC P-256 as every Bowden certificate carries it: a named
// curve (prime256v1) and an uncompressed point, checked on its DER
// SubjectPublicKeyInfo so that nothing else (explicit curve parameters, which
// many TLS stacks reject, or another 256-bit curve) can slip into a leaf.
// InvalidArgument "wrong key type: Bowden certificates use EC P-256 keys, got
// <what it is>" otherwise.
absl::Status CheckP256Key(EVP_PKEY* key);

// A PEM CSR for `key`, subject CN `common_name`, no extensions, signed with
// `key` (ECDSA-SHA256 for our keys).
absl::StatusOr<std::string> CsrPem(EVP_PKEY* key,
                                   absl::string_view common_name);

// Parses the first PEM CSR in `csr_pem`, checks its self-signature and that
// its key is EC P-256, and returns that public key, the only part of a CSR
// the CA uses. Errors are InvalidArgument, as documented at SignCsr in ca.h.
absl::StatusOr<EvpPkeyPtr> VerifiedCsrPublicKey(absl::string_view csr_pem);

}  // namespace bowden::certs

#endif  // BOWDEN_CERTS_CSR_H_
