#ifndef BOWDEN_RELAY_REGISTRY_H_
#define BOWDEN_RELAY_REGISTRY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "relay/agent_channel.h"
#include "relay/splice.h"

namespace bowden::relay {

// Which agents are attached now, which sessions wait for their agent's
// Carry stream, and every session that is open.
//
// Rule for a second agent with the same printer id: the first attachment
// wins. A second Attach for an attached printer id is refused with
// ALREADY_EXISTS and the agent retries with backoff, so it takes over within
// one keepalive period once the first agent is gone. (Newest-wins would let two
// hosts holding the same certificate evict each other forever.)
//
// Thread-safe.
class Registry {
 public:
  absl::Status AddAgent(std::shared_ptr<AgentChannel> channel)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Removes `channel` if it is the one registered for its printer.
  void RemoveAgent(const AgentChannel* channel) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<AgentChannel> FindAgent(const std::string& printer)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::shared_ptr<AgentChannel>> Agents() ABSL_LOCKS_EXCLUDED(mu_);

  void AddPending(std::shared_ptr<Splice> splice) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes and returns the pending session `id` if it belongs to `printer`;
  // an agent can only claim sessions addressed to itself.
  std::shared_ptr<Splice> TakePending(const std::string& id,
                                      const std::string& printer)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RemovePending(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::shared_ptr<Splice>> TakePendingFor(
      const std::string& printer) ABSL_LOCKS_EXCLUDED(mu_);
  // Removes and returns the pending sessions created before `cutoff`
  // (OpenTimeouts).
  std::vector<std::shared_ptr<Splice>> TakePendingStartedBefore(
      absl::Time cutoff) ABSL_LOCKS_EXCLUDED(mu_);
  bool HasPending() ABSL_LOCKS_EXCLUDED(mu_);

  // Every session from Dial until it closes, pending or live. Refuses
  // (RESOURCE_EXHAUSTED) a session whose user already holds `max_per_user`.
  absl::Status AddSession(const std::shared_ptr<Splice>& splice,
                          int max_per_user) ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveSession(const std::string& id) ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<Splice> FindSession(const std::string& id)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::shared_ptr<Splice>> Sessions() ABSL_LOCKS_EXCLUDED(mu_);
  // Who session `id` is for: live, or one of the last kRememberedSessions
  // added, so audit events that reach the relay after their session closed
  // are still attributed by the relay's own record.
  std::optional<SessionInfo> FindSessionInfo(const std::string& id)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Enough for the agent's audit batches (sent every 25 ms) to find the
  // sessions they name: the relay opens ~1,000-2,000 sessions a second at
  // most. Older sessions are found in the audit log's session.open row (see
  // agent_service.cc). The bound keeps the relay's memory from following the
  // number of sessions it has ever opened (see kRememberedFieldBytes).
  static constexpr size_t kRememberedSessions = 1024;
  // The remembered records live in one table allocated at the first session,
  // each field with this much room, and are overwritten in place: a session
  // allocates no memory that outlives it (fields longer than this grow once,
  // and keep their room). Records allocated one per session, scattered among
  // the sessions' short-lived buffers, pinned their pages: after 20,000
  // short sessions the relay kept 2x its idle memory, mostly free but
  // fragmented (malloc_info: 11 MB free in 11,872 pieces).
  static constexpr size_t kRememberedFieldBytes = 48;

 private:
  std::vector<std::shared_ptr<Splice>> TakePendingIf(
      absl::FunctionRef<bool(const Splice&)> take)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<AgentChannel>> agents_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<Splice>> pending_
      ABSL_GUARDED_BY(mu_);
  // Weak: a session lives as long as its streams do.
  struct SessionEntry {
    std::string user;
    std::weak_ptr<Splice> splice;
  };
  absl::flat_hash_map<std::string, SessionEntry> sessions_ ABSL_GUARDED_BY(mu_);
  // The last kRememberedSessions sessions added: a ring of records
  // (remembered_[next_remembered_] is the oldest once it is full) and an
  // index whose keys view the records' ids.
  void Remember(const SessionInfo& info) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::vector<SessionInfo> remembered_ ABSL_GUARDED_BY(mu_);
  size_t next_remembered_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<absl::string_view, size_t> remembered_index_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace bowden::relay

#endif  // BOWDEN_RELAY_REGISTRY_H_
