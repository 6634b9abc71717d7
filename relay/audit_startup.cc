#include "relay/audit_startup.h"

#include "glog/logging.h"
#include "relay/relay_state.h"

namespace bowden::relay {

bowden::v1::AuditEvent AbortedClose(const bowden::v1::AuditEvent& open) {
  bowden::v1::AuditEvent close =
      MakeAuditEvent("session.close", open.actor(), "aborted");
  close.set_printer(open.printer());
  close.set_target(open.target());
  close.set_session_id(open.session_id());
  close.set_detail("the relay stopped while the session was open");
  auto& fields = *close.mutable_fields();
  auto role = open.fields().find("role");
  if (role != open.fields().end()) fields["role"] = role->second;
  fields["reason"] = "relay_stopped";
  fields["open_seq"] = std::to_string(open.seq());
  return close;
}

void PrepareAuditLog(audit::AuditLog& log) {
  audit::VerifyResult verified = log.VerifySinceHead();
  if (!verified.ok()) {
    LOG(ERROR)
        << "the audit log's hash chain is broken at seq " << verified.seq
        << " (" << audit::ProblemName(verified.problem) << ": "
        << verified.detail
        << "); the relay keeps appending, `bowden audit verify` reports it";
  } else {
    LOG(INFO) << "audit log verified since its last verified head: "
              << verified.rows_checked << " rows checked, head "
              << verified.head << " (`bowden audit verify` checks every row)";
  }
  absl::StatusOr<int64_t> closed = log.CloseDanglingSessions(&AbortedClose);
  if (!closed.ok()) {
    LOG(ERROR) << "could not close the sessions the last run left open in the "
                  "audit log: "
               << closed.status();
  } else if (*closed > 0) {
    LOG(INFO) << "audit log: " << *closed
              << " sessions left open by the last run closed as aborted";
  }
}

}  // namespace bowden::relay
