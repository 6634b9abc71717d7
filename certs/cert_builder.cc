#include "certs/cert_builder.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace bowden::certs {
namespace {

using Asn1StringPtr = OpenSslPtr<ASN1_STRING, ASN1_STRING_free>;
using AuthorityKeyIdPtr = OpenSslPtr<AUTHORITY_KEYID, AUTHORITY_KEYID_free>;
using BasicConstraintsPtr =
    OpenSslPtr<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free>;
using BignumPtr = OpenSslPtr<BIGNUM, BN_free>;
using EvpPkeyCtxPtr = OpenSslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using ExtKeyUsagePtr = OpenSslPtr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;
using GeneralNamePtr = OpenSslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using GeneralNamesPtr = OpenSslPtr<GENERAL_NAMES, GENERAL_NAMES_free>;
using X509NamePtr = OpenSslPtr<X509_NAME, X509_NAME_free>;

absl::Status AddExtension(X509* cert, int nid, void* value, bool critical) {
  if (X509_add1_ext_i2d(cert, nid, value, critical ? 1 : 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslError(absl::StrCat("adding extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

// RFC 5280 section 4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits.
// SHA-1 is an identifier here, not a signature: a collision could only confuse
// chain building, and verifiers expect exactly this form.
absl::StatusOr<std::string> PublicKeyId(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_pubkey_digest(cert, EVP_sha1(), md, &len) != 1) {
    return OpenSslError("hashing the public key");
  }
  return std::string(reinterpret_cast<char*>(md), len);
}

bool SetOctets(ASN1_STRING* s, absl::string_view bytes) {
  return ASN1_STRING_set(s, bytes.data(), static_cast<int>(bytes.size())) == 1;
}

// Appends a URI or DNS name (IA5String) or an IP address (OCTET STRING).
absl::Status AddGeneralName(GENERAL_NAMES* names, int type,
                            absl::string_view value) {
  GeneralNamePtr gen(GENERAL_NAME_new());
  Asn1StringPtr str(type == GEN_IPADD ? ASN1_OCTET_STRING_new()
                                      : ASN1_IA5STRING_new());
  if (!gen || !str || !SetOctets(str.get(), value)) {
    return OpenSslError("building a subjectAltName entry");
  }
  GENERAL_NAME_set0_value(gen.get(), type, str.release());
  if (sk_GENERAL_NAME_push(names, gen.get()) == 0) {
    return OpenSslError("building subjectAltName");
  }
  gen.release();  // Owned by `names` now.
  return absl::OkStatus();
}

// Never prompt on the terminal for a passphrase: an encrypted key simply fails
// to parse, and the error says so.
int NoPassphrase(char*, int, int, void*) { return 0; }

template <typename WriteFn>
absl::StatusOr<BioPtr> ToPem(WriteFn write, absl::string_view what) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !write(bio.get())) {
    return OpenSslError(absl::StrCat("encoding ", what, " as PEM"));
  }
  return bio;
}

}  // namespace

std::string DrainOpenSslErrors() {
  std::string out;
  while (const unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? "no OpenSSL error recorded" : out;
}

absl::Status OpenSslError(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat(what, " failed (", DrainOpenSslErrors(), ")"));
}

absl::StatusOr<EvpPkeyPtr> GenerateP256Key() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_EC, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), NID_X9_62_prime256v1) <=
          0) {
    return OpenSslError("setting up P-256 key generation");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &raw) <= 0) {
    return OpenSslError("generating a P-256 key");
  }
  return EvpPkeyPtr(raw);
}

absl::StatusOr<X509Ptr> NewCertificate(EVP_PKEY* key,
                                       absl::string_view common_name,
                                       absl::Time not_before,
                                       absl::Time not_after) {
  X509Ptr cert(X509_new());
  X509NamePtr subject(X509_NAME_new());
  if (!cert || !subject || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_NAME_add_entry_by_NID(
          subject.get(), NID_commonName, MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.data()),
          static_cast<int>(common_name.size()), -1, 0) != 1 ||
      X509_set_subject_name(cert.get(), subject.get()) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return OpenSslError("building a certificate");
  }
  // 16 random bytes with the top bit cleared, so the DER INTEGER is positive
  // (RFC 5280 section 4.1.2.2), and the next bit set, so it is never zero and
  // always encodes in exactly 16 bytes. 126 random bits: no collisions.
  uint8_t serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) {
    return OpenSslError("drawing a random serial");
  }
  serial[0] = (serial[0] & 0x7f) | 0x40;
  BignumPtr bn(BN_bin2bn(serial, sizeof(serial), nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get()))) {
    return OpenSslError("setting the serial number");
  }
  // ASN1_TIME_set picks UTCTime before 2050 and GeneralizedTime after, as RFC
  // 5280 section 4.1.2.5 requires.
  if (!ASN1_TIME_set(X509_getm_notBefore(cert.get()),
                     absl::ToTimeT(not_before)) ||
      !ASN1_TIME_set(X509_getm_notAfter(cert.get()),
                     absl::ToTimeT(not_after))) {
    return OpenSslError("setting the validity period");
  }
  return cert;
}

