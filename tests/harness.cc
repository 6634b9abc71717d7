#include "tests/harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"
#include "tunnel/net.h"

extern char** environ;

namespace bowden::testing {

std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

namespace {

// The line bowden-relay prints once its port accepts connections.
constexpr char kRelayListening[] = "bowden-relay listening on port";

}  // namespace

int CountOccurrences(const std::string& haystack, const std::string& needle) {
  int count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

std::string BinaryPath(const std::string& relative) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir ? srcdir : ".", "/bowden/", relative);
}

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern = absl::StrCat(base ? base : "/tmp", "/bowden.XXXXXX");
  path_ = mkdtemp(pattern.data());
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(5);
  while (true) {
    if (condition()) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(pause);
    pause = std::min(pause * 2, absl::Milliseconds(100));
  }
}

Process::Process(std::vector<std::string> argv, const std::string& log_prefix)
    : out_path_(log_prefix + ".out"), err_path_(log_prefix + ".err") {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) {
    ADD_FAILURE() << "cannot start " << argv[0];
    pid_ = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
}

Process::~Process() {
  if (pid_ > 0 && exit_code_ < 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::string Process::Stdout() const { return ReadFileOrEmpty(out_path_); }
std::string Process::Stderr() const { return ReadFileOrEmpty(err_path_); }

bool Process::WaitForOutput(const std::string& text, int times,
                            absl::Duration timeout) const {
  return WaitFor(
      [&] { return CountOccurrences(Stdout() + Stderr(), text) >= times; }, timeout);
}

int Process::Wait(absl::Duration timeout) {
  if (exit_code_ >= 0) return exit_code_;
  WaitFor(
      [&] {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return true;
      },
      timeout);
  return exit_code_;
}

void Process::Signal(int signal) {
  if (exit_code_ < 0) kill(pid_, signal);
}

bool Process::running() {
  if (exit_code_ >= 0) return false;
  return Wait(absl::ZeroDuration()) < 0;
}

int RunToCompletion(const std::vector<std::string>& argv, std::string* out,
                    absl::Duration timeout) {
  TempDir logs;
  Process process(argv, logs.File("run"));
  int code = process.Wait(timeout);
  if (out != nullptr) *out = process.Stdout() + process.Stderr();
  return code;
}

Pki::Pki(const std::string& dir, const std::string& trust_domain) : dir_(dir) {
  std::string out;
  int code = RunToCompletion({BinaryPath("cli/bowden"), "ca", "init", "--dir", dir_,
                              "--trust-domain", trust_domain},
                             &out);
  EXPECT_EQ(code, 0) << out;
}

void Pki::Issue(const std::string& role, const std::string& name,
                const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {BinaryPath("cli/bowden"), "ca", "issue",
                                   "--dir", dir_, role, name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  std::string out;
  int code = RunToCompletion(argv, &out);
  ASSERT_EQ(code, 0) << out;
}

identity::TlsFiles Pki::Files(const std::string& name) const {
  return {absl::StrCat(dir_, "/", name, ".crt"), absl::StrCat(dir_, "/", name, ".key"),
          absl::StrCat(dir_, "/ca.crt")};
}

TcpTarget::TcpTarget(Serve serve) : serve_(std::move(serve)) {
  auto listener = tunnel::ListenTcp({"127.0.0.1", 0});
  EXPECT_TRUE(listener.ok()) << listener.status();
  listener_ = *std::move(listener);
  port_ = *tunnel::LocalPort(listener_.get());
  // Blocking accept with a timeout, so the destructor can stop the thread.
  int flags = fcntl(listener_.get(), F_GETFL);
  fcntl(listener_.get(), F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{0, 100000};
  setsockopt(listener_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  acceptor_ = std::thread([this] {
    while (!stopping_) {
      int fd = accept(listener_.get(), nullptr, nullptr);
      if (fd < 0) continue;
      // Accepted sockets inherit the listener's receive timeout; the
      // handlers must block for as long as their peer takes.
      timeval forever{0, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &forever, sizeof(forever));
      ++accepted_;
      workers_.emplace_back(serve_, tunnel::UniqueFd(fd));
    }
  });
}

TcpTarget::~TcpTarget() {
  stopping_ = true;
  acceptor_.join();
  for (auto& worker : workers_) worker.join();
}

void EchoUntilEof(tunnel::UniqueFd socket) {
  char buffer[65536];
  while (true) {
    ssize_t n = read(socket.get(), buffer, sizeof(buffer));
    if (n <= 0) return;
    if (!WriteAll(socket.get(), std::string(buffer, n))) return;
  }
}

void DigestAfterEof(tunnel::UniqueFd socket, size_t extra) {
  std::string request = ReadAll(socket.get());
  std::string response = Sha256Hex(request) + "\n" + std::string(extra, 'z');
  WriteAll(socket.get(), response);
}

int ClosedPort() {
  auto listener = tunnel::ListenTcp({"127.0.0.1", 0});
  return *tunnel::LocalPort(listener->get());  // closed when `listener` goes
}

tunnel::UniqueFd ConnectTo(int port) {
  tunnel::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ADD_FAILURE() << "connect to port " << port << ": " << strerror(errno);
  }
  return fd;
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += n;
  }
  return true;
}

std::string ReadAll(int fd) {
  std::string data;
  char buffer[65536];
  while (true) {
    ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return data;
    data.append(buffer, n);
  }
}

std::string RandomBytes(size_t n) {
  std::mt19937_64 gen(std::random_device{}());
  std::string data(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = gen();
    std::memcpy(&data[i], &v, std::min<size_t>(8, n - i));
  }
  return data;
}

std::string Sha256Hex(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

grpc::Status DialOnce(const std::string& relay_address, const identity::TlsFiles& tls,
                      const std::string& printer, const std::string& target,
                      const std::string& payload, std::string* received) {
  auto stub = bowden::v1::UserService::NewStub(
      transport::MakeRelayChannel(relay_address, tls));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  context.AddMetadata("bowden-printer", printer);
  context.AddMetadata("bowden-target", target);
  auto stream = stub->Dial(&context);
  bowden::v1::Chunk chunk;
  if (!payload.empty()) {
    chunk.set_data(payload);
    stream->Write(chunk);
  }
  bowden::v1::Chunk fin;
  fin.set_fin(true);
  stream->Write(fin);
  stream->WritesDone();
  while (stream->Read(&chunk)) {
    if (received != nullptr) received->append(chunk.data());
  }
  return stream->Finish();
}

Farm::Farm(Options options) : options_(std::move(options)) {
  pki_ = std::make_unique<Pki>(dir_.File("pki"), "farm.test");
  std::vector<std::string> relay_flags = {"--ip", "127.0.0.1", "--dns",
                                          "localhost"};
  if (!options_.relay_cert_ttl.empty()) {
    relay_flags.insert(relay_flags.end(), {"--ttl", options_.relay_cert_ttl});
  }
  pki_->Issue("relay", "relay", relay_flags);
  if (options_.agent_cert_ttl.empty()) {
    pki_->Issue("agent", options_.printer);
  } else {
    pki_->Issue("agent", options_.printer, {"--ttl", options_.agent_cert_ttl});
  }
  pki_->Issue("user", "alice");
  if (options_.agent_keeps_own_files) {
    identity::TlsFiles from = pki_->Files(options_.printer);
    identity::TlsFiles to = agent_files();
    mkdir(dir_.File("agent-files").c_str(), 0700);
    for (auto [src, dst] : {std::pair{from.cert, to.cert}, {from.key, to.key}, {from.ca, to.ca}}) {
      std::ifstream in(src, std::ios::binary);
      std::ofstream(dst, std::ios::binary) << in.rdbuf();
    }
    chmod(to.key.c_str(), 0600);
  }
  StartRelay();
  StartAgent(options_.printer);
}

identity::TlsFiles Farm::agent_files() const {
  if (!options_.agent_keeps_own_files) return pki_->Files(options_.printer);
  return {dir_.File("agent-files/agent.crt"), dir_.File("agent-files/agent.key"),
          dir_.File("agent-files/ca.crt")};
}

Farm::~Farm() = default;

std::string Farm::relay_address() const { return absl::StrCat("127.0.0.1:", relay_port_); }

void Farm::StartRelay() {
  relay_.reset();  // a previous relay, if any, is killed first
  // Its log files are appended to, so a previous relay's "listening" line is
  // already there: wait for one more, the new relay's own, or callers would
  // connect before it listens and find nothing on the port.
  const std::string log_prefix = dir_.File("relay");
  const int listening_before =
      CountOccurrences(ReadFileOrEmpty(log_prefix + ".out") +
                           ReadFileOrEmpty(log_prefix + ".err"),
                       kRelayListening);
  identity::TlsFiles tls = pki_->Files("relay");
  std::vector<std::string> argv = {
      BinaryPath("relay/bowden-relay"), "--listen", relay_address(), "--cert", tls.cert,
      "--key", tls.key, "--ca",
      options_.relay_trusts_bundle ? absl::StrCat(pki_->dir(), "/bundle.crt") : tls.ca,
      "--state-dir", dir_.File("state")};
  argv.insert(argv.end(), options_.relay_extra_flags.begin(),
              options_.relay_extra_flags.end());
  argv.insert(argv.begin(), options_.relay_prefix.begin(), options_.relay_prefix.end());
  if (options_.enrollment) {
    argv.insert(argv.end(), {"--ca-dir", pki_->dir(), "--enroll-listen", "127.0.0.1:0"});
  } else if (options_.relay_signs) {
    argv.insert(argv.end(), {"--ca-dir", pki_->dir()});
  }
  relay_ = std::make_unique<Process>(argv, log_prefix);
  ASSERT_TRUE(relay_->WaitForOutput(kRelayListening, listening_before + 1))
      << relay_->Stderr();
  if (relay_port_ == 0) {
    std::smatch match;
    std::string out = relay_->Stdout();
    ASSERT_TRUE(std::regex_search(out, match, std::regex("on port (\\d+)")));
    relay_port_ = std::stoi(match[1]);
  }
}

void Farm::StartAgent(const std::string& cert_name) {
  identity::TlsFiles tls =
      cert_name == options_.printer ? agent_files() : pki_->Files(cert_name);
  std::vector<std::string> argv = {BinaryPath("agent/bowden-agent"), "--relay",
                                   relay_address(), "--cert", tls.cert, "--key",
                                   tls.key, "--ca", tls.ca};
  for (const std::string& target : options_.targets) {
    argv.push_back("--target");
    argv.push_back(target);
  }
  argv.insert(argv.end(), options_.agent_extra_flags.begin(), options_.agent_extra_flags.end());
  agent_ = std::make_unique<Process>(argv, dir_.File("agent"));
}

bool Farm::WaitAttached(int times) {
  return agent_->WaitForOutput("attached as printer", times);
}

std::vector<std::string> Farm::CliAs(const std::string& user) const {
  identity::TlsFiles tls = pki_->Files(user);
  return {BinaryPath("cli/bowden"), "--relay", relay_address(), "--cert", tls.cert,
          "--key", tls.key, "--ca", tls.ca};
}

std::unique_ptr<Process> StartNginx(const TempDir& dir, const std::string& servers,
                                    const std::vector<int>& ports) {
  std::ofstream(dir.File("nginx.conf"))
      << "daemon off; master_process off; worker_processes 1;\n"
      << "pid " << dir.File("nginx.pid") << ";\nerror_log stderr;\n"
      << "events {}\nhttp {\n"
      << " client_body_temp_path " << dir.path() << ";\n"
      << " proxy_temp_path " << dir.path() << ";\n"
      << " fastcgi_temp_path " << dir.path() << ";\n"
      << " uwsgi_temp_path " << dir.path() << ";\n"
      << " scgi_temp_path " << dir.path() << ";\n"
      << servers << "}\n";
  auto nginx = std::make_unique<Process>(
      std::vector<std::string>{"/usr/sbin/nginx", "-p", dir.path(), "-c", dir.File("nginx.conf")},
      dir.File("nginx"));
  for (int port : ports) {
    if (!WaitFor([&] {
          std::string out;
          return RunToCompletion({"/usr/bin/curl", "-s", "-o", "/dev/null",
                                  absl::StrCat("http://127.0.0.1:", port, "/")},
                                 &out) == 0;
        })) {
      ADD_FAILURE() << "nginx does not answer on port " << port << ": " << nginx->Stderr();
    }
  }
  return nginx;
}

int Farm::Open(const std::string& user, const std::string& printer,
               const std::string& target) {
  std::vector<std::string> argv = CliAs(user);
  for (const char* arg : {"open", "--no-browser", "--listen", "127.0.0.1:0", "--target"}) {
    argv.push_back(arg);
  }
  argv.push_back(target);
  argv.push_back(printer);
  opens_.push_back(std::make_unique<Process>(
      argv, dir_.File(absl::StrCat("open", opens_.size()))));
  Process& open = *opens_.back();
  if (!open.WaitForOutput("Forwarding http://127.0.0.1:")) {
    ADD_FAILURE() << "bowden open did not start: " << open.Stderr();
    return 0;
  }
  std::smatch match;
  std::string out = open.Stdout();
  if (!std::regex_search(out, match, std::regex("http://127\\.0\\.0\\.1:(\\d+)/"))) return 0;
  return std::stoi(match[1]);
}

}  // namespace bowden::testing
