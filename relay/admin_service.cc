#include "relay/admin_service.h"

#include <openssl/rand.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "certs/ca.h"
#include "relay/call_auth.h"
#include "relay/enroll_service.h"
#include "relay/status_convert.h"

namespace bowden::relay {
namespace {

// A QueryAudit page: at most this many rows and (about) this many bytes.
constexpr int32_t kMaxAuditPageRows = 1000;
// Clients take up to 1 MiB per message (transport/relay_channel.cc).
constexpr size_t kMaxAuditPageBytes = 512 * 1024;

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::ListSessions(
    grpc::CallbackServerContext* context,
    const bowden::v1::ListSessionsRequest* /*request*/,
    bowden::v1::ListSessionsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::StatusOr<identity::SpiffeId> user =
      AuthenticateCall(context, *state_, identity::PeerKind::kUser);
  if (!user.ok()) {
    reactor->Finish(ToGrpcStatus(user.status()));
    return reactor;
  }
  bool admin = state_->policy->Get()->IsRelayAdmin(user->name);
  for (const auto& splice : state_->registry.Sessions()) {
    Splice::Snapshot snap = splice->snapshot();
    if (!admin && snap.info.user != user->name) continue;
    bowden::v1::SessionInfo* out = response->add_sessions();
    out->set_id(snap.info.id);
    out->set_user(snap.info.user);
    out->set_printer(snap.info.printer);
    out->set_target(snap.info.target);
    out->set_role(snap.info.role);
    out->set_started_unix(absl::ToUnixSeconds(snap.started));
    out->set_bytes_up(snap.bytes_up);
    out->set_bytes_down(snap.bytes_down);
    out->set_open(snap.open);
  }
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::KillSession(
    grpc::CallbackServerContext* context, const bowden::v1::KillSessionRequest* request,
    bowden::v1::KillSessionResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<identity::SpiffeId> user = AuthoriseAdmin(context, reactor, "kill sessions");
  if (!user.has_value()) return reactor;
  std::shared_ptr<Splice> splice = state_->registry.FindSession(request->session_id());
  if (splice == nullptr) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::NOT_FOUND,
        absl::StrCat("no live session '", request->session_id(),
                     "' (see `bowden sessions`)")));
    return reactor;
  }
  LOG(INFO) << "session " << request->session_id() << " killed by " << user->name
            << (request->reason().empty() ? "" : ": ") << request->reason();
  bowden::v1::AuditEvent event = MakeAuditEvent("admin", user->name, "ok");
  event.set_printer(splice->info().printer);
  event.set_session_id(request->session_id());
  event.set_detail(request->reason());
  (*event.mutable_fields())["action"] = "kill";
  state_->audit->Record(std::move(event));
  splice->Kill(user->name, request->reason());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

std::optional<identity::SpiffeId> AdminServiceImpl::AuthoriseAdmin(
    grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor,
    absl::string_view action) {
  absl::StatusOr<identity::SpiffeId> user =
      AuthenticateCall(context, *state_, identity::PeerKind::kUser);
  if (!user.ok()) {
    reactor->Finish(ToGrpcStatus(user.status()));
    return std::nullopt;
  }
  if (state_->policy->Get()->IsRelayAdmin(user->name)) return *user;
  bowden::v1::AuditEvent event = MakeAuditEvent("denial", user->name, "denied");
  event.set_detail(absl::StrCat("not a relay admin: may not ", action));
  state_->call_refusals->Record(
      std::move(event),
      absl::StrCat(user->name, " may not ", action, ": not a relay admin"));
  reactor->Finish(grpc::Status(
      grpc::StatusCode::PERMISSION_DENIED,
      absl::StrCat("user '", user->name, "' is not a relay admin: only users listed in "
                   "the policy's `admins` may ", action)));
  return std::nullopt;
}

grpc::ServerUnaryReactor* AdminServiceImpl::QueryAudit(
    grpc::CallbackServerContext* context, const bowden::v1::AuditQuery* request,
    bowden::v1::QueryAuditResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!AuthoriseAdmin(context, reactor, "read the audit log")) return reactor;
  // The flush waits for the writer (and for a lock on audit.db): on the
  // audit's own thread, so store jobs do not queue behind it.
  state_->audit_offload->FinishCall(reactor, [this, request, response] {
    return QueryAuditNow(*request, response);
  });
  return reactor;
}

