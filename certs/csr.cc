#include "certs/csr.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "certs/ca.h"
#include "certs/cert_builder.h"
#include "certs/pem_files.h"

namespace bowden::certs {
namespace {

using X509NamePtr = OpenSslPtr<X509_NAME, X509_NAME_free>;
using X509ReqPtr = OpenSslPtr<X509_REQ, X509_REQ_free>;

// The DER SubjectPublicKeyInfo of every P-256 key in its standard form is
// these 27 bytes (SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING, no
// unused bits, 0x04 = uncompressed point) followed by the 64 bytes of X and Y.
constexpr unsigned char kP256SpkiPrefix[] = {
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
constexpr size_t kP256SpkiSize = sizeof(kP256SpkiPrefix) + 64;

// Never prompt on the terminal for a passphrase: an encrypted key simply fails
// to parse.
int NoPassphrase(char*, int, int, void*) { return 0; }

absl::StatusOr<BioPtr> ReadOnlyBio(absl::string_view pem,
                                   absl::string_view what) {
  // Also keeps the size within BIO_new_mem_buf's int.
  if (pem.size() > kMaxPemArgumentBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is ", pem.size(), " bytes, more than the ",
                     kMaxPemArgumentBytes, " a PEM object of ours can be"));
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("allocating a BIO");
  return bio;
}

// What a rejected key is, for the error message: "RSA-2048", "EC with a
// 384-bit curve", ...
std::string DescribeKey(EVP_PKEY* key) {
  const int bits = EVP_PKEY_bits(key);
  switch (EVP_PKEY_id(key)) {
    case EVP_PKEY_RSA:
      return absl::StrCat("RSA-", bits);
    case EVP_PKEY_EC:
      if (bits == 256) {
        return "a 256-bit EC key that is not P-256 as a named curve with an "
               "uncompressed point";
      }
      return absl::StrCat("EC with a ", bits, "-bit curve");
    case EVP_PKEY_ED25519:
      return "Ed25519";
    default: {
      const char* name = OBJ_nid2sn(EVP_PKEY_id(key));
      return name != nullptr ? name : "an unknown key type";
    }
  }
}

absl::Status WrongKeyType(absl::string_view got) {
  return absl::InvalidArgumentError(absl::StrCat(
      "wrong key type: Bowden certificates use EC P-256 keys, got ", got));
}

}  // namespace

absl::Status CheckP256Key(EVP_PKEY* key) {
  const int len = i2d_PUBKEY(key, nullptr);
  std::string der(len > 0 ? static_cast<size_t>(len) : 0, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(der.data());
  if (len <= 0 || i2d_PUBKEY(key, &out) != len) {
    ERR_clear_error();
    return WrongKeyType("a public key OpenSSL cannot encode");
  }
  const absl::string_view prefix(reinterpret_cast<const char*>(kP256SpkiPrefix),
                                 sizeof(kP256SpkiPrefix));
  if (der.size() == kP256SpkiSize &&
      absl::string_view(der).substr(0, prefix.size()) == prefix) {
    return absl::OkStatus();
  }
  return WrongKeyType(DescribeKey(key));
}

absl::StatusOr<std::string> CsrPem(EVP_PKEY* key,
                                   absl::string_view common_name) {
  X509ReqPtr req(X509_REQ_new());
  X509NamePtr subject(X509_NAME_new());
  if (!req || !subject ||
      X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 ||
      X509_NAME_add_entry_by_NID(
          subject.get(), NID_commonName, MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.data()),
          static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_REQ_set_subject_name(req.get(), subject.get()) != 1 ||
      X509_REQ_set_pubkey(req.get(), key) != 1) {
    return OpenSslError("building a certificate request");
  }
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) {
    return OpenSslError("signing the certificate request");
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), req.get()) != 1) {
    return OpenSslError("encoding the certificate request as PEM");
  }
  return std::string(BioContents(bio.get()));
}

