#include "identity/client_chain.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "glog/logging.h"
#include "identity/peer.h"

namespace bowden::identity {
namespace {

// A client sends its leaf and perhaps an intermediate or two; anything much
// longer is not a Bowden chain, and parsing it costs the relay time.
constexpr int kMaxChainCertificates = 8;

template <typename T, void (*kFree)(T*)>
struct Free {
  void operator()(T* p) const { kFree(p); }
};
using BioPtr = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Free<X509, X509_free>>;
using StoreCtxPtr =
    std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX, X509_STORE_CTX_free>>;

void FreeCertStack(STACK_OF(X509) * stack) {
  sk_X509_pop_free(stack, X509_free);
}
using CertStackPtr =
    std::unique_ptr<STACK_OF(X509), Free<STACK_OF(X509), FreeCertStack>>;

BioPtr MemBio(absl::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Up to `limit` certificates from `pem`, in order. OpenSSL's "no more PEM"
// error is cleared, so it never decorates a later failure on this thread.
std::vector<X509Ptr> ParseCertificates(absl::string_view pem, int limit) {
  std::vector<X509Ptr> out;
  if (pem.empty()) return out;
  BioPtr bio = MemBio(pem);
  while (static_cast<int>(out.size()) < limit) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    out.push_back(std::move(cert));
  }
  ERR_clear_error();
  return out;
}

std::string Capped(std::string text) {
  if (text.size() > kMaxFactChars) {
    text.resize(kMaxFactChars - 3);
    text += "...";
  }
  return text;
}

// RFC 2253 with control characters and bytes above 0x7f escaped: a name the
// peer chose can go into a log line as it is.
std::string NameText(const X509_NAME* name) {
  if (name == nullptr) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return Capped(std::string(data, len > 0 ? static_cast<size_t>(len) : 0));
}

std::string TimeText(const ASN1_TIME* time) {
  absl::StatusOr<absl::Time> t = CertificateTime(time);
  if (!t.ok()) return "an unreadable date";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", *t, absl::UTCTimeZone());
}

// Takes `verdict` by reference so that arguments computed from it are read
// before it is moved from.
ChainVerdict Refuse(ChainVerdict& verdict, absl::string_view code,
                    std::string reason) {
  verdict.code = std::string(code);
  verdict.status = absl::UnauthenticatedError(std::move(reason));
  return std::move(verdict);
}

// Which of the SSL-client purpose's conditions `leaf` fails.
std::string WhyNotClientAuth(X509* leaf) {
  const uint32_t flags = X509_get_extension_flags(leaf);
  if ((flags & EXFLAG_XKUSAGE) &&
      !(X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT)) {
    return "its extendedKeyUsage lacks clientAuth";
  }
  if ((flags & EXFLAG_KUSAGE) &&
      !(X509_get_key_usage(leaf) & (KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT))) {
    return "its keyUsage allows neither digitalSignature nor keyAgreement";
  }
  return "its extensions do not allow TLS client use";
}

}  // namespace

struct ClientChainChecker::Bundle {
  ~Bundle() { X509_STORE_free(store); }
  X509_STORE* store = nullptr;
  absl::flat_hash_set<std::string> ca_names;  // NameText of each CA subject
};

bool ClientChainChecker::FileStamp::operator==(const FileStamp& o) const {
  return dev == o.dev && ino == o.ino && size == o.size &&
         mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec;
}

ClientChainChecker::ClientChainChecker(std::string bundle_path)
    : bundle_path_(std::move(bundle_path)) {}

ClientChainChecker::~ClientChainChecker() = default;

absl::StatusOr<std::unique_ptr<ClientChainChecker>> ClientChainChecker::Create(
    std::string bundle_path) {
  std::unique_ptr<ClientChainChecker> checker(
      new ClientChainChecker(std::move(bundle_path)));
  absl::MutexLock lock(&checker->mu_);
  struct stat st {};
  if (stat(checker->bundle_path_.c_str(), &st) == 0) {
    checker->stamp_ = {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  }
  absl::StatusOr<std::shared_ptr<const Bundle>> bundle =
      Load(checker->bundle_path_);
  if (!bundle.ok()) return bundle.status();
  checker->bundle_ = *std::move(bundle);
  return checker;
}

absl::StatusOr<std::shared_ptr<const ClientChainChecker::Bundle>>
ClientChainChecker::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the CA bundle '", path, "': check the path"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  // A bundle holds the current CA and, during a rotation, the previous one.
  std::vector<X509Ptr> cas = ParseCertificates(text.str(), 64);
  if (cas.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the CA bundle '", path,
                     "' holds no PEM certificate: pass the farm's bundle.crt"));
  }
  auto bundle = std::make_shared<Bundle>();
  bundle->store = X509_STORE_new();
  if (bundle->store == nullptr)
    return absl::ResourceExhaustedError("X509_STORE_new failed");
  for (const X509Ptr& ca : cas) {
    // A certificate listed twice is no error worth refusing the bundle for.
    X509_STORE_add_cert(bundle->store, ca.get());
    bundle->ca_names.insert(NameText(X509_get_subject_name(ca.get())));
  }
  ERR_clear_error();
  // As gRPC configures OpenSSL for its own verification: any certificate in
  // the bundle is an anchor, and trusted certificates are preferred when the
  // chain is built.
  X509_STORE_set_flags(bundle->store,
                       X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_TRUSTED_FIRST);
  return std::shared_ptr<const Bundle>(std::move(bundle));
}

