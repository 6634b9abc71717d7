#include "relay/accept_gate.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "glog/logging.h"

namespace bowden::relay {
namespace {

int RawAccept(int listener, sockaddr* addr, socklen_t* len, int flags) {
  return static_cast<int>(syscall(SYS_accept4, listener, addr, len, flags));
}

// "1.2.3.4" / "::1" and "1.2.3.4:5678" / "[::1]:5678", the latter as gRPC's
// peer strings end. IPv4-mapped IPv6 addresses count as IPv4, as in gRPC.
bool Describe(const sockaddr_storage& addr, std::string* source, std::string* peer) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &v4->sin_addr, text, sizeof(text));
    *source = text;
    *peer = absl::StrCat(text, ":", ntohs(v4->sin_port));
    return true;
  }
  if (addr.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], text, sizeof(text));
      *source = text;
      *peer = absl::StrCat(text, ":", ntohs(v6->sin6_port));
      return true;
    }
    inet_ntop(AF_INET6, &v6->sin6_addr, text, sizeof(text));
    *source = text;
    *peer = absl::StrCat("[", text, "]:", ntohs(v6->sin6_port));
    return true;
  }
  return false;  // e.g. a Unix socket: not gated
}

class Gate {
 public:
  std::atomic<bool> installed{false};

  void Install(AcceptGate::Limits limits) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    limits_ = limits;
    if (spare_ < 0) spare_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    installed.store(true, std::memory_order_release);
  }

  // Out of descriptors: accepts one waiting connection on the spare
  // descriptor and closes it. False when none was waiting (or no spare).
  bool DropOne(int listener) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    if (spare_ < 0) spare_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (spare_ < 0) return false;
    close(spare_);
    const int fd = RawAccept(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) close(fd);
    spare_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ++stats_.dropped_out_of_descriptors;
    LogSometimes(absl::StrCat(
        "out of file descriptors: dropped ", stats_.dropped_out_of_descriptors,
        " waiting connection(s) so far; raise LimitNOFILE (or ulimit -n) if this is not a flood"));
    return true;
  }

  // Whether a new connection may stay; tracks it until it authenticates.
  bool Admit(int fd, const sockaddr_storage& addr) ABSL_LOCKS_EXCLUDED(mu_) {
    std::string source, peer;
    if (!Describe(addr, &source, &peer)) return true;
    struct stat st;
    if (fstat(fd, &st) != 0) return true;
    absl::MutexLock lock(&mu_);
    if (auto stale = by_fd_.find(fd); stale != by_fd_.end()) Forget(stale);
    if (Over(source)) Prune();
    if (count_by_source_[source] >= limits_.per_source) {
      ++stats_.refused_per_source;
      LogSometimes(absl::StrCat("refused a connection from ", source, ": it already has ",
                                limits_.per_source,
                                " connections that have not authenticated (",
                                stats_.refused_per_source, " refused so far)"));
      return false;
    }
    if (static_cast<int>(by_fd_.size()) >= limits_.total) {
      ++stats_.refused_total;
      LogSometimes(absl::StrCat("refused a connection from ", source, ": ", limits_.total,
                                " connections have not authenticated yet (",
                                stats_.refused_total, " refused so far)"));
      return false;
    }
    ++count_by_source_[source];
    fd_by_peer_[peer] = fd;
    by_fd_[fd] = Tracked{source, peer, st.st_dev, st.st_ino};
    return true;
  }

  void MarkAuthenticated(absl::string_view peer) ABSL_LOCKS_EXCLUDED(mu_) {
    if (!absl::ConsumePrefix(&peer, "ipv4:")) absl::ConsumePrefix(&peer, "ipv6:");
    absl::MutexLock lock(&mu_);
    auto it = fd_by_peer_.find(peer);
    if (it == fd_by_peer_.end()) return;
    auto tracked = by_fd_.find(it->second);
    if (tracked != by_fd_.end()) Forget(tracked);
  }

  std::string PendingSources() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    Prune();
    std::vector<std::string> sources;
    for (const auto& [source, n] : count_by_source_) sources.push_back(source);
    std::sort(sources.begin(), sources.end());
    if (sources.empty()) return "";
    if (sources.size() == 1) return sources[0];
    const size_t shown = std::min<size_t>(sources.size(), 4);
    std::string list = absl::StrJoin(sources.begin(), sources.begin() + shown, ", ");
    return absl::StrCat("one of ", list, sources.size() > shown ? ", ..." : "", " (",
                        by_fd_.size(), " connections not yet authenticated)");
  }

  AcceptGate::Stats stats() ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    AcceptGate::Stats stats = stats_;
    stats.unauthenticated = static_cast<int>(by_fd_.size());
    return stats;
  }

 private:
  struct Tracked {
    std::string source;
    std::string peer;
    dev_t dev;
    ino_t inode;
  };

  bool Over(const std::string& source) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = count_by_source_.find(source);
    return (it != count_by_source_.end() && it->second >= limits_.per_source) ||
           static_cast<int>(by_fd_.size()) >= limits_.total;
  }

  void Forget(absl::flat_hash_map<int, Tracked>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto count = count_by_source_.find(it->second.source);
    if (count != count_by_source_.end() && --count->second <= 0) count_by_source_.erase(count);
    auto peer = fd_by_peer_.find(it->second.peer);
    if (peer != fd_by_peer_.end() && peer->second == it->first) fd_by_peer_.erase(peer);
    by_fd_.erase(it);
  }

  // Forgets connections gRPC has closed (the handshake deadline, a client
  // that left): their descriptor is gone or now names another socket.
  // Linear, so only run when a limit is reached.
  void Prune() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    std::vector<int> gone;
    for (const auto& [fd, tracked] : by_fd_) {
      struct stat st;
      if (fstat(fd, &st) != 0 || st.st_dev != tracked.dev || st.st_ino != tracked.inode) {
        gone.push_back(fd);
      }
    }
    for (int fd : gone) Forget(by_fd_.find(fd));
  }

  // At most one line every 10 s: a flood must not flood the log.
  void LogSometimes(const std::string& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const absl::Time now = absl::Now();
    if (now - last_log_ < absl::Seconds(10)) return;
    last_log_ = now;
    LOG(WARNING) << line;
  }

  absl::Mutex mu_;
  AcceptGate::Limits limits_ ABSL_GUARDED_BY(mu_);
  int spare_ ABSL_GUARDED_BY(mu_) = -1;
  absl::flat_hash_map<int, Tracked> by_fd_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> fd_by_peer_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> count_by_source_ ABSL_GUARDED_BY(mu_);
  AcceptGate::Stats stats_ ABSL_GUARDED_BY(mu_);
  absl::Time last_log_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