namespace {

// The first PEM CSR in `csr_pem`, parsed but not yet checked.
absl::StatusOr<X509ReqPtr> ParseCsr(absl::string_view csr_pem) {
  absl::StatusOr<BioPtr> bio = ReadOnlyBio(csr_pem, "the CSR");
  if (!bio.ok()) return bio.status();
  X509ReqPtr req(
      PEM_read_bio_X509_REQ(bio->get(), nullptr, NoPassphrase, nullptr));
  if (!req) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM certificate request (", DrainOpenSslErrors(),
                     "): send the CSR that `bowden login` or `bowden-agent ",
                     "enroll` made"));
  }
  return req;
}

}  // namespace

absl::StatusOr<EvpPkeyPtr> VerifiedCsrPublicKey(absl::string_view csr_pem) {
  absl::StatusOr<X509ReqPtr> parsed = ParseCsr(csr_pem);
  if (!parsed.ok()) return parsed.status();
  X509ReqPtr req = *std::move(parsed);
  EvpPkeyPtr key(X509_REQ_get_pubkey(req.get()));
  if (!key) {
    return WrongKeyType(
        absl::StrCat("a key OpenSSL cannot read (", DrainOpenSslErrors(), ")"));
  }
  // Proof of possession: only the holder of the private key can have signed
  // the request, so the CA never certifies a key someone merely copied.
  if (X509_REQ_verify(req.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the CSR's signature does not verify with its own public key (",
        DrainOpenSslErrors(), "): it was altered after signing; make a new ",
        "one"));
  }
  if (absl::Status s = CheckP256Key(key.get()); !s.ok()) return s;
  return key;
}

absl::Status CheckCsrAsksOnlyFor(absl::string_view csr_pem, absl::string_view name,
                                 absl::string_view spiffe_id) {
  absl::StatusOr<X509ReqPtr> parsed = ParseCsr(csr_pem);
  if (!parsed.ok()) return parsed.status();
  X509ReqPtr req = *std::move(parsed);
  const auto refuse = [&](absl::string_view asked) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the CSR asks for ", asked, ", but this certificate is for ", spiffe_id,
        ": a token or certificate cannot be used for another identity"));
  };
  char cn[256] = {};
  X509_NAME* subject = X509_REQ_get_subject_name(req.get());
  if (subject != nullptr &&
      X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof(cn)) >= 0 &&
      cn != kEnrollmentCsrName && cn != name) {
    return refuse(absl::StrCat("the name '", cn, "'"));
  }
  STACK_OF(X509_EXTENSION)* extensions = X509_REQ_get_extensions(req.get());
  GENERAL_NAMES* names = static_cast<GENERAL_NAMES*>(
      X509V3_get_d2i(extensions, NID_subject_alt_name, nullptr, nullptr));
  sk_X509_EXTENSION_pop_free(extensions, X509_EXTENSION_free);
  absl::Status status = absl::OkStatus();
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names) && status.ok(); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names, i);
    if (gen->type != GEN_URI) {
      status = refuse("a DNS name, IP address or other alternative name");
      continue;
    }
    absl::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gen->d.ia5)),
                          ASN1_STRING_length(gen->d.ia5));
    if (uri != spiffe_id) status = refuse(absl::StrCat("'", uri, "'"));
  }
  GENERAL_NAMES_free(names);
  ERR_clear_error();
  return status;
}

absl::StatusOr<std::pair<std::string, std::string>> NewKeyAndCsr() {
  ERR_clear_error();
  absl::StatusOr<EvpPkeyPtr> key = GenerateP256Key();
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> csr = CsrPem(key->get(), kEnrollmentCsrName);
  if (!csr.ok()) return csr.status();
  absl::StatusOr<BioPtr> key_pem = PrivateKeyToPkcs8Pem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return std::make_pair(std::string(BioContents(key_pem->get())),
                        *std::move(csr));
}

