#include "certs/ca.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "certs/cert_builder.h"
#include "certs/csr.h"
#include "certs/names.h"
#include "certs/pem_files.h"

namespace bowden::certs {
namespace {

constexpr absl::string_view kCaCertFile = "ca.crt";
constexpr absl::string_view kCaKeyFile = "ca.key";
// The trust bundle peers and the relay should read (`--ca DIR/bundle.crt`):
// the CA, and during a rotation the previous one after it.
constexpr absl::string_view kBundleFile = "bundle.crt";
constexpr absl::string_view kPreviousCaFile = "previous-ca.crt";
constexpr absl::string_view kSpiffeScheme = "spiffe://";
// Peers whose clocks run a little behind must still accept a certificate
// issued this second.
constexpr absl::Duration kBackdate = kIssueBackdate;
// Ten calendar years, leap days included.
constexpr absl::Duration kCaLifetime = absl::Hours(24 * 3653);

absl::Status NoCaError(const std::string& dir) {
  return absl::FailedPreconditionError(
      absl::StrCat("no CA in ", dir, ": run `bowden ca init --dir ", dir,
                   " --trust-domain farm.example` first"));
}

std::string SpiffeId(absl::string_view domain, Role role,
                     absl::string_view name) {
  switch (role) {
    case Role::kRelay:
      return absl::StrCat(kSpiffeScheme, domain, "/relay");
    case Role::kAgent:
      return absl::StrCat(kSpiffeScheme, domain, "/agent/", name);
    case Role::kUser:
      return absl::StrCat(kSpiffeScheme, domain, "/user/", name);
  }
  return "";  // Unreachable: the switch covers every Role.
}

// The CA as loaded from disk, checked to be a usable pair.
struct LoadedCa {
  X509Ptr cert;
  EvpPkeyPtr key;
  std::string trust_domain;  // From the certificate's spiffe:// URI SAN.
};

// Call with the directory lock held.
absl::StatusOr<LoadedCa> LoadCa(const std::string& dir) {
  const std::string key_path = JoinPath(dir, kCaKeyFile);
  const std::string cert_path = JoinPath(dir, kCaCertFile);
  absl::StatusOr<std::string> key_pem = ReadPemFile(key_path, true);
  if (absl::IsNotFound(key_pem.status())) return NoCaError(dir);
  if (!key_pem.ok()) return key_pem.status();
  absl::Cleanup wipe = [&key_pem] {
    OPENSSL_cleanse(key_pem->data(), key_pem->size());
  };
  absl::StatusOr<std::string> cert_pem = ReadPemFile(cert_path, false);
  if (absl::IsNotFound(cert_pem.status())) return NoCaError(dir);
  if (!cert_pem.ok()) return cert_pem.status();

  LoadedCa ca;
  absl::StatusOr<X509Ptr> cert = ParseCertificatePem(*cert_pem, cert_path);
  if (!cert.ok()) return cert.status();
  ca.cert = *std::move(cert);
  absl::StatusOr<EvpPkeyPtr> key = ParsePrivateKeyPem(*key_pem, key_path);
  if (!key.ok()) return key.status();
  ca.key = *std::move(key);

  if (X509_check_private_key(ca.cert.get(), ca.key.get()) != 1) {
    return absl::FailedPreconditionError(absl::StrCat(
        key_path, " does not match ", cert_path, " (", DrainOpenSslErrors(),
        "): restore both files from the same backup"));
  }
  if (X509_check_ca(ca.cert.get()) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(cert_path, " is not a CA certificate: re-create the CA ",
                     "with `bowden ca init`"));
  }
  // Exactly one URI SAN, a bare spiffe://<trust-domain>, as InitCa writes.
  const std::vector<std::string> uris = UriSans(ca.cert.get());
  const absl::string_view domain =
      uris.size() == 1 && absl::StartsWith(uris[0], kSpiffeScheme)
          ? absl::string_view(uris[0]).substr(kSpiffeScheme.size())
          : absl::string_view();
  if (!ValidateTrustDomain(domain).ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        cert_path, " does not carry exactly one spiffe://<trust-domain> URI ",
        "SAN, so `bowden ca init` did not make it: re-create the CA with it"));
  }
  ca.trust_domain = std::string(domain);
  return ca;
}

