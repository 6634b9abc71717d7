#include "certs/test_x509.h"

#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace bowden::certs::test_x509 {
namespace {

using KeyCtxPtr =
    std::unique_ptr<EVP_PKEY_CTX, Free<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

BIO* MemBuf(const std::string& s) {
  return BIO_new_mem_buf(s.data(), static_cast<int>(s.size()));
}

std::string Contents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

std::string ToPem(X509_REQ* req) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509_REQ(bio.get(), req) != 1) return "";
  return Contents(bio.get());
}

}  // namespace

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t Mode(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

X509Ptr ParseCert(const std::string& pem) {
  BioPtr bio(MemBuf(pem));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}
ReqPtr ParseCsr(const std::string& pem) {
  BioPtr bio(MemBuf(pem));
  return ReqPtr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
}
KeyPtr ParseKey(const std::string& pem) {
  BioPtr bio(MemBuf(pem));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

std::string Spki(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(key, &der);
  std::string out(reinterpret_cast<char*>(der), len > 0 ? len : 0);
  OPENSSL_free(der);
  return out;
}
std::string CertSpki(X509* cert) { return Spki(X509_get0_pubkey(cert)); }
std::string CsrSpki(const std::string& pem) {
  ReqPtr req = ParseCsr(pem);
  return req ? Spki(X509_REQ_get0_pubkey(req.get())) : "";
}

KeyPtr GenerateKey(int id, int param) {
  KeyCtxPtr ctx(EVP_PKEY_CTX_new_id(id, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) return nullptr;
  if (id == EVP_PKEY_EC &&
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), param) <= 0) {
    return nullptr;
  }
  if (id == EVP_PKEY_RSA &&
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), param) <= 0) {
    return nullptr;
  }
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &key) <= 0) return nullptr;
  return KeyPtr(key);
}

std::string PrivateKeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return "";
  }
  return Contents(bio.get());
}

std::string MakeCsr(
    EVP_PKEY* key, const std::string& cn,
    const std::vector<std::pair<int, std::string>>& extensions) {
  ReqPtr req(X509_REQ_new());
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.data()),
                             cn.size(), -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  for (const auto& [nid, value] : extensions) {
    sk_X509_EXTENSION_push(
        exts, X509V3_EXT_conf_nid(nullptr, nullptr, nid, value.c_str()));
  }
  if (!extensions.empty()) X509_REQ_add_extensions(req.get(), exts);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  // Ed25519 signs without a separate digest.
  const EVP_MD* md =
      EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256();
  if (X509_REQ_sign(req.get(), key, md) <= 0) return "";
  return ToPem(req.get());
}

std::string IssueCert(X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* key, const std::string& cn,
                      const std::vector<std::pair<int, std::string>>& extensions) {
  return IssueCertValid(issuer, issuer_key, key, cn, -3600, 24 * 3600,
                        extensions);
}

std::string IssueCertValid(
    X509* issuer, EVP_PKEY* issuer_key, EVP_PKEY* key, const std::string& cn,
    long not_before, long not_after,
    const std::vector<std::pair<int, std::string>>& extensions) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 0x7e57);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), not_before);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), not_after);
  X509_NAME_add_entry_by_NID(X509_get_subject_name(cert.get()), NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.data()), cn.size(), -1,
                             0);
  if (issuer == nullptr) issuer = cert.get();  // self-signed
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer));
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : extensions) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr || X509_add_ext(cert.get(), ext, -1) != 1) {
      X509_EXTENSION_free(ext);
      return "";
    }
    X509_EXTENSION_free(ext);
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(bio.get(), cert.get()) != 1) return "";
  return Contents(bio.get());
}

std::string DerToCsrPem(const std::string& der) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio(bio.get(), "CERTIFICATE REQUEST", "",
                reinterpret_cast<const unsigned char*>(der.data()), der.size());
  return Contents(bio.get());
}
std::string CsrDer(const std::string& pem) {
  ReqPtr req = ParseCsr(pem);
  unsigned char* der = nullptr;
  const int len = i2d_X509_REQ(req.get(), &der);
  std::string out(reinterpret_cast<char*>(der), len > 0 ? len : 0);
  OPENSSL_free(der);
  return out;
}

std::vector<std::string> Sans(X509* cert, int type) {
  std::vector<std::string> out;
  auto* names = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names, i);
    if (gen->type != type) continue;
    const ASN1_STRING* s = gen->d.ia5;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     ASN1_STRING_length(s));
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string CommonName(X509_NAME* name) {
  char buf[128] = {};
  X509_NAME_get_text_by_NID(name, NID_commonName, buf, sizeof(buf));
  return buf;
}

int Verify(X509* ca, X509* leaf, int purpose) {
  std::unique_ptr<X509_STORE, Free<X509_STORE, X509_STORE_free>> store(
      X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX, X509_STORE_CTX_free>>
      ctx(X509_STORE_CTX_new());
  if (X509_STORE_add_cert(store.get(), ca) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1 ||
      X509_STORE_CTX_set_purpose(ctx.get(), purpose) != 1) {
    return -1;
  }
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

std::vector<std::pair<int, int>> Extensions(X509* cert) {
  std::vector<std::pair<int, int>> out;
  for (int i = 0; i < X509_get_ext_count(cert); ++i) {
    X509_EXTENSION* ext = X509_get_ext(cert, i);
    out.emplace_back(OBJ_obj2nid(X509_EXTENSION_get_object(ext)),
                     X509_EXTENSION_get_critical(ext));
  }
  return out;
}

}  // namespace bowden::certs::test_x509