std::shared_ptr<const ClientChainChecker::Bundle>
ClientChainChecker::Current() {
  // stat() before reading: a file still being written changes again, and is
  // then read again.
  FileStamp now;
  struct stat st {};
  if (stat(bundle_path_.c_str(), &st) == 0)
    now = {st.st_dev, st.st_ino, st.st_size, st.st_mtim};
  absl::MutexLock lock(&mu_);
  if (now == stamp_) return bundle_;
  stamp_ = now;
  absl::StatusOr<std::shared_ptr<const Bundle>> loaded = Load(bundle_path_);
  if (!loaded.ok()) {
    LOG(WARNING) << "keeping the previous CA bundle for client certificates: "
                 << loaded.status().message();
    return bundle_;
  }
  bundle_ = *std::move(loaded);
  LOG(INFO) << "client certificates are now checked against " << bundle_path_
            << " (" << bundle_->ca_names.size() << " CA(s))";
  return bundle_;
}

ChainVerdict ClientChainChecker::Check(absl::string_view leaf_pem,
                                       absl::string_view chain_pem) {
  ChainVerdict verdict;
  std::vector<X509Ptr> leaves = ParseCertificates(leaf_pem, 1);
  if (leaves.empty()) {
    return Refuse(verdict, "unreadable",
                  "the client certificate cannot be read as X.509");
  }
  X509* leaf = leaves[0].get();
  absl::StatusOr<PeerCertificate> described = DescribeCertificate(leaf);
  verdict.leaf.subject = NameText(X509_get_subject_name(leaf));
  verdict.leaf.issuer = NameText(X509_get_issuer_name(leaf));
  verdict.leaf.not_after = TimeText(X509_get0_notAfter(leaf));
  if (!described.ok()) {
    return Refuse(verdict, "unreadable",
                  absl::StrCat("the client certificate is malformed (",
                               described.status().message(), ")"));
  }
  verdict.leaf.serial_hex = Capped(described->serial_hex);

  // On the server OpenSSL's peer chain leaves the leaf out, BoringSSL's keeps
  // it; either way the leaf is not its own intermediate.
  CertStackPtr untrusted(sk_X509_new_null());
  for (X509Ptr& cert : ParseCertificates(chain_pem, kMaxChainCertificates)) {
    if (X509_cmp(cert.get(), leaf) == 0) continue;
    if (sk_X509_push(untrusted.get(), cert.get()) == 0) break;
    cert.release();  // owned by the stack now
  }

  std::shared_ptr<const Bundle> bundle = Current();
  StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx ||
      X509_STORE_CTX_init(ctx.get(), bundle->store, leaf, untrusted.get()) !=
          1 ||
      X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT) != 1) {
    ERR_clear_error();
    return Refuse(
        verdict, "invalid",
        "the relay could not set up certificate verification (out of memory?)");
  }
