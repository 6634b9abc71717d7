#ifndef BOWDEN_RELAY_AUDIT_STARTUP_H_
#define BOWDEN_RELAY_AUDIT_STARTUP_H_

#include "audit/audit_log.h"
#include "proto/audit.pb.h"

namespace bowden::relay {

// What the relay does with its audit log before it listens, in time that
// does not grow with the log:
//  - verifies the chain since the stored verified head
//    (AuditLog::VerifySinceHead); a broken chain is logged, and the relay
//    still starts and keeps appending (`bowden audit verify` walks it all);
//  - writes a session.close, outcome "aborted", for each session the last
//    run left open (it was killed, or its host lost power).
// Not thread-safe: call once, before anything else appends.
void PrepareAuditLog(audit::AuditLog& log);

// The session.close written for a session the relay stopped during.
bowden::v1::AuditEvent AbortedClose(const bowden::v1::AuditEvent& open);

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_AUDIT_STARTUP_H_
