#include "enroll/enroll_client.h"

#include <algorithm>
#include <chrono>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "certs/ca.h"
#include "certs/pem_files.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_certificate_verifier.h"
#include "grpcpp/security/tls_credentials_options.h"
#include "proto/tunnel.grpc.pb.h"

namespace bowden::enroll {
namespace {

constexpr absl::string_view kPrefix = "bwj1_";

void SetDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(15));
}

// TLS that does not verify the server: only for fetching the CA, which is
// then checked against the token's pin before anything depends on it.
std::shared_ptr<grpc::ChannelCredentials> UnverifiedTls() {
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_verify_server_certs(false);
  options.set_check_call_host(false);
  options.set_certificate_verifier(
      std::make_shared<grpc::experimental::NoOpCertificateVerifier>());
  return grpc::experimental::TlsCredentials(options);
}

// TLS that verifies the server against `ca_pem` (no client certificate).
std::shared_ptr<grpc::ChannelCredentials> VerifiedTls(const std::string& ca_pem) {
  auto provider = std::make_shared<grpc::experimental::StaticDataCertificateProvider>(ca_pem);
  grpc::experimental::TlsChannelCredentialsOptions options;
  options.set_certificate_provider(provider);
  options.watch_root_certs();
  options.set_verify_server_certs(true);
  return grpc::experimental::TlsCredentials(options);
}

}  // namespace

absl::StatusOr<bowden::v1::JoinToken> DecodeToken(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  // Cutting a token short never adds a character base64url lacks.
  const bool base64url =
      std::all_of(text.begin() + std::min(text.size(), kPrefix.size()), text.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
  if (!absl::StartsWith(text, kPrefix) || !base64url) {
    return absl::InvalidArgumentError(
        "this is not a Bowden join token (they start with bwj1_): copy the whole token "
        "from `bowden token create`");
  }
  // Every part is required, and `kind` is serialized last, so a token cut
  // anywhere fails one of these checks.
  std::string raw;
  bowden::v1::JoinToken token;
  if (!absl::WebSafeBase64Unescape(text.substr(kPrefix.size()), &raw) ||
      !token.ParseFromString(raw) || token.enroll_address().empty() ||
      token.relay_address().empty() || token.ca_sha256().size() != 64 ||
      token.secret().size() < 16 || (token.kind() != "agent" && token.kind() != "user")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the token is incomplete: copy all of it (", text.size(),
        " characters arrived; `bowden token create` prints it on one line)"));
  }
  return token;
}

absl::StatusOr<Enrolled> EnrollWithToken(const bowden::v1::JoinToken& token,
                                         absl::string_view kind) {
  // 1. The CA, accepted only if it is the one the token pins.
  auto insecure = bowden::v1::EnrollService::NewStub(
      grpc::CreateChannel(token.enroll_address(), UnverifiedTls()));
  grpc::ClientContext ca_context;
  SetDeadline(&ca_context);
  bowden::v1::GetCaResponse ca;
  grpc::Status status = insecure->GetCa(&ca_context, {}, &ca);
  if (!status.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "cannot reach the relay's enrollment port ", token.enroll_address(), " (",
        status.error_message(), "): check that this host can reach it and that the relay runs "
        "with --enroll-listen; the token stays valid until it expires"));
  }
  // The pin covers every certificate of the bundle, since all of them are
  // trusted below and written to ca.crt.
  absl::StatusOr<std::string> fingerprint = certs::BundleFingerprint(ca.ca_pem());
  if (!fingerprint.ok() || *fingerprint != token.ca_sha256()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the relay at ", token.enroll_address(),
        " presented a CA that does not match the token's fingerprint: this is not your "
        "farm's relay, the token is for another farm, or the farm's CA was rotated after "
        "the token was made (ask for a new token)"));
  }
  // 2. A key of our own, and a certificate for it over verified TLS.
  absl::StatusOr<std::pair<std::string, std::string>> key_and_csr = certs::NewKeyAndCsr();
  if (!key_and_csr.ok()) return key_and_csr.status();
  auto verified = bowden::v1::EnrollService::NewStub(
      grpc::CreateChannel(token.enroll_address(), VerifiedTls(ca.ca_pem())));
  grpc::ClientContext context;
  SetDeadline(&context);
  bowden::v1::EnrollRequest request;
  request.set_secret(token.secret());
  request.set_csr_pem(key_and_csr->second);
  request.set_kind(std::string(kind));
  bowden::v1::EnrollResponse response;
  status = verified->Enroll(&context, request, &response);
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                        absl::StrCat("the relay refused the enrollment: ",
                                     status.error_message()));
  }
  return Enrolled{key_and_csr->first, response.certificate_pem(), response.ca_pem(),
                  response.spiffe_id(), token.relay_address()};
}

absl::Status WriteIdentity(const std::string& dir, const std::string& name,
                           const Enrolled& enrolled) {
  if (absl::Status made = certs::MakePrivateDirectory(dir); !made.ok()) return made;
  // All three staged before any is committed, so a full disk cannot leave a
  // new key beside an old certificate; then the key first, since a
  // certificate without its key would be useless.
  std::vector<certs::StagedFile> staged;
  for (auto [file, data, mode] :
       {std::tuple<std::string, const std::string*, mode_t>{name + ".key", &enrolled.key_pem,
                                                            0600},
        {name + ".crt", &enrolled.certificate_pem, 0644},
        {"ca.crt", &enrolled.ca_pem, 0644}}) {
    absl::StatusOr<certs::StagedFile> one =
        certs::StagedFile::Create(absl::StrCat(dir, "/", file), *data, mode);
    if (!one.ok()) return one.status();
    staged.push_back(*std::move(one));
  }
  for (certs::StagedFile& file : staged) {
    if (absl::Status s = file.Commit(certs::Overwrite::kReplace); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteConfig(const std::string& path,
                         const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string text;
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&text, name, ": \"", absl::CEscape(value), "\"\n");
  }
  absl::StatusOr<certs::StagedFile> file = certs::StagedFile::Create(path, text, 0644);
  if (!file.ok()) return file.status();
  return file->Commit(certs::Overwrite::kReplace);
}

}  // namespace bowden::enroll