Gate& TheGate() {
  static Gate* gate = new Gate;
  return *gate;
}

}  // namespace

void AcceptGate::Install(Limits limits) { TheGate().Install(limits); }

void AcceptGate::MarkAuthenticated(absl::string_view peer) {
  if (TheGate().installed.load(std::memory_order_acquire)) TheGate().MarkAuthenticated(peer);
}

AcceptGate::Stats AcceptGate::stats() { return TheGate().stats(); }

std::string AcceptGate::PendingSources() {
  if (!TheGate().installed.load(std::memory_order_acquire)) return "";
  return TheGate().PendingSources();
}

std::string RaiseOpenFileLimit() {
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::StrCat("could not read the open-file limit: ", std::strerror(errno));
  }
  const rlim_t soft = limit.rlim_cur;
  if (limit.rlim_max == RLIM_INFINITY) limit.rlim_max = 1 << 20;
  if (soft >= limit.rlim_max) return absl::StrCat("open-file limit ", soft, " (the hard limit)");
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::StrCat("open-file limit ", soft, "; raising it to ", limit.rlim_max,
                        " failed: ", std::strerror(errno));
  }
  return absl::StrCat("raised the open-file limit from ", soft, " to the hard limit ",
                      limit.rlim_max);
}

}  // namespace bowden::relay

// The relay's accept4(): libgrpc's listener calls it instead of libc's (see
// AcceptGate). Before AcceptGate::Install it is libc's, unchanged.
extern "C" int accept4(int listener, sockaddr* addr, socklen_t* len, int flags) {
  bowden::relay::Gate& gate = bowden::relay::TheGate();
  if (!gate.installed.load(std::memory_order_acquire)) {
    return bowden::relay::RawAccept(listener, addr, len, flags);
  }
  for (;;) {
    sockaddr_storage storage;
    socklen_t storage_len = sizeof(storage);
    const int fd = bowden::relay::RawAccept(listener, reinterpret_cast<sockaddr*>(&storage),
                                            &storage_len, flags);
    if (fd < 0) {
      if (errno != EMFILE && errno != ENFILE) return -1;
      if (gate.DropOne(listener)) continue;
      // Nothing waits any more: gRPC re-arms on EAGAIN and the next client
      // gets in once descriptors are free again.
      errno = EAGAIN;
      return -1;
    }
    if (!gate.Admit(fd, storage)) {
      close(fd);
      continue;
    }
    if (addr != nullptr && len != nullptr) {
      std::memcpy(addr, &storage, std::min<socklen_t>(*len, storage_len));
      *len = storage_len;
    }
    return fd;
  }
}