#ifndef OPENSSL_IS_BORINGSSL
  // As OpenSSL's own handshake check does at Debian's default security level:
  // weak keys (RSA under 2048 bits) and SHA-1 signatures are refused.
  // (BoringSSL has no security levels.)
  X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx.get()), 2);
#endif
  const bool verified = X509_verify_cert(ctx.get()) == 1;
  const int error = X509_STORE_CTX_get_error(ctx.get());
  const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* at = X509_STORE_CTX_get_current_cert(ctx.get());
  if (at == nullptr) at = leaf;
  ERR_clear_error();
  if (verified) {
    if (!described->ca_marks.empty()) {
      return Refuse(verdict, "ca_certificate",
                    absl::StrCat("the client certificate is a CA certificate (",
                                 described->ca_marks, "), not a leaf"));
    }
    return verdict;
  }

  const std::string at_subject = NameText(X509_get_subject_name(at));
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      if (depth == 0) {
        return Refuse(verdict, "expired",
                      absl::StrCat("the client certificate expired on ",
                                   verdict.leaf.not_after));
      }
      return Refuse(
          verdict, "ca_expired",
          absl::StrCat("the CA certificate that issued it (", at_subject,
                       ") expired on ", TimeText(X509_get0_notAfter(at))));
    case X509_V_ERR_CERT_NOT_YET_VALID:
      if (depth == 0) {
        return Refuse(
            verdict, "not_yet_valid",
            absl::StrCat("the client certificate is not valid until ",
                         TimeText(X509_get0_notBefore(leaf)),
                         " (is the client's or the relay's clock wrong?)"));
      }
      return Refuse(verdict, "invalid_chain",
                    absl::StrCat("the CA certificate that issued it (",
                                 at_subject, ") is not valid until ",
                                 TimeText(X509_get0_notBefore(at))));
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return Refuse(verdict, "self_signed",
                    absl::StrCat("the client certificate is self-signed (",
                                 verdict.leaf.subject,
                                 "), not issued by this farm's CA"));
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: {
      const std::string issuer = error == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
                                     ? at_subject
                                     : NameText(X509_get_issuer_name(at));
      return Refuse(
          verdict, "untrusted_issuer",
          absl::StrCat(
              "the client certificate is signed by a CA this farm does not "
              "trust "
              "(issuer: ",
              issuer, ")",
              bundle->ca_names.contains(issuer)
                  ? ": a trusted CA has that name but another key (another "
                    "farm's CA?)"
                  : ""));
    }
    case X509_V_ERR_INVALID_PURPOSE:
      if (depth == 0) {
        return Refuse(
            verdict, "not_client_auth",
            absl::StrCat(
                "the client certificate is not for client authentication (",
                WhyNotClientAuth(leaf), ")"));
      }
      return Refuse(
          verdict, "not_client_auth",
          absl::StrCat("the CA certificate that issued it (", at_subject,
                       ") may not issue client-authentication certificates"));
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      // The issuer was found by name (the certificate names no key
      // identifier, or a matching one), but its key did not sign this.
      return Refuse(
          verdict, "bad_signature",
          absl::StrCat(
              "the signature on ",
              depth == 0 ? "the client certificate"
                         : absl::StrCat("chain certificate ", at_subject),
              " does not verify against the trusted CA ",
              NameText(X509_get_issuer_name(at)),
              ": signed by another key (another farm's CA of that name?) "
              "or altered"));
    default:
      if (depth > 0) {
        return Refuse(
            verdict, "invalid_chain",
            absl::StrCat("the client certificate's chain is not valid at ",
                         at_subject, ": ",
                         X509_verify_cert_error_string(error)));
      }
      return Refuse(
          verdict, "invalid",
          absl::StrCat(
              "the client certificate does not verify against this farm's "
              "CA: ",
              X509_verify_cert_error_string(error)));
  }
}

}  // namespace bowden::identity
