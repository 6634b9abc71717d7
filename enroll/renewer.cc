#include "enroll/renewer.h"

#include <openssl/asn1.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "certs/ca.h"
#include "certs/pem_files.h"
#include "identity/peer.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"

namespace bowden::enroll {
namespace {

constexpr absl::Duration kFirstRetry = absl::Milliseconds(500);
constexpr absl::Duration kMaxRetry = absl::Seconds(30);

std::string ReadFileOrEmpty(const std::string& path) {
  absl::StatusOr<std::string> pem = certs::ReadPemFile(path, /*owner_only=*/false);
  return pem.ok() ? *pem : "";
}

absl::Status Replace(const std::string& path, absl::string_view pem) {
  absl::StatusOr<certs::StagedFile> file = certs::StagedFile::Create(path, pem, 0644);
  if (!file.ok()) return file.status();
  return file->Commit(certs::Overwrite::kReplace);
}

}  // namespace

absl::Status CheckRenewedCertificate(const std::string& cert_pem, const std::string& bundle_pem,
                          const std::string& key_pem, const std::string& old_cert_pem) {
  auto parse_cert = [](const std::string& pem) {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    return std::unique_ptr<X509, decltype(&X509_free)>(
        PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  };
  auto uris = [](X509* cert) {
    std::vector<std::string> out;
    auto* names = static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
      if (name->type != GEN_URI) continue;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.ia5)),
                       ASN1_STRING_length(name->d.ia5));
    }
    GENERAL_NAMES_free(names);
    return out;
  };
  auto cert = parse_cert(cert_pem);
  auto old_cert = parse_cert(old_cert_pem);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  absl::Status refused = absl::OkStatus();
  if (cert == nullptr || key == nullptr || X509_check_private_key(cert.get(), key.get()) != 1) {
    refused = absl::DataLossError("the relay sent a certificate that is not for this host's key");
  } else if (old_cert == nullptr || uris(cert.get()) != uris(old_cert.get())) {
    refused = absl::DataLossError("the relay sent a certificate for another identity");
  } else {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                  X509_STORE_free);
    std::unique_ptr<BIO, decltype(&BIO_free)> bundle(
        BIO_new_mem_buf(bundle_pem.data(), static_cast<int>(bundle_pem.size())), BIO_free);
    while (X509* ca = PEM_read_bio_X509(bundle.get(), nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(store.get(), ca);
      X509_free(ca);
    }
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                        X509_STORE_CTX_free);
    // Only the chain is in question: a host whose clock is a little behind
    // must not refuse a certificate that is not yet valid by its clock.
    X509_STORE_set_flags(store.get(), X509_V_FLAG_NO_CHECK_TIME);
    if (X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1 ||
        X509_verify_cert(ctx.get()) != 1) {
      refused = absl::DataLossError(
          "the relay sent a certificate that its own CA bundle does not verify");
    }
  }
  ERR_clear_error();
  if (!refused.ok()) {
    return absl::Status(refused.code(),
                        absl::StrCat(refused.message(),
                                     "; kept the current certificate. The relay may be "
                                     "misconfigured or not the farm's: tell the operator"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Validity> ReadValidity(const std::string& path) {
  absl::StatusOr<std::string> pem = certs::ReadPemFile(path, /*owner_only=*/false);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<identity::PeerCertificate> cert = identity::ParseCertificatePem(*pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("'", path, "': ", cert.status().message()));
  }
  return Validity{cert->not_before, cert->not_after};
}

absl::Time RenewalTime(const Validity& validity, double jitter) {
  absl::Time issued = std::min(validity.not_before + certs::kIssueBackdate, validity.not_after);
  absl::Duration lifetime = validity.not_after - issued;
  jitter = std::clamp(jitter, 0.0, 1.0);
  return issued + lifetime * 2 / 3 - lifetime * (jitter / 10);
}

absl::StatusOr<Renewed> RenewOnce(const std::string& relay_address,
                                  const identity::TlsFiles& files) {
  absl::StatusOr<std::string> key_pem = certs::ReadPemFile(files.key, /*owner_only=*/true);
  if (!key_pem.ok()) return key_pem.status();
  absl::Cleanup wipe = [&key_pem] { OPENSSL_cleanse(key_pem->data(), key_pem->size()); };
  absl::StatusOr<std::string> csr = certs::CsrForKey(*key_pem);
  if (!csr.ok()) return csr.status();
  absl::StatusOr<std::string> old_cert = certs::ReadPemFile(files.cert, false);
  if (!old_cert.ok()) return old_cert.status();

  auto stub =
      bowden::v1::IdentityService::NewStub(transport::MakeRelayChannel(relay_address, files));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
  bowden::v1::RenewRequest request;
  request.set_csr_pem(*csr);
  bowden::v1::RenewResponse response;
  grpc::Status status = stub->Renew(&context, request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(transport::DescribeCallError(status, relay_address));
  }
  // The certificate for the key we hold, or nothing: a mismatch would leave
  // the peer unable to authenticate.
  const std::string& bundle_pem =
      response.ca_pem().empty() ? ReadFileOrEmpty(files.ca) : response.ca_pem();
  absl::Status checked =
      CheckRenewedCertificate(response.certificate_pem(), bundle_pem, *key_pem, *old_cert);
  if (!checked.ok()) return checked;
  absl::Status written = Replace(files.cert, response.certificate_pem());
  if (!written.ok()) return written;
  Renewed renewed;
  absl::StatusOr<std::string> old_bundle = certs::ReadPemFile(files.ca, false);
  if (!response.ca_pem().empty() && (!old_bundle.ok() || *old_bundle != response.ca_pem())) {
    absl::Status bundle = Replace(files.ca, response.ca_pem());
    if (!bundle.ok()) {
      renewed.warning = absl::StrCat(
          "renewed, but cannot update the CA bundle '", files.ca, "': ", bundle.message(),
          "; during a CA rotation give this host the farm's bundle.crt by hand");
    }
  }
  absl::StatusOr<Validity> validity = ReadValidity(files.cert);
  if (!validity.ok()) return validity.status();
  renewed.validity = *validity;
  return renewed;
}

CertificateRenewer::CertificateRenewer(std::string relay_address, identity::TlsFiles files,
                                       RenewalReport report)
    : relay_address_(std::move(relay_address)),
      files_(std::move(files)),
      report_(std::move(report)),
      thread_([this] { Run(); }) {}

CertificateRenewer::~CertificateRenewer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

bool CertificateRenewer::WaitUntil(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&stopping_), deadline);
  return !stopping_;
}

