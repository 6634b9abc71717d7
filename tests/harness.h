#ifndef BOWDEN_TESTS_HARNESS_H_
#define BOWDEN_TESTS_HARNESS_H_

// Multi-process test harness: real bowden-relay, bowden-agent and bowden
// processes on loopback, a PKI minted per test with the real CLI, and small
// in-process TCP targets. Waits poll a condition until a deadline; nothing
// sleeps for a fixed time.

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/support/status.h"
#include "identity/credentials.h"
#include "tunnel/unique_fd.h"

namespace bowden::testing {

// Path of a binary built by this repository, e.g. "relay/bowden-relay".
std::string BinaryPath(const std::string& relative);

// A fresh directory, removed with everything in it on destruction.
// Thread-compatible.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The whole file at `path`, or "" if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// Runs `condition` until it returns true or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition,
             absl::Duration timeout = absl::Seconds(20));

// A child process whose stdout and stderr go to files. Killed (SIGKILL) on
// destruction if still running. Thread-compatible.
class Process {
 public:
  Process(std::vector<std::string> argv, const std::string& log_prefix);
  ~Process();

  pid_t pid() const { return pid_; }
  std::string Stdout() const;
  std::string Stderr() const;
  // Waits until stdout+stderr contain `text` `times` times.
  bool WaitForOutput(const std::string& text, int times = 1,
                     absl::Duration timeout = absl::Seconds(20)) const;
  // Waits for the process to exit; returns its exit code, or -1 on timeout,
  // or 128+signal if killed.
  int Wait(absl::Duration timeout = absl::Seconds(20));
  void Signal(int signal);
  bool running();

 private:
  pid_t pid_ = -1;
  std::string out_path_;
  std::string err_path_;
  int exit_code_ = -1;
};

// Runs a process to completion and returns its exit code; output in *out.
int RunToCompletion(const std::vector<std::string>& argv, std::string* out,
                    absl::Duration timeout = absl::Seconds(30));

// A farm PKI minted with the real `bowden ca` commands.
class Pki {
 public:
  Pki(const std::string& dir, const std::string& trust_domain);
  // Issues DIR/NAME.{crt,key}; ASSERTs success.
  void Issue(const std::string& role, const std::string& name,
             const std::vector<std::string>& extra = {});
  identity::TlsFiles Files(const std::string& name) const;
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// A TCP server on 127.0.0.1 running `serve` for each accepted connection on
// its own thread. Stops and joins on destruction. Thread-safe.
class TcpTarget {
 public:
  using Serve = std::function<void(tunnel::UniqueFd)>;
  explicit TcpTarget(Serve serve);
  ~TcpTarget();
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  tunnel::UniqueFd listener_;
  int port_ = 0;
  Serve serve_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

// Connection handlers for TcpTarget.
// Echoes every byte until EOF, then closes.
void EchoUntilEof(tunnel::UniqueFd socket);
// Reads until EOF, then answers with the hex SHA-256 of what it read followed
// by `extra` bytes of a fixed pattern, then closes.
void DigestAfterEof(tunnel::UniqueFd socket, size_t extra);

// A port on 127.0.0.1 where nothing listens.
int ClosedPort();
// Connects to 127.0.0.1:port (blocking socket).
tunnel::UniqueFd ConnectTo(int port);
// Writes all of `data`; false on error.
bool WriteAll(int fd, const std::string& data);
// Reads until EOF (or error); returns what arrived.
std::string ReadAll(int fd);
std::string RandomBytes(size_t n);
// How many times `needle` occurs in `haystack`, without overlaps.
int CountOccurrences(const std::string& haystack, const std::string& needle);
std::string Sha256Hex(const std::string& data);

// One Dial through the relay at `relay_address` with `tls`'s certificate:
// sends `payload` (if any) and a fin, half-closes, drains the answer into
// `*received` (if given) and returns the call's final status.
grpc::Status DialOnce(const std::string& relay_address, const identity::TlsFiles& tls,
                      const std::string& printer, const std::string& target,
                      const std::string& payload = "", std::string* received = nullptr);

// Starts nginx in `dir` (as a stand-in for OctoPrint or a webcam) with
// `servers`, the contents of its http block (server blocks, log formats),
// after the settings every test needs (foreground, pid and temp files in
// `dir`, errors on stderr). Waits until each of `ports` answers HTTP on
// 127.0.0.1; ADD_FAILUREs and returns what it started either way.
std::unique_ptr<Process> StartNginx(const TempDir& dir, const std::string& servers,
                                    const std::vector<int>& ports);

// A running farm: relay + one agent + helpers to open user sessions.
class Farm {
 public:
  struct Options {
    std::vector<std::string> relay_extra_flags;  // e.g. {"--allow", "alice=*"}
    // Runs the relay through this command, e.g. {"prlimit", "--nofile=1024", "--"}.
    std::vector<std::string> relay_prefix;
    std::string printer = "prusa-01";
    std::vector<std::string> targets;  // NAME=127.0.0.1:PORT
    // Run the relay with --ca-dir (the farm's PKI) and --enroll-listen.
    bool enrollment = false;
    // Run the relay with --ca-dir only: it signs renewals.
    bool relay_signs = false;
    // The relay trusts pki/bundle.crt instead of pki/ca.crt (CA rotation).
    bool relay_trusts_bundle = false;
    // `--ttl` for the agent's certificate ("" = the CLI's default).
    std::string agent_cert_ttl;
    // `--ttl` for the relay's certificate ("" = the CLI's default).
    std::string relay_cert_ttl;
    // The agent gets its own copies of its certificate, key and CA under
    // dir()/agent-files, as on a real printer host, so what renewal writes
    // there cannot touch the farm's PKI directory.
    bool agent_keeps_own_files = false;
    std::vector<std::string> agent_extra_flags;
  };
  explicit Farm(Options options);
  ~Farm();

  Pki& pki() { return *pki_; }
  TempDir& dir() { return dir_; }
  int relay_port() const { return relay_port_; }
  std::string relay_address() const;
  Process& relay() { return *relay_; }
  Process& agent() { return *agent_; }
  // The files the agent runs with.
  identity::TlsFiles agent_files() const;

  // (Re)starts the relay on relay_port() (0 the first time) and waits until
  // it listens.
  void StartRelay();
  void StartAgent(const std::string& cert_name);
  // Waits until the agent has logged its n-th attachment.
  bool WaitAttached(int times = 1);
  // Starts `bowden open PRINTER --target TARGET` as `user`; returns the local
  // port it listens on, or 0.
  int Open(const std::string& user, const std::string& printer,
           const std::string& target);
  // The `bowden open` process the last Open() started.
  Process& last_open() { return *opens_.back(); }
  // CLI argv prefix for `user`: bowden --relay ... --cert ... --key ... --ca ...
  std::vector<std::string> CliAs(const std::string& user) const;

 private:
  Options options_;
  TempDir dir_;
  std::unique_ptr<Pki> pki_;
  int relay_port_ = 0;
  std::unique_ptr<Process> relay_;
  std::unique_ptr<Process> agent_;
  std::vector<std::unique_ptr<Process>> opens_;
};

}  // namespace bowden::testing

#endif  // BOWDEN_TESTS_HARNESS_H_