absl::Status AddBasicConstraints(X509* cert, bool is_ca) {
  BasicConstraintsPtr bc(BASIC_CONSTRAINTS_new());
  if (!bc) return OpenSslError("allocating basicConstraints");
  if (is_ca) {
    // DER encodes TRUE as 0xff, and OpenSSL writes this field's value as-is.
    bc->ca = 0xff;
    bc->pathlen = ASN1_INTEGER_new();
    if (!bc->pathlen || ASN1_INTEGER_set(bc->pathlen, 0) != 1) {
      return OpenSslError("setting pathlen");
    }
  }
  return AddExtension(cert, NID_basic_constraints, bc.get(), true);
}

absl::Status AddKeyUsage(X509* cert, std::initializer_list<int> bits) {
  Asn1StringPtr usage(ASN1_BIT_STRING_new());
  if (!usage) return OpenSslError("allocating keyUsage");
  for (int bit : bits) {
    if (ASN1_BIT_STRING_set_bit(usage.get(), bit, 1) != 1) {
      return OpenSslError("setting a keyUsage bit");
    }
  }
  return AddExtension(cert, NID_key_usage, usage.get(), true);
}

absl::Status AddExtendedKeyUsage(X509* cert, std::initializer_list<int> nids) {
  ExtKeyUsagePtr usage(sk_ASN1_OBJECT_new_null());
  if (!usage) return OpenSslError("allocating extendedKeyUsage");
  for (int nid : nids) {
    // OBJ_nid2obj returns a static object, which ASN1_OBJECT_free ignores.
    if (sk_ASN1_OBJECT_push(usage.get(), OBJ_nid2obj(nid)) == 0) {
      return OpenSslError("building extendedKeyUsage");
    }
  }
  return AddExtension(cert, NID_ext_key_usage, usage.get(), false);
}

absl::Status AddKeyIdentifiers(X509* cert, X509* issuer) {
  absl::StatusOr<std::string> own_id = PublicKeyId(cert);
  if (!own_id.ok()) return own_id.status();
  std::string issuer_id = *own_id;
  if (issuer != nullptr) {
    // Must equal the issuer's own SKI when it has one, whatever its method.
    if (const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(issuer)) {
      issuer_id.assign(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(ski)),
          static_cast<size_t>(ASN1_STRING_length(ski)));
    } else {
      absl::StatusOr<std::string> id = PublicKeyId(issuer);
      if (!id.ok()) return id.status();
      issuer_id = *std::move(id);
    }
  }
  Asn1StringPtr ski(ASN1_OCTET_STRING_new());
  AuthorityKeyIdPtr aki(AUTHORITY_KEYID_new());
  if (!ski || !aki || !SetOctets(ski.get(), *own_id)) {
    return OpenSslError("building subjectKeyIdentifier");
  }
  aki->keyid = ASN1_OCTET_STRING_new();
  if (aki->keyid == nullptr || !SetOctets(aki->keyid, issuer_id)) {
    return OpenSslError("building authorityKeyIdentifier");
  }
  absl::Status s =
      AddExtension(cert, NID_subject_key_identifier, ski.get(), false);
  if (!s.ok()) return s;
  return AddExtension(cert, NID_authority_key_identifier, aki.get(), false);
}

absl::Status AddSubjectAltNames(X509* cert, absl::string_view uri,
                                const std::vector<std::string>& dns,
                                const std::vector<std::string>& ip_bytes) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return OpenSslError("allocating subjectAltName");
  absl::Status s = AddGeneralName(names.get(), GEN_URI, uri);
  for (const std::string& name : dns) {
    if (s.ok()) s = AddGeneralName(names.get(), GEN_DNS, name);
  }
  for (const std::string& ip : ip_bytes) {
    if (s.ok()) s = AddGeneralName(names.get(), GEN_IPADD, ip);
  }
  if (!s.ok()) return s;
  return AddExtension(cert, NID_subject_alt_name, names.get(), false);
}

std::vector<std::string> UriSans(const X509* cert) {
  std::vector<std::string> uris;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gen = sk_GENERAL_NAME_value(names.get(), i);
    if (gen->type != GEN_URI) continue;
    const ASN1_STRING* s = gen->d.uniformResourceIdentifier;
    uris.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                      static_cast<size_t>(ASN1_STRING_length(s)));
  }
  ERR_clear_error();  // A missing extension is an answer, not an error.
  return uris;
}

absl::StatusOr<X509Ptr> ParseCertificatePem(absl::string_view pem,
                                            absl::string_view path) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("allocating a BIO");
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!cert) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " holds no PEM certificate (", DrainOpenSslErrors(),
                     "): restore it or delete it"));
  }
  return cert;
}

absl::StatusOr<EvpPkeyPtr> ParsePrivateKeyPem(absl::string_view pem,
                                              absl::string_view path) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("allocating a BIO");
  EvpPkeyPtr key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " holds no unencrypted PEM private key (",
                     DrainOpenSslErrors(), "): restore it from your backup"));
  }
  return key;
}

absl::StatusOr<BioPtr> PrivateKeyToPkcs8Pem(EVP_PKEY* key) {
  return ToPem(
      [key](BIO* bio) {
        return PEM_write_bio_PKCS8PrivateKey(bio, key, nullptr, nullptr, 0,
                                             nullptr, nullptr) == 1;
      },
      "the private key");
}

absl::StatusOr<BioPtr> CertificateToPem(X509* cert) {
  return ToPem([cert](BIO* bio) { return PEM_write_bio_X509(bio, cert) == 1; },
               "the certificate");
}

absl::string_view BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return absl::string_view(data, len > 0 ? static_cast<size_t>(len) : 0);
}

}  // namespace bowden::certs