void CertificateRenewer::Run() {
  absl::BitGen random;
  absl::Duration retry = kFirstRetry;
  bool reported_expiry = false;
  while (true) {
    absl::StatusOr<Validity> validity = ReadValidity(files_.cert);
    if (!validity.ok()) {
      report_(true, absl::StrCat("cannot read the certificate to renew it: ",
                                 validity.status().message()));
      if (!WaitUntil(absl::Now() + kMaxRetry)) return;
      continue;
    }
    absl::Time due = RenewalTime(*validity, absl::Uniform(random, 0.0, 1.0));
    if (absl::Now() < due) {
      report_(false, absl::StrCat("certificate valid until ",
                                  absl::FormatTime(validity->not_after), "; renewing at ",
                                  absl::FormatTime(due)));
      if (!WaitUntil(due)) return;
    }
    absl::StatusOr<Renewed> renewed = RenewOnce(relay_address_, files_);
    if (renewed.ok()) {
      report_(false, absl::StrCat("renewed the certificate: valid until ",
                                  absl::FormatTime(renewed->validity.not_after)));
      if (!renewed->warning.empty()) report_(true, renewed->warning);
      retry = kFirstRetry;
      reported_expiry = false;
      continue;
    }
    absl::Time now = absl::Now();
    if (now >= validity->not_after) {
      if (!reported_expiry) {
        report_(true, absl::StrCat("the certificate ", files_.cert, " expired at ",
                                   absl::FormatTime(validity->not_after),
                                   " before it could be renewed (", renewed.status().message(),
                                   "); the relay will refuse it: get a join token from the "
                                   "farm operator and enroll again. Still retrying."));
        reported_expiry = true;
      }
    } else {
      report_(true, absl::StrCat("cannot renew the certificate (valid for ",
                                 absl::FormatDuration(
                                     absl::Trunc(validity->not_after - now, absl::Seconds(1))),
                                 " more): ", renewed.status().message(), "; retrying in ",
                                 absl::FormatDuration(retry)));
    }
    if (!WaitUntil(now + retry)) return;
    retry = std::min(retry * 2, kMaxRetry);
  }
}

}  // namespace bowden::enroll
