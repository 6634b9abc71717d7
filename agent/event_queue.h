#ifndef BOWDEN_AGENT_EVENT_QUEUE_H_
#define BOWDEN_AGENT_EVENT_QUEUE_H_

#include <sqlite3.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/audit.pb.h"

namespace bowden::agent {

// Audit events waiting for the relay's acknowledgement. With a directory the
// queue lives in DIR/events.db (SQLite), so events recorded while the relay
// is away survive an agent restart; without one it is kept in memory.
//
// Nothing queued is ever dropped to make room: a flood of refused requests
// must not push the record of an allowed one out of the log. Instead the
// bound applies to denials (events with outcome "denied"):
//  - once `max_events` are held, a new denial is not queued but counted;
//  - within one turn (between two Commit calls) only the first
//    kDenialsPerTurn denials of one (session, rule, user) are queued, the
//    rest are counted, so one pipelined flood costs a few rows.
// Counted denials come back as one "http.denials" summary event per
// (session, rule, user) — fields count, rule, first_unix_micros,
// last_unix_micros, why — as soon as the queue has room: at the end of the
// turn, or when the relay acknowledges a batch. At most kMaxTallies keys are
// counted apart; beyond that they share one catch-all summary. Counts not yet
// turned into summaries live in memory only.
// Every other event is always queued, even past the bound (allowed requests
// are limited by what the target itself serves).
//
// Push is O(1) and runs no SQL. Writes are grouped: Commit writes every event
// pushed since the last commit in one transaction (one WAL write instead of
// one per event). Peek and Ack commit first. The agent commits at the end of
// each event-loop turn, so an event is on disk before the loop waits again.
//
// Thread-compatible (the agent uses it from its event loop only).
class EventQueue {
 public:
  static constexpr size_t kDefaultMaxEvents = 100000;
  static constexpr int kDenialsPerTurn = 10;
  static constexpr size_t kMaxTallies = 1000;

  // `dir` empty: memory only.
  static absl::StatusOr<std::unique_ptr<EventQueue>> Open(
      const std::string& dir, size_t max_events = kDefaultMaxEvents);
  ~EventQueue();

  void Push(bowden::v1::AuditEvent event);
  // Ends the turn: turns counted denials into summaries if there is room and
  // writes the events pushed since the last commit (memory mode: no write).
  void Commit();
  // Up to `limit` of the oldest events not yet acknowledged; `*last_id` is
  // the id to acknowledge them with.
  std::vector<bowden::v1::AuditEvent> Peek(size_t limit, int64_t* last_id);
  // Forgets every event up to and including `last_id`.
  void Ack(int64_t last_id);
  // Events held, committed or not (summaries not yet made are not counted).
  size_t size() const;
  // Denials counted and not yet turned into a summary event.
  uint64_t denials_counted() const { return counted_; }
  // SQL statements this queue has prepared or executed since Open: lets
  // tests check that the work per event does not grow with the queue.
  uint64_t statements() const { return statements_; }
  bool persistent() const { return db_ != nullptr; }

 private:
  // Denials of one (session, rule, user) counted instead of queued.
  struct Tally {
    bowden::v1::AuditEvent
        sample;  // the first one counted, for its target and path
    uint64_t count = 0;
    absl::Time first;
    absl::Time last;
    bool queue_full = false;  // some were counted because the queue was full
    bool repeated = false;    // some were counted as repeats within one turn
  };

  EventQueue(sqlite3* db, size_t max_events);
  void Append(bowden::v1::AuditEvent event);
  // size() to /metrics (bowden_agent_audit_queue_depth).
  void PublishDepth() const;
  void CountDenial(const std::string& key, bowden::v1::AuditEvent event,
                   bool queue_full);
  // Queues a summary for each tally while there is room.
  void ReleaseTallies();
  void WriteUncommitted();
  struct StmtFinalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  using Statement = std::unique_ptr<sqlite3_stmt, StmtFinalize>;
  Statement Prepare(const char* sql);
  bool Exec(const char* sql);
  int64_t QueryInt(const char* sql);

  sqlite3* db_;  // null: memory only
  const size_t max_events_;
  // Memory mode: (id, event).
  std::deque<std::pair<int64_t, bowden::v1::AuditEvent>> memory_;
  // SQLite mode: pushed, not yet committed: (id, serialized event).
  std::vector<std::pair<int64_t, std::string>> uncommitted_;
  int64_t next_id_ = 1;
  size_t count_ = 0;      // committed (SQLite) or held (memory)
  uint64_t dropped_ = 0;  // lost to a failed write, not yet reported
  uint64_t statements_ = 0;
  // Denials queued this turn per key (reset by Commit).
  absl::flat_hash_map<std::string, int> turn_denials_;
  // In insertion order of their keys, so summaries come out oldest first.
  std::deque<std::string> tally_order_;
  absl::flat_hash_map<std::string, Tally> tallies_;
  uint64_t counted_ = 0;  // sum of the tallies' counts
};

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_EVENT_QUEUE_H_