// Checks shared by IssueCertificate and SignCsr, made before the CA directory
// is locked, so a bad request never waits on a concurrent issuance.
absl::Status ValidateLeafRequest(const std::string& name, absl::Duration ttl) {
  if (absl::Status s = ValidateName(name); !s.ok()) return s;
  if (ttl <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ttl ", absl::FormatDuration(ttl),
                     " is not positive: pass a lifetime such as 24h"));
  }
  return absl::OkStatus();
}

// The CA, loaded under the directory lock, which is held as long as this
// lives so that no concurrent run can swap the CA mid-issuance.
struct IssuingCa {
  DirectoryLock lock;
  LoadedCa ca;
};

// Locks `dir`, loads its CA, and checks that a leaf living `ttl` would not
// outlive it.
absl::StatusOr<IssuingCa> OpenCaForIssuing(const std::string& dir,
                                           absl::Duration ttl) {
  absl::StatusOr<DirectoryLock> lock = DirectoryLock::Acquire(dir);
  if (absl::IsNotFound(lock.status())) return NoCaError(dir);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<LoadedCa> ca = LoadCa(dir);
  if (!ca.ok()) return ca.status();

  // A leaf must not outlive its CA: verifiers would reject it at the CA's
  // expiry anyway, and a silently shorter lifetime would surprise renewal.
  int days = 0;
  int secs = 0;
  if (ASN1_TIME_diff(&days, &secs, nullptr,
                     X509_get0_notAfter(ca->cert.get())) != 1) {
    return OpenSslError("reading the CA's expiry");
  }
  const absl::Duration ca_left = absl::Hours(24) * days + absl::Seconds(secs);
  if (ca_left <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the CA in ", dir, " has expired: create a new CA and ",
                     "issue every certificate again"));
  }
  if (ttl > ca_left) {
    return absl::InvalidArgumentError(
        absl::StrCat("ttl ", absl::FormatDuration(ttl), " outlives the CA in ",
                     dir, ", which expires in ", absl::FormatDuration(ca_left),
                     ": pass a shorter ttl"));
  }
  return IssuingCa{*std::move(lock), *std::move(ca)};
}

// The one leaf profile, shared by IssueCertificate and SignCsr so that a
// certificate minted from a CSR cannot differ from one minted locally: `key`
// is the holder's public key; the identity comes only from `role` and `name`.
absl::StatusOr<X509Ptr> BuildLeaf(const LoadedCa& ca, EVP_PKEY* key, Role role,
                                  const std::string& name, absl::Duration ttl,
                                  const std::vector<std::string>& dns,
                                  const std::vector<std::string>& ip_bytes) {
  const absl::Time now = absl::Now();
  absl::StatusOr<X509Ptr> cert =
      NewCertificate(key, name, now - kBackdate, now + ttl);
  if (!cert.ok()) return cert.status();
  X509* x = cert->get();
  absl::Status s =
      X509_set_issuer_name(x, X509_get_subject_name(ca.cert.get())) == 1
          ? absl::OkStatus()
          : OpenSslError("setting the issuer");
  if (s.ok()) s = AddBasicConstraints(x, /*is_ca=*/false);
  if (s.ok()) s = AddKeyUsage(x, {kDigitalSignature});
  // Only the relay accepts TLS connections; agents and users only dial out.
  if (s.ok() && role == Role::kRelay) {
    s = AddExtendedKeyUsage(x, {NID_server_auth, NID_client_auth});
  } else if (s.ok()) {
    s = AddExtendedKeyUsage(x, {NID_client_auth});
  }
  if (s.ok()) s = AddKeyIdentifiers(x, ca.cert.get());
  if (s.ok()) {
    s = AddSubjectAltNames(x, SpiffeId(ca.trust_domain, role, name), dns,
                           ip_bytes);
  }
  if (s.ok() && X509_sign(x, ca.key.get(), EVP_sha256()) <= 0) {
    s = OpenSslError("signing the certificate");
  }
  if (!s.ok()) return s;
  return cert;
}

