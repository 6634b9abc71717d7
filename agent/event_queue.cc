#include "agent/event_queue.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/agent_metrics.h"
#include "glog/logging.h"

namespace bowden::agent {
namespace {

// The key of the catch-all tally once kMaxTallies keys are counted apart.
constexpr char kCatchAllKey[] = "*";

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventQueue>> EventQueue::Open(
    const std::string& dir, size_t max_events) {
  if (dir.empty())
    return std::unique_ptr<EventQueue>(new EventQueue(nullptr, max_events));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot create state directory '", dir, "': ", strerror(errno)));
  }
  std::string path = absl::StrCat(dir, "/events.db");
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    std::string error = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the event queue '", path, "': ", error));
  }
  // NORMAL sync in WAL mode: no fsync per event on the agent's event loop; a
  // power cut may lose the last events, a crash of the agent does not.
  char* error = nullptr;
  if (sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                   "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, "
                   "event BLOB NOT NULL);",
                   nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    sqlite3_close(db);
    return absl::FailedPreconditionError(
        absl::StrCat("the event queue '", path, "' is not usable: ", message));
  }
  std::unique_ptr<EventQueue> queue(new EventQueue(db, max_events));
  // Once per start: the only full scans of the table.
  queue->count_ = queue->QueryInt("SELECT COUNT(*) FROM events");
  queue->next_id_ =
      queue->QueryInt("SELECT COALESCE(MAX(id), 0) FROM events") + 1;
  queue->PublishDepth();
  return queue;
}

EventQueue::EventQueue(sqlite3* db, size_t max_events)
    : db_(db), max_events_(max_events) {}

EventQueue::~EventQueue() {
  Commit();
  if (db_ != nullptr) sqlite3_close(db_);
}

EventQueue::Statement EventQueue::Prepare(const char* sql) {
  ++statements_;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    LOG(ERROR) << "audit event queue (--state-dir events.db): " << sqlite3_errmsg(db_)
               << "; events that cannot be written are lost and counted (dropped_before on the "
                  "next one): check free disk space and that the state directory is writable";
  }
  return Statement(stmt);
}