absl::StatusOr<std::string> CsrForKey(absl::string_view key_pem) {
  ERR_clear_error();
  absl::StatusOr<BioPtr> bio = ReadOnlyBio(key_pem, "the private key");
  if (!bio.ok()) return bio.status();
  EvpPkeyPtr key(
      PEM_read_bio_PrivateKey(bio->get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not an unencrypted PEM private key (", DrainOpenSslErrors(), ")"));
  }
  if (absl::Status s = CheckP256Key(key.get()); !s.ok()) return s;
  return CsrPem(key.get(), kEnrollmentCsrName);
}

absl::StatusOr<std::string> GenerateKeyAndCsr(const std::string& key_path) {
  absl::StatusOr<std::pair<std::string, std::string>> key_and_csr =
      NewKeyAndCsr();
  if (!key_and_csr.ok()) return key_and_csr.status();
  std::string& key_pem = key_and_csr->first;
  absl::Cleanup wipe = [&key_pem] {
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
  };
  // mkostemp() creates the staged file 0600, so the key is never readable by
  // others, and rename() means a reader sees the old key or the new one.
  absl::StatusOr<StagedFile> file = StagedFile::Create(key_path, key_pem, 0600);
  if (!file.ok()) return file.status();
  if (absl::Status s = file->Commit(Overwrite::kReplace); !s.ok()) return s;
  return std::move(key_and_csr->second);
}

absl::StatusOr<std::string> CertificateFingerprint(absl::string_view cert_pem) {
  ERR_clear_error();
  absl::StatusOr<BioPtr> bio = ReadOnlyBio(cert_pem, "the certificate");
  if (!bio.ok()) return bio.status();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, NoPassphrase, nullptr));
  if (!cert) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM certificate (", DrainOpenSslErrors(), ")"));
  }
  const int len = i2d_X509(cert.get(), nullptr);
  std::string der(len > 0 ? static_cast<size_t>(len) : 0, '\0');
  unsigned char* out = reinterpret_cast<unsigned char*>(der.data());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (len <= 0 || i2d_X509(cert.get(), &out) != len ||
      EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha256(), nullptr) !=
          1) {
    return OpenSslError("hashing the certificate");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(md), md_len));
}

absl::StatusOr<std::string> BundleFingerprint(absl::string_view bundle_pem) {
  ERR_clear_error();
  absl::StatusOr<BioPtr> bio = ReadOnlyBio(bundle_pem, "the CA bundle");
  if (!bio.ok()) return bio.status();
  std::string ders;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, NoPassphrase, nullptr));
    if (!cert) break;
    const int len = i2d_X509(cert.get(), nullptr);
    if (len <= 0) return OpenSslError("encoding a certificate of the bundle");
    std::string der(static_cast<size_t>(len), '\0');
    unsigned char* out = reinterpret_cast<unsigned char*>(der.data());
    if (i2d_X509(cert.get(), &out) != len) return OpenSslError("encoding a certificate");
    ders += der;
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (ders.empty()) {
    return absl::InvalidArgumentError("not a PEM certificate bundle (no certificate in it)");
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (EVP_Digest(ders.data(), ders.size(), md, &md_len, EVP_sha256(), nullptr) != 1) {
    return OpenSslError("hashing the CA bundle");
  }
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), md_len));
}

namespace {

// The DER SubjectPublicKeyInfo of `key`: equal bytes, equal keys.
std::string SpkiDer(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  std::string out(reinterpret_cast<char*>(der), length > 0 ? length : 0);
  OPENSSL_free(der);
  return out;
}

}  // namespace

absl::Status CheckCsrKeepsKeyOf(absl::string_view csr_pem, absl::string_view cert_pem) {
  absl::StatusOr<EvpPkeyPtr> asked = VerifiedCsrPublicKey(csr_pem);
  if (!asked.ok()) return asked.status();
  absl::StatusOr<X509Ptr> cert = ParseCertificatePem(cert_pem, "the current certificate");
  if (!cert.ok()) return cert.status();
  const std::string held = SpkiDer(X509_get0_pubkey(cert->get()));
  if (held.empty() || SpkiDer(asked->get()) != held) {
    return absl::PermissionDeniedError(
        "the CSR is for another key than the certificate you authenticated with: renewal "
        "keeps the key; for a new key, enroll again with a join token");
  }
  return absl::OkStatus();
}

}  // namespace bowden::certs
