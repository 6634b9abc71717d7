#include "identity/relay_name.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bowden::identity {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct NamesFree {
  void operator()(GENERAL_NAMES* n) const { GENERAL_NAMES_free(n); }
};

// The host of "HOST:PORT", "[V6]:PORT" or a bare host.
std::string HostOf(absl::string_view target) {
  if (!target.empty() && target.front() == '[') {
    size_t close = target.find(']');
    return std::string(target.substr(
        1, close == absl::string_view::npos ? target.npos : close - 1));
  }
  size_t colon = target.find(':');
  if (colon != absl::string_view::npos &&
      target.find(':', colon + 1) == target.npos) {
    return std::string(target.substr(0, colon));
  }
  return std::string(target);  // a bare host, or a bare IPv6 address
}

// The DNS names and IP addresses of `cert`'s subjectAltName, for people.
std::vector<std::string> NamesOf(X509* cert) {
  std::vector<std::string> out;
  std::unique_ptr<GENERAL_NAMES, NamesFree> names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names.get());
       ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type == GEN_DNS) {
      out.emplace_back(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.dNSName)),
          ASN1_STRING_length(name->d.dNSName));
    } else if (name->type == GEN_IPADD) {
      const int length = ASN1_STRING_length(name->d.iPAddress);
      char text[INET6_ADDRSTRLEN] = {};
      if ((length == 4 || length == 16) &&
          inet_ntop(length == 4 ? AF_INET : AF_INET6,
                    ASN1_STRING_get0_data(name->d.iPAddress), text,
                    sizeof(text)) != nullptr) {
        out.emplace_back(text);
      }
    }
  }
  return out;
}

}  // namespace

std::string RelayNameMismatch(absl::string_view target,
                              absl::string_view cert_pem) {
  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (cert == nullptr) return "the relay presented no readable certificate";
  const std::string host = HostOf(target);
  unsigned char address[16];
  bool matches;
  if (inet_pton(AF_INET, host.c_str(), address) == 1) {
    matches = X509_check_ip(cert.get(), address, 4, 0) == 1;
  } else if (inet_pton(AF_INET6, host.c_str(), address) == 1) {
    matches = X509_check_ip(cert.get(), address, 16, 0) == 1;
  } else {
    matches =
        X509_check_host(cert.get(), host.data(), host.size(),
                        X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
  }
  if (matches) return "";
  std::vector<std::string> names = NamesOf(cert.get());
  return absl::StrCat(
      "the relay's certificate is not for ", host, " (it names ",
      names.empty() ? "no host" : absl::StrJoin(names, ", "),
      "): use --relay with a name in its certificate, or issue the relay a "
      "certificate "
      "for ",
      host, " (`bowden ca issue ... relay NAME --dns NAME --ip ADDRESS`)");
}

bool RelayNameVerifier::Verify(
    grpc::experimental::TlsCustomVerificationCheckRequest* request,
    std::function<void(grpc::Status)> /*callback*/, grpc::Status* sync_status) {
  grpc::string_ref target = request->target_name();
  grpc::string_ref pem = request->peer_cert();
  std::string mismatch =
      RelayNameMismatch(absl::string_view(target.data(), target.size()),
                        absl::string_view(pem.data(), pem.size()));
  *sync_status =
      mismatch.empty()
          ? grpc::Status::OK
          : grpc::Status(grpc::StatusCode::UNAUTHENTICATED, mismatch);
  return true;  // decided synchronously
}

}  // namespace bowden::identity