grpc::Status AdminServiceImpl::QueryAuditNow(const bowden::v1::AuditQuery& request,
                                             bowden::v1::QueryAuditResponse* response) {
  // Queries are rare and small; waiting for queued events to commit lets an
  // admin see what just happened, including this session's own events.
  state_->audit->Flush();
  if (request.limit() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("audit query limit ", request.limit(),
                                     " is negative: ask for 1 or more rows"));
  }
  // One row more than the page, to tell whether more match.
  bowden::v1::AuditQuery page = request;
  int32_t limit = request.limit() == 0 ? kMaxAuditPageRows
                                       : std::min(request.limit(), kMaxAuditPageRows);
  page.set_limit(limit + 1);
  absl::StatusOr<std::vector<bowden::v1::AuditEvent>> events =
      state_->audit->log().Query(page);
  if (!events.ok()) return ToGrpcStatus(events.status());
  // The page must fit a client's default 4 MiB receive limit, however large
  // the rows: stop at kMaxAuditPageBytes and say there is more.
  size_t bytes = 0;
  for (auto& event : *events) {
    size_t size = event.ByteSizeLong();
    if (response->events_size() == limit ||
        (response->events_size() > 0 && bytes + size > kMaxAuditPageBytes)) {
      response->set_more(true);
      break;
    }
    bytes += size;
    *response->add_events() = std::move(event);
  }
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* AdminServiceImpl::VerifyAudit(
    grpc::CallbackServerContext* context, const bowden::v1::VerifyAuditRequest* request,
    bowden::v1::VerifyAuditResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!AuthoriseAdmin(context, reactor, "verify the audit log")) return reactor;
  // A verification reads the whole log: seconds for millions of rows; on
  // the audit's own thread.
  state_->audit_offload->FinishCall(reactor, [this, request, response] {
    VerifyAuditNow(*request, response);
    return grpc::Status::OK;
  });
  return reactor;
}

void AdminServiceImpl::VerifyAuditNow(const bowden::v1::VerifyAuditRequest& request,
                                      bowden::v1::VerifyAuditResponse* response) {
  state_->audit->Flush();
  audit::VerifyResult result = request.expected_head().empty()
                                   ? state_->audit->log().Verify()
                                   : state_->audit->log().Verify(request.expected_head());
  response->set_ok(result.ok());
  response->set_rows_checked(result.rows_checked);
  response->set_broken_seq(result.ok() ? 0 : result.seq);
  response->set_segments(result.segments);
  response->set_pruned_segments(result.pruned_segments);
  response->set_broken_segment(result.segment);
  response->set_problem(std::string(audit::ProblemName(result.problem)));
  response->set_detail(result.detail);
  response->set_head(result.head);
}

grpc::ServerUnaryReactor* AdminServiceImpl::Revoke(grpc::CallbackServerContext* context,
                                                   const bowden::v1::RevokeRequest* request,
                                                   bowden::v1::RevokeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<identity::SpiffeId> admin =
      AuthoriseAdmin(context, reactor, "revoke certificates");
  if (!admin.has_value()) return reactor;
  const std::string& kind = request->kind();
  std::string subject = request->subject();
  if (kind == "serial") {
    subject = absl::AsciiStrToUpper(subject);
    subject.erase(0, std::min(subject.find_first_not_of('0'), subject.size() - 1));
  }
  bool valid_kind = kind == "agent" || kind == "user" || kind == "serial";
  bool valid_subject =
      kind == "serial" ? !subject.empty() && subject.find_first_not_of("0123456789ABCDEF") ==
                                                 std::string::npos
                       : identity::IsValidName(subject);
  if (!valid_kind || !valid_subject) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("revoke what? '", kind, " ", subject,
                     "' is not agent PRINTER-ID, user NAME or serial HEX")));
    return reactor;
  }
  // Storing waits on the disk (and on another connection's lock).
  state_->offload->FinishCall(
      reactor, [this, admin = admin->name, subject, request, response] {
        return RevokeNow(admin, subject, *request, response);
      });
  return reactor;
}

