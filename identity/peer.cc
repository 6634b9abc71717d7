#include "identity/peer.h"

#include <grpc/grpc_security_constants.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"

namespace bowden::identity {

absl::StatusOr<SpiffeId> AuthenticatePeer(const grpc::AuthContext& auth,
                                          absl::string_view trust_domain,
                                          PeerKind want) {
  // gRPC sets peer_spiffe_id only when the verified certificate carries
  // exactly one URI SAN, which is the rule Bowden wants.
  std::vector<grpc::string_ref> values =
      auth.FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
  if (values.size() != 1) {
    return absl::UnauthenticatedError(
        "the client certificate carries no single spiffe:// URI SAN: use a "
        "certificate issued by `bowden ca issue`");
  }
  std::string uri(values[0].data(), values[0].size());
  absl::StatusOr<SpiffeId> id = ParseSpiffeId(uri);
  if (!id.ok()) {
    return absl::UnauthenticatedError(std::string(id.status().message()));
  }
  if (id->trust_domain != trust_domain) {
    return absl::UnauthenticatedError(
        absl::StrCat("certificate '", uri, "' belongs to trust domain '",
                     id->trust_domain, "', this relay serves '", trust_domain,
                     "'"));
  }
  if (id->kind != want) {
    auto article = [](PeerKind kind) { return kind == PeerKind::kAgent ? "an " : "a "; };
    return absl::PermissionDeniedError(absl::StrCat(
        article(id->kind), PeerKindName(id->kind), " certificate (", uri,
        ") cannot call the ", PeerKindName(want), " service: use ",
        article(want), PeerKindName(want), " certificate"));
  }
  return id;
}

namespace {

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};

}  // namespace

absl::StatusOr<absl::Time> CertificateTime(const ASN1_TIME* time) {
  struct tm tm {};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) {
    return absl::InvalidArgumentError("unreadable certificate time");
  }
  return absl::FromTM(tm, absl::UTCTimeZone());
}

absl::StatusOr<PeerCertificate> DescribeCertificate(X509* cert) {
  PeerCertificate out;
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr);
  char* hex = serial != nullptr ? BN_bn2hex(serial) : nullptr;
  if (hex != nullptr) out.serial_hex = hex;
  OPENSSL_free(hex);
  BN_free(serial);
  absl::StatusOr<absl::Time> not_before =
      CertificateTime(X509_get0_notBefore(cert));
  absl::StatusOr<absl::Time> not_after =
      CertificateTime(X509_get0_notAfter(cert));
  if (!not_before.ok() || !not_after.ok() || out.serial_hex.empty()) {
    return absl::InvalidArgumentError("a certificate without a readable serial or validity");
  }
  out.not_before = *not_before;
  out.not_after = *not_after;
  // The extension flags are OpenSSL's own reading of basicConstraints and
  // keyUsage (BoringSSL has the same calls).
  const uint32_t flags = X509_get_extension_flags(cert);
  if (flags & EXFLAG_CA) out.ca_marks = "basicConstraints CA:TRUE";
  if ((flags & EXFLAG_KUSAGE) &&
      (X509_get_key_usage(cert) & KU_KEY_CERT_SIGN)) {
    absl::StrAppend(&out.ca_marks, out.ca_marks.empty() ? "" : " and ", "keyUsage keyCertSign");
  }
  return out;
}

absl::StatusOr<PeerCertificate> ParseCertificatePem(absl::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert)
    return absl::InvalidArgumentError("not a readable PEM certificate");
  return DescribeCertificate(cert.get());
}

namespace {

absl::StatusOr<PeerCertificate> MustBeLeaf(const PeerCertificate& cert) {
  if (cert.ca_marks.empty()) return cert;
  return absl::UnauthenticatedError(absl::StrCat(
      "the certificate (serial ", cert.serial_hex, ") is a CA certificate (", cert.ca_marks,
      "), not a leaf: a peer must present its own leaf certificate, as `bowden ca issue` and "
      "enrollment make them"));
}

}  // namespace

absl::StatusOr<PeerCertificate> PeerCertificateOf(const grpc::AuthContext& auth) {
  std::vector<grpc::string_ref> pems = auth.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.size() != 1) {
    return absl::UnauthenticatedError("the peer presented no certificate");
  }
  // OpenSSL 3 parses a certificate slowly (provider and decoder look-ups under
  // global locks: ~0.7 ms per session in a profile), and a relay sees the
  // same few certificates on every call, so parse each one once.
  static absl::Mutex mu(absl::kConstInit);
  static auto* parsed ABSL_GUARDED_BY(mu) =
      new absl::flat_hash_map<std::string, PeerCertificate>();
  std::string key(pems[0].data(), pems[0].size());
  {
    absl::MutexLock lock(&mu);
    auto it = parsed->find(key);
    if (it != parsed->end()) return MustBeLeaf(it->second);
  }
  absl::StatusOr<PeerCertificate> cert =
      ParseCertificatePem(absl::string_view(pems[0].data(), pems[0].size()));
  if (!cert.ok()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the peer's certificate cannot be read (", cert.status().message(), ")"));
  }
  absl::MutexLock lock(&mu);
  if (parsed->size() >= 4096) parsed->clear();  // bounded, whatever peers send
  parsed->emplace(std::move(key), *cert);
  return MustBeLeaf(*cert);
}

}  // namespace bowden::identity