// Encodes `key` and `cert`, stages both files, then commits the key first: a
// reader that sees the new certificate then finds its key. `key_overwrite` is
// kRefuse for the CA, where link() then decides atomically which of two racing
// inits wins. `*key_written` tells the caller whether a failure left the new
// key behind.
absl::Status WritePair(EVP_PKEY* key, const std::string& key_path,
                       Overwrite key_overwrite, X509* cert,
                       const std::string& cert_path, bool* key_written) {
  *key_written = false;
  absl::StatusOr<BioPtr> key_pem = PrivateKeyToPkcs8Pem(key);
  if (!key_pem.ok()) return key_pem.status();
  absl::StatusOr<BioPtr> cert_pem = CertificateToPem(cert);
  if (!cert_pem.ok()) return cert_pem.status();
  absl::StatusOr<StagedFile> key_file =
      StagedFile::Create(key_path, BioContents(key_pem->get()), 0600);
  if (!key_file.ok()) return key_file.status();
  absl::StatusOr<StagedFile> cert_file =
      StagedFile::Create(cert_path, BioContents(cert_pem->get()), 0644);
  if (!cert_file.ok()) return cert_file.status();
  if (absl::Status s = key_file->Commit(key_overwrite); !s.ok()) return s;
  *key_written = true;
  return cert_file->Commit(Overwrite::kReplace);
}

// Renewal may replace the certificate of the same identity, never another's.
absl::Status CheckSameIdentity(const std::string& cert_path,
                               absl::string_view spiffe_id) {
  absl::StatusOr<std::string> pem = ReadPemFile(cert_path, false);
  if (absl::IsNotFound(pem.status())) return absl::OkStatus();
  if (!pem.ok()) return pem.status();
  absl::StatusOr<X509Ptr> old = ParseCertificatePem(*pem, cert_path);
  if (!old.ok()) return old.status();
  const std::vector<std::string> uris = UriSans(old->get());
  if (uris.size() == 1 && uris[0] == spiffe_id) return absl::OkStatus();
  return absl::AlreadyExistsError(absl::StrCat(
      cert_path, " holds ", uris.size() == 1 ? uris[0] : "another identity",
      ", not ", spiffe_id, ": pick another name or delete the old files"));
}

}  // namespace

absl::StatusOr<Role> ParseRole(absl::string_view s) {
  if (s == "relay") return Role::kRelay;
  if (s == "agent") return Role::kAgent;
  if (s == "user") return Role::kUser;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role ", Quote(s), ": use relay, agent or user"));
}

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRelay:
      return "relay";
    case Role::kAgent:
      return "agent";
    case Role::kUser:
      return "user";
  }
  return "";  // Unreachable: the switch covers every Role.
}

namespace {

// A new self-signed CA for `trust_domain`, called `common_name`: its key and
// certificate, not yet written.
absl::StatusOr<std::pair<EvpPkeyPtr, X509Ptr>> MintCa(const std::string& trust_domain,
                                                      const std::string& common_name) {
  absl::StatusOr<EvpPkeyPtr> key = GenerateP256Key();
  if (!key.ok()) return key.status();
  const absl::Time now = absl::Now();
  absl::StatusOr<X509Ptr> cert =
      NewCertificate(key->get(), common_name, now - kBackdate, now + kCaLifetime);
  if (!cert.ok()) return cert.status();
  X509* x = cert->get();
  absl::Status s = X509_set_issuer_name(x, X509_get_subject_name(x)) == 1
                       ? absl::OkStatus()
                       : OpenSslError("setting the issuer");
  // pathlen:0 because this CA signs leaves only, never another CA.
  if (s.ok()) s = AddBasicConstraints(x, /*is_ca=*/true);
  if (s.ok()) s = AddKeyUsage(x, {kKeyCertSign, kCrlSign});
  if (s.ok()) s = AddKeyIdentifiers(x, /*issuer=*/nullptr);
  if (s.ok()) {
    s = AddSubjectAltNames(x, absl::StrCat(kSpiffeScheme, trust_domain), {},
                           {});
  }
  if (s.ok() && X509_sign(x, key->get(), EVP_sha256()) <= 0) {
    s = OpenSslError("signing the CA certificate");
  }
  if (!s.ok()) return s;
  return std::make_pair(*std::move(key), *std::move(cert));
}

// Rewrites DIR/bundle.crt from DIR/ca.crt and, with `with_previous` and if
// present, DIR/previous-ca.crt. Call with the directory lock held.
absl::Status WriteBundle(const std::string& dir, bool with_previous = true) {
  absl::StatusOr<std::string> bundle = ReadPemFile(JoinPath(dir, kCaCertFile), false);
  if (!bundle.ok()) return bundle.status();
  absl::StatusOr<std::string> previous =
      with_previous ? ReadPemFile(JoinPath(dir, kPreviousCaFile), false)
                    : absl::NotFoundError("not wanted");
  if (previous.ok()) {
    absl::StrAppend(&*bundle, *previous);
  } else if (!absl::IsNotFound(previous.status())) {
    return previous.status();
  }
  absl::StatusOr<StagedFile> file =
      StagedFile::Create(JoinPath(dir, kBundleFile), *bundle, 0644);
  if (!file.ok()) return file.status();
  return file->Commit(Overwrite::kReplace);
}

}  // namespace