bool EventQueue::Exec(const char* sql) {
  ++statements_;
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

int64_t EventQueue::QueryInt(const char* sql) {
  Statement stmt = Prepare(sql);
  if (stmt && sqlite3_step(stmt.get()) == SQLITE_ROW)
    return sqlite3_column_int64(stmt.get(), 0);
  return 0;
}

size_t EventQueue::size() const { return count_ + uncommitted_.size(); }

void EventQueue::Push(bowden::v1::AuditEvent event) {
  if (event.outcome() == "denied") {
    std::string key = absl::StrCat(
        event.session_id(), "\n",
        event.fields().count("rule") ? event.fields().at("rule") : "", "\n",
        event.actor());
    if (size() >= max_events_) return CountDenial(key, std::move(event), true);
    // A new key this turn while the map is at its bound is simply counted.
    auto it = turn_denials_.find(key);
    if (it == turn_denials_.end() && turn_denials_.size() >= kMaxTallies) {
      return CountDenial(key, std::move(event), false);
    }
    int& queued = it != turn_denials_.end() ? it->second : turn_denials_[key];
    if (queued >= kDenialsPerTurn)
      return CountDenial(key, std::move(event), false);
    ++queued;
  }
  Append(std::move(event));
}

void EventQueue::Append(bowden::v1::AuditEvent event) {
  if (dropped_ > 0) {
    // Say so in the log itself, attached to the next event.
    (*event.mutable_fields())["dropped_before"] = absl::StrCat(dropped_);
    dropped_ = 0;
  }
  int64_t id = next_id_++;
  if (db_ == nullptr) {
    memory_.emplace_back(id, std::move(event));
    ++count_;
  } else {
    uncommitted_.emplace_back(id, event.SerializeAsString());
  }
  PublishDepth();
}

void EventQueue::PublishDepth() const {
  AgentMetrics::Get().audit_queue_depth.Set(static_cast<int64_t>(size()));
}

void EventQueue::CountDenial(const std::string& key,
                             bowden::v1::AuditEvent event, bool queue_full) {
  absl::Time now = absl::Now();
  auto it = tallies_.find(key);
  if (it == tallies_.end()) {
    std::string slot = key;
    if (tallies_.size() >= kMaxTallies) {
      // Bounded memory under a flood of distinct sessions or rules: the rest
      // share one summary without a session, rule or user of its own.
      slot = kCatchAllKey;
      event.clear_session_id();
      event.clear_actor();
      event.clear_detail();
      event.mutable_fields()->clear();
    }
    auto [inserted, is_new] = tallies_.try_emplace(slot);
    it = inserted;
    if (is_new) {
      tally_order_.push_back(slot);
      it->second.sample = std::move(event);
      it->second.first = now;
    }
  }
  Tally& tally = it->second;
  ++tally.count;
  ++counted_;
  tally.last = now;
  (queue_full ? tally.queue_full : tally.repeated) = true;
}

void EventQueue::ReleaseTallies() {
  while (!tally_order_.empty() && size() < max_events_) {
    auto it = tallies_.find(tally_order_.front());
    Tally tally = std::move(it->second);
    tallies_.erase(it);
    tally_order_.pop_front();
    counted_ -= tally.count;

    const bowden::v1::AuditEvent& sample = tally.sample;
    auto rule_it = sample.fields().find("rule");
    std::string rule = rule_it == sample.fields().end() ? "" : rule_it->second;
    bowden::v1::AuditEvent summary;
    summary.set_kind("http.denials");
    summary.set_actor(sample.actor());
    summary.set_target(sample.target());
    summary.set_session_id(sample.session_id());
    summary.set_outcome("denied");
    std::string why;
    if (tally.queue_full) why = "queue_full";
    if (tally.repeated)
      absl::StrAppend(&why, why.empty() ? "" : ",", "repeated");
    summary.set_detail(absl::StrCat(
        tally.count, " denial(s) of rule ", rule.empty() ? "(any)" : rule,
        " by user ", sample.actor().empty() ? "(any)" : sample.actor(),
        " counted instead of logged one by one (", why, ") between ",
        Rfc3339(tally.first), " and ", Rfc3339(tally.last)));
    auto& fields = *summary.mutable_fields();
    fields["count"] = absl::StrCat(tally.count);
    fields["rule"] = rule;
    fields["why"] = why;
    fields["first_unix_micros"] = absl::StrCat(absl::ToUnixMicros(tally.first));
    fields["last_unix_micros"] = absl::StrCat(absl::ToUnixMicros(tally.last));
    for (const char* name : {"method", "path", "role"}) {
      auto f = sample.fields().find(name);
      if (f != sample.fields().end())
        fields[absl::StrCat("first_", name)] = f->second;
    }
    Append(std::move(summary));
  }
}

void EventQueue::Commit() {
  turn_denials_.clear();
  ReleaseTallies();
  if (db_ != nullptr) WriteUncommitted();
}

void EventQueue::WriteUncommitted() {
  if (uncommitted_.empty()) return;
  // One transaction for the lot; if any insert fails, none is kept and the
  // events count as dropped, which the next event reports.
  bool ok = Exec("BEGIN");
  Statement stmt = Prepare("INSERT INTO events (id, event) VALUES (?, ?)");
  for (const auto& [id, blob] : uncommitted_) {
    if (!ok || !stmt) break;
    sqlite3_bind_int64(stmt.get(), 1, id);
    sqlite3_bind_blob(stmt.get(), 2, blob.data(), static_cast<int>(blob.size()),
                      SQLITE_STATIC);
    ++statements_;
    ok = sqlite3_step(stmt.get()) == SQLITE_DONE;
    sqlite3_reset(stmt.get());
  }
  stmt.reset();
  ok = ok && Exec("COMMIT");
  if (ok) {
    count_ += uncommitted_.size();
  } else {
    LOG(ERROR) << "event queue insert failed: " << sqlite3_errmsg(db_);
    Exec("ROLLBACK");
    dropped_ += uncommitted_.size();
  }
  uncommitted_.clear();
  PublishDepth();
}

std::vector<bowden::v1::AuditEvent> EventQueue::Peek(size_t limit,
                                                     int64_t* last_id) {
  Commit();
  std::vector<bowden::v1::AuditEvent> events;
  *last_id = 0;
  if (db_ == nullptr) {
    for (size_t i = 0; i < memory_.size() && events.size() < limit; ++i) {
      events.push_back(memory_[i].second);
      *last_id = memory_[i].first;
    }
    return events;
  }
  Statement stmt = Prepare("SELECT id, event FROM events ORDER BY id LIMIT ?");
  sqlite3_bind_int64(stmt.get(), 1, static_cast<int64_t>(limit));
  while (sqlite3_step(stmt.get()) == SQLITE_ROW) {
    bowden::v1::AuditEvent event;
    const void* blob = sqlite3_column_blob(stmt.get(), 1);
    int size = sqlite3_column_bytes(stmt.get(), 1);
    if (event.ParseFromArray(blob, size)) events.push_back(std::move(event));
    *last_id = sqlite3_column_int64(stmt.get(), 0);
  }
  return events;
}

void EventQueue::Ack(int64_t last_id) {
  Commit();
  if (db_ == nullptr) {
    while (!memory_.empty() && memory_.front().first <= last_id) {
      memory_.pop_front();
      --count_;
    }
  } else {
    Statement stmt = Prepare("DELETE FROM events WHERE id <= ?");
    sqlite3_bind_int64(stmt.get(), 1, last_id);
    if (sqlite3_step(stmt.get()) == SQLITE_DONE) {
      // What was deleted, not a COUNT(*) over what is left: O(batch), not
      // O(queue).
      size_t deleted = static_cast<size_t>(sqlite3_changes(db_));
      count_ -= std::min(count_, deleted);
    }
  }
  // The room just made is for the summaries of denials counted meanwhile.
  Commit();
  PublishDepth();
}

}  // namespace bowden::agent
