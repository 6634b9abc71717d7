#include "identity/peer_verifier.h"

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"

namespace bowden::identity {
namespace {

class ClientCertificateVerifier final
    : public grpc::experimental::ExternalCertificateVerifier {
 public:
  ClientCertificateVerifier(std::shared_ptr<ClientChainChecker> checker,
                            TlsRefusalHandler on_refusal)
      : checker_(std::move(checker)), on_refusal_(std::move(on_refusal)) {}

  // Synchronous: returns true with `*sync_status` set, never calls
  // `callback`.
  bool Verify(grpc::experimental::TlsCustomVerificationCheckRequest* request,
              std::function<void(grpc::Status)> /*callback*/,
              grpc::Status* sync_status) override {
    grpc::string_ref leaf = request->peer_cert();
    grpc::string_ref chain = request->peer_cert_full_chain();
    ChainVerdict verdict =
        checker_->Check(absl::string_view(leaf.data(), leaf.size()),
                        absl::string_view(chain.data(), chain.size()));
    if (verdict.status.ok()) {
      *sync_status = grpc::Status::OK;
      return true;
    }
    TlsRefusal refusal;
    refusal.code = std::move(verdict.code);
    refusal.reason = std::string(verdict.status.message());
    refusal.cert = std::move(verdict.leaf);
    std::vector<grpc::string_ref> uris = request->uri_names();
    if (uris.size() == 1) {
      std::string id =
          absl::CHexEscape(absl::string_view(uris[0].data(), uris[0].size()));
      if (id.size() > kMaxFactChars) id.resize(kMaxFactChars);
      refusal.claimed_id = std::move(id);
    }
    if (on_refusal_) on_refusal_(refusal);
    *sync_status =
        grpc::Status(grpc::StatusCode::UNAUTHENTICATED, refusal.reason);
    return true;
  }

  // Nothing is ever pending: Verify answers synchronously.
  void Cancel(
      grpc::experimental::TlsCustomVerificationCheckRequest* /*request*/)
      override {}

 private:
  const std::shared_ptr<ClientChainChecker> checker_;
  const TlsRefusalHandler on_refusal_;
};

}  // namespace

std::shared_ptr<grpc::experimental::CertificateVerifier>
MakeClientCertificateVerifier(std::shared_ptr<ClientChainChecker> checker,
                              TlsRefusalHandler on_refusal) {
  return grpc::experimental::ExternalCertificateVerifier::Create<
      ClientCertificateVerifier>(std::move(checker), std::move(on_refusal));
}

}  // namespace bowden::identity