absl::Status InitCa(const std::string& dir, const std::string& trust_domain) {
  ERR_clear_error();
  if (absl::Status s = ValidateTrustDomain(trust_domain); !s.ok()) return s;
  if (absl::Status s = MakePrivateDirectory(dir); !s.ok()) return s;
  absl::StatusOr<DirectoryLock> lock = DirectoryLock::Acquire(dir);
  if (!lock.ok()) return lock.status();
  const std::string key_path = JoinPath(dir, kCaKeyFile);
  const std::string cert_path = JoinPath(dir, kCaCertFile);
  const auto refuse = [&] {
    return absl::AlreadyExistsError(absl::StrCat(
        "a CA already exists in ", dir, ": refusing to replace ", key_path,
        " (that would invalidate every certificate it issued); move the ",
        "directory away first if you really mean to"));
  };
  if (PathExists(key_path)) return refuse();

  absl::StatusOr<std::pair<EvpPkeyPtr, X509Ptr>> ca =
      MintCa(trust_domain, absl::StrCat("Bowden CA ", trust_domain));
  if (!ca.ok()) return ca.status();
  bool key_written = false;
  absl::Status s = WritePair(ca->first.get(), key_path, Overwrite::kRefuse,
                             ca->second.get(), cert_path, &key_written);
  if (!key_written && absl::IsAlreadyExists(s)) return refuse();
  // A key without its certificate would block every later init.
  if (!s.ok() && key_written) unlink(key_path.c_str());
  if (!s.ok()) return s;
  return WriteBundle(dir);
}

absl::Status RotateCa(const std::string& dir) {
  ERR_clear_error();
  absl::StatusOr<DirectoryLock> lock = DirectoryLock::Acquire(dir);
  if (absl::IsNotFound(lock.status())) return NoCaError(dir);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<LoadedCa> current = LoadCa(dir);
  if (!current.ok()) return current.status();
  const std::string previous_path = JoinPath(dir, kPreviousCaFile);
  if (PathExists(previous_path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "a rotation is already under way in ", dir, " (", previous_path,
        " exists): finish it with `bowden ca retire --dir ", dir, "` first"));
  }
  absl::StatusOr<std::string> current_pem =
      ReadPemFile(JoinPath(dir, kCaCertFile), false);
  if (!current_pem.ok()) return current_pem.status();
  // A distinct subject, so the two CAs of the overlap are easy to tell apart.
  absl::StatusOr<std::pair<EvpPkeyPtr, X509Ptr>> ca = MintCa(
      current->trust_domain,
      absl::StrCat("Bowden CA ", current->trust_domain, " ",
                   absl::FormatTime("%Y%m%d%H%M%S", absl::Now(), absl::UTCTimeZone())));
  if (!ca.ok()) return ca.status();
  // The old certificate first: if anything below fails, the old pair is
  // still in place and the rotation can simply be run again.
  absl::StatusOr<StagedFile> previous = StagedFile::Create(previous_path, *current_pem, 0644);
  if (!previous.ok()) return previous.status();
  if (absl::Status s = previous->Commit(Overwrite::kRefuse); !s.ok()) return s;
  bool key_written = false;
  absl::Status s = WritePair(ca->first.get(), JoinPath(dir, kCaKeyFile), Overwrite::kReplace,
                             ca->second.get(), JoinPath(dir, kCaCertFile), &key_written);
  if (!s.ok()) {
    if (!key_written) unlink(previous_path.c_str());
    return s;
  }
  return WriteBundle(dir);
}