grpc::Status AdminServiceImpl::RevokeNow(
    const std::string& admin, const std::string& subject,
    const bowden::v1::RevokeRequest& request,
    bowden::v1::RevokeResponse* response) {
  const std::string& kind = request.kind();
  bowden::v1::AuditEvent event = MakeAuditEvent("admin", admin, "ok");
  (*event.mutable_fields())["action"] =
      request.lift() ? "lift-revocation" : "revoke";
  (*event.mutable_fields())["revoked_kind"] = kind;
  (*event.mutable_fields())["subject"] = subject;
  event.set_detail(request.reason());
  if (request.lift()) {
    absl::Status lifted = state_->identities->Lift(kind, subject);
    if (!lifted.ok()) return ToGrpcStatus(lifted);
    state_->audit->Record(std::move(event));
    return grpc::Status::OK;
  }
  Revocation revocation{kind, subject, absl::Now(), request.reason(), admin};
  absl::Status stored = state_->identities->Revoke(revocation);
  if (!stored.ok()) return ToGrpcStatus(stored);
  int cut = CutRevoked(revocation);
  (*event.mutable_fields())["sessions_cut"] = absl::StrCat(cut);
  state_->audit->Record(std::move(event));
  LOG(INFO) << admin << " revoked " << kind << " " << subject << "; cut " << cut
            << " live session(s)";
  response->set_sessions_cut(cut);
  return grpc::Status::OK;
}

int AdminServiceImpl::CutRevoked(const Revocation& revocation) {
  std::string why = absl::StrCat("certificate revoked (", revocation.kind, " ",
                                 revocation.subject, ")");
  if (!revocation.reason.empty()) absl::StrAppend(&why, ": ", revocation.reason);
  // Attachments first, so a revoked agent cannot be handed new sessions.
  std::vector<std::string> printers;
  for (const auto& channel : state_->registry.Agents()) {
    bool covered = (revocation.kind == "agent" && channel->printer_id() == revocation.subject) ||
                   (revocation.kind == "serial" && channel->serial_hex() == revocation.subject);
    if (!covered) continue;
    printers.push_back(channel->printer_id());
    channel->gate().RequestFinish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, why));
  }
  int cut = 0;
  for (const auto& splice : state_->registry.Sessions()) {
    const SessionInfo& info = splice->info();
    bool covered =
        (revocation.kind == "user" && info.user == revocation.subject) ||
        (revocation.kind == "serial" && info.user_serial == revocation.subject) ||
        std::find(printers.begin(), printers.end(), info.printer) != printers.end();
    if (!covered) continue;
    splice->Kill(revocation.by, why);
    ++cut;
  }
  return cut;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListIdentities(
    grpc::CallbackServerContext* context, const bowden::v1::ListIdentitiesRequest* /*request*/,
    bowden::v1::ListIdentitiesResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (!AuthoriseAdmin(context, reactor, "list identities")) return reactor;
  state_->offload->FinishCall(reactor, [this, response] {
    ListIdentitiesNow(response);
    return grpc::Status::OK;
  });
  return reactor;
}

void AdminServiceImpl::ListIdentitiesNow(
    bowden::v1::ListIdentitiesResponse* response) {
  std::vector<Revocation> revocations = state_->identities->Revocations();
  for (const SeenCertificate& seen : state_->identities->Seen()) {
    bowden::v1::CertificateSeen* out = response->add_certificates();
    out->set_spiffe_id(seen.spiffe_id);
    out->set_serial_hex(seen.serial_hex);
    out->set_not_after_unix(absl::ToUnixSeconds(seen.not_after));
    out->set_last_seen_unix(absl::ToUnixSeconds(seen.last_seen));
    absl::StatusOr<identity::SpiffeId> id = identity::ParseSpiffeId(seen.spiffe_id);
    for (const Revocation& r : revocations) {
      if ((r.kind == "serial" && r.subject == seen.serial_hex) ||
          (id.ok() && r.kind == identity::PeerKindName(id->kind) && r.subject == id->name)) {
        out->set_revoked(true);
      }
    }
  }
  for (const Revocation& r : revocations) {
    bowden::v1::RevocationInfo* out = response->add_revocations();
    out->set_kind(r.kind);
    out->set_subject(r.subject);
    out->set_at_unix(absl::ToUnixSeconds(r.at));
    out->set_reason(r.reason);
    out->set_by(r.by);
  }
}

