#ifndef BOWDEN_AGENT_EVENT_QUEUE_H_
#define BOWDEN_AGENT_EVENT_QUEUE_H_

#include <sqlite3.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/audit.pb.h"

namespace bowden::agent {

// Audit events waiting for the relay's acknowledgement. With a directory the
// queue lives in DIR/events.db (SQLite), so events recorded while the relay
// is away survive an agent restart; without one it is kept in memory.
// Bounded: past `max_events` the oldest are dropped, and the event that
// pushed them out carries fields["dropped_before"] = how many, so the gap is
// visible in the relay's log.
//
// Writes are grouped: Push only notes an event, and Commit writes every noted
// event in one transaction (one WAL write instead of one per event). Peek and
// Ack commit first. The agent commits at the end of each event-loop turn, so
// an event is on disk before the loop waits again.
//
// Thread-compatible (the agent uses it from its event loop only).
class EventQueue {
 public:
  static constexpr size_t kDefaultMaxEvents = 100000;

  // `dir` empty: memory only.
  static absl::StatusOr<std::unique_ptr<EventQueue>> Open(const std::string& dir,
                                                          size_t max_events = kDefaultMaxEvents);
  ~EventQueue();

  void Push(bowden::v1::AuditEvent event);
  // Writes the events pushed since the last commit (memory mode: no-op).
  void Commit();
  // Up to `limit` of the oldest events not yet acknowledged; `*last_id` is
  // the id to acknowledge them with.
  std::vector<bowden::v1::AuditEvent> Peek(size_t limit, int64_t* last_id);
  // Forgets every event up to and including `last_id`.
  void Ack(int64_t last_id);
  // Events held, committed or not.
  size_t size() const;
  bool persistent() const { return db_ != nullptr; }

 private:
  EventQueue(sqlite3* db, size_t max_events);
  void DropOldest(size_t count);

  sqlite3* db_;  // null: memory only
  const size_t max_events_;
  // Memory mode: (id, event).
  std::deque<std::pair<int64_t, bowden::v1::AuditEvent>> memory_;
  // SQLite mode: pushed, not yet committed: (id, serialized event).
  std::vector<std::pair<int64_t, std::string>> uncommitted_;
  int64_t next_id_ = 1;
  size_t count_ = 0;
  uint64_t dropped_ = 0;  // not yet reported
};

}  // namespace bowden::agent

#endif  // BOWDEN_AGENT_EVENT_QUEUE_H_
