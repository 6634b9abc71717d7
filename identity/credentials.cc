#include "identity/credentials.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "identity/relay_name.h"

namespace bowden::identity {
namespace {

// How often the file watcher re-reads the PEM files: how soon a renewed
// certificate or a rotated CA bundle is used for new connections. Reading
// three small files every few seconds costs nothing measurable.
constexpr unsigned int kRefreshSeconds = 5;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read the ", what, " file '",
                                            path, "': check the path"));
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::unique_ptr<BIO, BioFree> MemBio(const std::string& data) {
  return std::unique_ptr<BIO, BioFree>(
      BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// The single URI SAN of `cert`, or an error when there are none or several.
absl::StatusOr<std::string> SingleUriSan(X509* cert, const std::string& path) {
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::string uri;
  int uris = 0;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != GEN_URI) continue;
    ++uris;
    const ASN1_IA5STRING* s = name->d.uniformResourceIdentifier;
    uri.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
               ASN1_STRING_length(s));
  }
  if (uris != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate '", path, "' must carry exactly one URI SAN (a spiffe:// id), it has ",
        uris, ": issue it with `bowden ca issue`"));
  }
  return uri;
}

}  // namespace

absl::StatusOr<SpiffeId> CheckTlsFiles(const TlsFiles& files) {
  absl::StatusOr<std::string> cert_pem = ReadFile(files.cert, "certificate");
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<std::string> key_pem = ReadFile(files.key, "private key");
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<std::string> ca_pem = ReadFile(files.ca, "CA");
  if (!ca_pem.ok()) return ca_pem.status();

  auto cert_bio = MemBio(*cert_pem);
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", files.cert, "' holds no PEM certificate: pass the .crt file"));
  }
  auto key_bio = MemBio(*key_pem);
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", files.key, "' holds no PEM private key: pass the .key file"));
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("the key '", files.key, "' does not belong to the certificate '",
                     files.cert, "': pass the matching pair"));
  }
  auto ca_bio = MemBio(*ca_pem);
  std::unique_ptr<X509, X509Free> ca(
      PEM_read_bio_X509(ca_bio.get(), nullptr, nullptr, nullptr));
  if (!ca) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", files.ca, "' holds no PEM certificate: pass the farm's ca.crt"));
  }
  if (X509_cmp_current_time(X509_get0_notAfter(cert.get())) <= 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "certificate '", files.cert, "' has expired, so the relay will refuse it: get a "
        "join token from the farm operator and run `bowden login --token` (users) or "
        "`bowden-agent enroll --token` (printers), or issue a new one with `bowden ca issue`"));
  }
  absl::StatusOr<std::string> uri = SingleUriSan(cert.get(), files.cert);
  if (!uri.ok()) return uri.status();
  return ParseSpiffeId(*uri);
}

std::shared_ptr<grpc::ServerCredentials> MakeServerCredentials(
    const TlsFiles& files,
    std::shared_ptr<grpc::experimental::CertificateVerifier> verifier) {
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key, files.cert, files.ca, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  // Still watched with a verifier: the CA names go into the handshake's
  // certificate request, which helps a client pick its certificate.
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  if (verifier == nullptr) {
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    // "Don't verify" is OpenSSL's chain check only: a client must still send
    // a certificate and prove it holds the key, and `verifier` runs before
    // the handshake completes on the server.
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    options.set_certificate_verifier(std::move(verifier));
  }
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ServerCredentials> MakeServerOnlyCredentials(const TlsFiles& files) {
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key, files.cert, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  return grpc::experimental::TlsServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MakeChannelCredentials(
    const TlsFiles& files) {
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key, files.cert, files.ca, kRefreshSeconds);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.watch_identity_key_cert_pairs();
  options.set_verify_server_certs(true);
  // The host name check, with a sentence that names the certificate's names.
  options.set_certificate_verifier(
      grpc::experimental::ExternalCertificateVerifier::Create<RelayNameVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace bowden::identity