grpc::ServerUnaryReactor* AdminServiceImpl::CreateToken(
    grpc::CallbackServerContext* context, const bowden::v1::CreateTokenRequest* request,
    bowden::v1::CreateTokenResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  std::optional<identity::SpiffeId> admin = AuthoriseAdmin(context, reactor, "create join tokens");
  if (!admin.has_value()) return reactor;
  const EnrollmentInfo& enrollment = state_->enrollment;
  if (enrollment.enroll_address.empty()) {
    reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                 "enrollment is off on this relay: start it with --ca-dir DIR "
                                 "and --enroll-listen HOST:PORT"));
    return reactor;
  }
  if ((request->kind() != "agent" && request->kind() != "user") ||
      !identity::IsValidName(request->name())) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("a token is for `agent PRINTER-ID` or `user NAME`, not '", request->kind(),
                     " ", request->name(), "'")));
    return reactor;
  }
  absl::Duration ttl = request->ttl_seconds() > 0 ? absl::Seconds(request->ttl_seconds())
                                                  : absl::Hours(1);
  // A token is a password until it is used: it must not lie around for long.
  if (ttl > kMaxTokenTtl) {
    reactor->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        absl::StrCat("a join token may be valid for at most 7 days (168h), not ",
                     absl::FormatDuration(ttl),
                     ": it works like a password until used; pass a shorter --ttl")));
    return reactor;
  }
  // Reading the bundle and storing the token wait on the disk.
  state_->offload->FinishCall(
      reactor, [this, admin = admin->name, ttl, request, response] {
        return CreateTokenNow(admin, ttl, *request, response);
      });
  return reactor;
}

grpc::Status AdminServiceImpl::CreateTokenNow(
    const std::string& admin, absl::Duration ttl,
    const bowden::v1::CreateTokenRequest& request,
    bowden::v1::CreateTokenResponse* response) {
  // The token pins every certificate of the bundle GetCa will hand out (a
  // rotation changes the bundle, so tokens made before it stop working).
  absl::StatusOr<std::string> bundle = ReadTrustBundle(state_->signing);
  absl::StatusOr<std::string> ca_sha256 =
      bundle.ok() ? certs::BundleFingerprint(*bundle) : bundle.status();
  if (!ca_sha256.ok()) return ToGrpcStatus(ca_sha256.status());
  unsigned char secret[32];
  if (RAND_bytes(secret, sizeof(secret)) != 1) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "the relay could not generate a random token secret");
  }
  const EnrollmentInfo& enrollment = state_->enrollment;
  bowden::v1::JoinToken token;
  token.set_enroll_address(enrollment.enroll_address);
  token.set_relay_address(enrollment.relay_address);
  token.set_ca_sha256(*ca_sha256);
  token.set_kind(request.kind());
  token.set_secret(std::string(reinterpret_cast<char*>(secret), sizeof(secret)));
  absl::Time expires = absl::Now() + ttl;
  absl::Status stored = state_->identities->AddToken(
      TokenSecretHash(token.secret()),
      TokenGrant{request.kind(), request.name(), admin}, expires);
  if (!stored.ok()) return ToGrpcStatus(stored);
  std::string encoded;
  absl::WebSafeBase64Escape(token.SerializeAsString(), &encoded);
  response->set_token(absl::StrCat("bwj1_", encoded));
  response->set_expires_unix(absl::ToUnixSeconds(expires));
  bowden::v1::AuditEvent event = MakeAuditEvent("admin", admin, "ok");
  (*event.mutable_fields())["action"] = "create-token";
  (*event.mutable_fields())["for"] =
      absl::StrCat(request.kind(), " ", request.name());
  (*event.mutable_fields())["expires_unix"] = absl::StrCat(absl::ToUnixSeconds(expires));
  state_->audit->Record(std::move(event));
  return grpc::Status::OK;
}

}  // namespace bowden::relay
