#include "agent/event_queue.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace bowden::agent {
namespace {

struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StmtFinalize>;

Statement Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    LOG(ERROR) << "event queue: " << sqlite3_errmsg(db);
  }
  return Statement(stmt);
}

int64_t QueryInt(sqlite3* db, const char* sql) {
  Statement stmt = Prepare(db, sql);
  if (stmt && sqlite3_step(stmt.get()) == SQLITE_ROW) return sqlite3_column_int64(stmt.get(), 0);
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventQueue>> EventQueue::Open(const std::string& dir,
                                                             size_t max_events) {
  if (dir.empty()) return std::unique_ptr<EventQueue>(new EventQueue(nullptr, max_events));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create state directory '", dir, "': ", strerror(errno)));
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
                   "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, event BLOB NOT NULL);",
                   nullptr, nullptr, &error) != SQLITE_OK) {
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    sqlite3_close(db);
    return absl::FailedPreconditionError(
        absl::StrCat("the event queue '", path, "' is not usable: ", message));
  }
  std::unique_ptr<EventQueue> queue(new EventQueue(db, max_events));
  queue->count_ = QueryInt(db, "SELECT COUNT(*) FROM events");
  queue->next_id_ = QueryInt(db, "SELECT COALESCE(MAX(id), 0) FROM events") + 1;
  return queue;
}

EventQueue::EventQueue(sqlite3* db, size_t max_events) : db_(db), max_events_(max_events) {}

EventQueue::~EventQueue() {
  if (db_ != nullptr) {
    Commit();
    sqlite3_close(db_);
  }
}

size_t EventQueue::size() const { return count_ + uncommitted_.size(); }

void EventQueue::Push(bowden::v1::AuditEvent event) {
  if (size() >= max_events_) {
    Commit();
    DropOldest(count_ - max_events_ + 1);
  }
  if (dropped_ > 0) {
    // Say so in the log itself, attached to the next event that fits.
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
}

void EventQueue::Commit() {
  if (uncommitted_.empty()) return;
  // One transaction for the lot; if any insert fails, none is kept and the
  // events count as dropped, which the next event reports.
  bool ok = sqlite3_exec(db_, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK;
  Statement stmt = Prepare(db_, "INSERT INTO events (id, event) VALUES (?, ?)");
  for (const auto& [id, blob] : uncommitted_) {
    if (!ok || !stmt) break;
    sqlite3_bind_int64(stmt.get(), 1, id);
    sqlite3_bind_blob(stmt.get(), 2, blob.data(), static_cast<int>(blob.size()),
                      SQLITE_STATIC);
    ok = sqlite3_step(stmt.get()) == SQLITE_DONE;
    sqlite3_reset(stmt.get());
  }
  ok = ok && stmt && sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (ok) {
    count_ += uncommitted_.size();
  } else {
    LOG(ERROR) << "event queue insert failed: " << sqlite3_errmsg(db_);
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    dropped_ += uncommitted_.size();
  }
  uncommitted_.clear();
}

std::vector<bowden::v1::AuditEvent> EventQueue::Peek(size_t limit, int64_t* last_id) {
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
  Statement stmt = Prepare(db_, "SELECT id, event FROM events ORDER BY id LIMIT ?");
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
    return;
  }
  Statement stmt = Prepare(db_, "DELETE FROM events WHERE id <= ?");
  sqlite3_bind_int64(stmt.get(), 1, last_id);
  sqlite3_step(stmt.get());
  count_ = QueryInt(db_, "SELECT COUNT(*) FROM events");
}

void EventQueue::DropOldest(size_t count) {
  dropped_ += count;
  LOG(WARNING) << "audit event queue full (" << max_events_ << "): dropping the oldest "
               << count << " event(s)";
  if (db_ == nullptr) {
    for (size_t i = 0; i < count && !memory_.empty(); ++i) memory_.pop_front();
    count_ = memory_.size();
    return;
  }
  Statement stmt =
      Prepare(db_, "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?)");
  sqlite3_bind_int64(stmt.get(), 1, static_cast<int64_t>(count));
  sqlite3_step(stmt.get());
  count_ = QueryInt(db_, "SELECT COUNT(*) FROM events");
}

}  // namespace bowden::agent