absl::Status RetirePreviousCa(const std::string& dir) {
  absl::StatusOr<DirectoryLock> lock = DirectoryLock::Acquire(dir);
  if (absl::IsNotFound(lock.status())) return NoCaError(dir);
  if (!lock.ok()) return lock.status();
  const std::string previous_path = JoinPath(dir, kPreviousCaFile);
  if (!PathExists(previous_path)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no rotation is under way in ", dir, ": there is no previous CA to retire"));
  }
  // The bundle first: if that fails, the rotation is still under way and
  // `ca retire` can simply be run again.
  if (absl::Status s = WriteBundle(dir, /*with_previous=*/false); !s.ok()) return s;
  if (unlink(previous_path.c_str()) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot remove ", previous_path, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status IssueCertificate(const std::string& dir,
                              const IssueOptions& options) {
  ERR_clear_error();
  if (absl::Status s = ValidateLeafRequest(options.name, options.ttl);
      !s.ok()) {
    return s;
  }
  for (const std::string& dns : options.dns) {
    if (absl::Status s = ValidateDnsName(dns); !s.ok()) return s;
  }
  std::vector<std::string> ip_bytes;
  for (const std::string& ip : options.ips) {
    absl::StatusOr<std::string> bytes = ParseIpAddress(ip);
    if (!bytes.ok()) return bytes.status();
    ip_bytes.push_back(*std::move(bytes));
  }

  absl::StatusOr<IssuingCa> issuing = OpenCaForIssuing(dir, options.ttl);
  if (!issuing.ok()) return issuing.status();
  const LoadedCa& ca = issuing->ca;
  const std::string cert_path = JoinPath(dir, options.name + ".crt");
  const std::string key_path = JoinPath(dir, options.name + ".key");
  if (absl::Status s = CheckSameIdentity(
          cert_path, SpiffeId(ca.trust_domain, options.role, options.name));
      !s.ok()) {
    return s;
  }

  absl::StatusOr<EvpPkeyPtr> key = GenerateP256Key();
  if (!key.ok()) return key.status();
  absl::StatusOr<X509Ptr> cert =
      BuildLeaf(ca, key->get(), options.role, options.name, options.ttl,
                options.dns, ip_bytes);
  if (!cert.ok()) return cert.status();
  bool key_written = false;
  return WritePair(key->get(), key_path, Overwrite::kReplace, cert->get(),
                   cert_path, &key_written);
}

absl::StatusOr<std::string> SignCsr(const std::string& ca_dir,
                                    absl::string_view csr_pem, Role role,
                                    const std::string& name,
                                    absl::Duration ttl) {
  ERR_clear_error();
  if (absl::Status s = ValidateLeafRequest(name, ttl); !s.ok()) return s;
  // Everything cheap and untrusted is checked before the CA key is read.
  absl::StatusOr<EvpPkeyPtr> key = VerifiedCsrPublicKey(csr_pem);
  if (!key.ok()) return key.status();
  absl::StatusOr<IssuingCa> issuing = OpenCaForIssuing(ca_dir, ttl);
  if (!issuing.ok()) return issuing.status();
  absl::StatusOr<X509Ptr> cert =
      BuildLeaf(issuing->ca, key->get(), role, name, ttl, {}, {});
  if (!cert.ok()) return cert.status();
  absl::StatusOr<BioPtr> pem = CertificateToPem(cert->get());
  if (!pem.ok()) return pem.status();
  return std::string(BioContents(pem->get()));
}

absl::StatusOr<std::string> ReadCaCertificate(const std::string& ca_dir) {
  ERR_clear_error();
  // No lock: ca.crt is only ever replaced by rename(), so a reader sees one
  // whole file, and the CA's key is not involved.
  const std::string cert_path = JoinPath(ca_dir, kCaCertFile);
  absl::StatusOr<std::string> pem = ReadPemFile(cert_path, false);
  if (absl::IsNotFound(pem.status())) return NoCaError(ca_dir);
  if (!pem.ok()) return pem.status();
  absl::StatusOr<X509Ptr> cert = ParseCertificatePem(*pem, cert_path);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<BioPtr> out = CertificateToPem(cert->get());
  if (!out.ok()) return out.status();
  return std::string(BioContents(out->get()));
}

}  // namespace bowden::certs
