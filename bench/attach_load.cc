// attach_load: many agents' Attach streams from one process, so that
// bench/scale.sh can attach thousands of agents to a relay without starting
// thousands of bowden-agent processes (each costs ~20 MiB of RSS).
//
//   attach_load --relay 127.0.0.1:PORT --pki DIR [--prefix p-]
//               [--in_flight 100] [--deadline 300s]
//
// It reads one number a line on stdin: the total number of agents to hold
// attached. For each agent it adds (printer ids <prefix>0001, ...) it issues
// a certificate from the CA in DIR (as `bowden ca issue` does, in process),
// opens its own channel with transport::MakeRelayChannel (its own TCP and TLS
// connection, the agents' keepalive settings), starts Attach with the hello a
// real agent sends and waits for Attached. At most --in_flight attachments
// are pending at once (the relay caps connections that have not
// authenticated per source address). When every agent asked for is attached
// or has failed, or --deadline has passed, it prints "attached A failed F".
// Failed agents are not retried. At end of input it cancels every call and
// exits. The relay sees what it sees from real idle agents: one connection,
// one TLS session and one Attach stream each.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "certs/ca.h"
#include "glog/logging.h"
#include "grpcpp/grpcpp.h"
#include "identity/credentials.h"
#include "proto/tunnel.grpc.pb.h"
#include "transport/relay_channel.h"

ABSL_FLAG(std::string, relay, "", "the relay's address, HOST:PORT");
ABSL_FLAG(std::string, pki, "",
          "directory of the CA (ca.key, ca.crt); certificates go there too");
ABSL_FLAG(std::string, prefix, "p-",
          "printer ids are this prefix and a 4-digit number");
ABSL_FLAG(int, in_flight, 100, "attachments pending at once, at most");
ABSL_FLAG(absl::Duration, deadline, absl::Seconds(300),
          "time allowed for each line's agents");

namespace bowden::bench {
namespace {

using bowden::v1::AgentMessage;
using bowden::v1::AgentService;
using bowden::v1::RelayMessage;

enum Op : uintptr_t { kStart = 0, kWrite = 1, kRead = 2, kFinish = 3 };

// One simulated agent: its channel and its Attach call. Touched only by the
// completion-queue loop in main's thread; not thread-safe.
struct Agent {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<AgentService::Stub> stub;
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<AgentMessage, RelayMessage>>
      call;
  AgentMessage hello;
  RelayMessage in;
  grpc::Status status;
  bool attached = false;
  bool finished = false;

  void* Tag(Op op) {
    return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(this) | op);
  }
};
static_assert(alignof(Agent) >= 4, "two low bits of an Agent* carry the Op");

// The number of agents asked for on stdin, and whether input has ended.
// Thread-safe.
class Wanted {
 public:
  void Set(int n) {
    absl::MutexLock lock(&mu_);
    n_ = n;
    ++version_;
  }
  void End() {
    absl::MutexLock lock(&mu_);
    ended_ = true;
  }
  // {number, version of that number, input ended}.
  std::tuple<int, int, bool> Get() {
    absl::MutexLock lock(&mu_);
    return {n_, version_, ended_};
  }

 private:
  absl::Mutex mu_;
  int n_ ABSL_GUARDED_BY(mu_) = 0;
  int version_ ABSL_GUARDED_BY(mu_) = 0;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

int Run() {
  const std::string relay = absl::GetFlag(FLAGS_relay);
  const std::string pki = absl::GetFlag(FLAGS_pki);
  if (relay.empty() || pki.empty()) {
    std::cerr
        << "attach_load: give --relay HOST:PORT and --pki DIR (a CA made by "
           "`bowden ca init`)\n";
    return 2;
  }
  // The reader blocks on stdin and is detached, so that an error can end the
  // process at once; `wanted` is never freed because the reader may outlive
  // Run.
  Wanted& wanted = *new Wanted;
  std::thread([&wanted] {
    std::string line;
    while (std::getline(std::cin, line)) {
      int n;
      if (absl::SimpleAtoi(line, &n) && n >= 0) {
        wanted.Set(n);
      } else if (!line.empty()) {
        std::cerr
            << "attach_load: ignoring input line '" << line
            << "': give the number of agents to hold attached, e.g. 100\n";
      }
    }
    wanted.End();
  }).detach();

  grpc::CompletionQueue cq;
  std::vector<std::unique_ptr<Agent>> agents;
  int attached = 0, failed = 0, answered_version = 0;
  absl::Time step_deadline = absl::InfiniteFuture();
  int last_version = 0;

  auto start_agent = [&](int index) -> bool {
    std::string name =
        absl::StrFormat("%s%04d", absl::GetFlag(FLAGS_prefix), index);
    certs::IssueOptions options;
    options.role = certs::Role::kAgent;
    options.name = name;
    if (absl::Status s = certs::IssueCertificate(pki, options); !s.ok()) {
      std::cerr << "attach_load: cannot issue a certificate for " << name
                << ": " << s << "\n";
      return false;
    }
    auto agent = std::make_unique<Agent>();
    agent->channel = transport::MakeRelayChannel(
        relay, identity::TlsFiles{pki + "/" + name + ".crt",
                                  pki + "/" + name + ".key", pki + "/ca.crt"});
    agent->stub = AgentService::NewStub(agent->channel);
    agent->hello.mutable_hello()->add_targets("octoprint");
    agent->hello.mutable_hello()->set_version("bowden-attach-load/1");
    agent->call = agent->stub->PrepareAsyncAttach(&agent->context, &cq);
    agent->call->StartCall(agent->Tag(kStart));
    agents.push_back(std::move(agent));
    return true;
  };

  bool ending = false;
  while (true) {
    auto [want, version, ended] = wanted.Get();
    if (version != last_version) {
      last_version = version;
      step_deadline = absl::Now() + absl::GetFlag(FLAGS_deadline);
    }
    if (ended && !ending) {
      ending = true;
      for (auto& agent : agents) agent->context.TryCancel();
    }
    if (ending) {
      bool all_done = true;
      for (auto& agent : agents) all_done = all_done && agent->finished;
      if (all_done) break;
    } else {
      int pending = static_cast<int>(agents.size()) - attached - failed;
      while (static_cast<int>(agents.size()) - failed < want &&
             pending < absl::GetFlag(FLAGS_in_flight)) {
        if (!start_agent(static_cast<int>(agents.size()) + 1)) return 1;
        ++pending;
      }
      if (version != answered_version &&
          (attached + failed >= want || absl::Now() > step_deadline)) {
        answered_version = version;
        std::cout << "attached " << attached << " failed " << failed
                  << std::endl;
      }
    }

    void* tag;
    bool ok;
    auto status = cq.AsyncNext(
        &tag, &ok,
        std::chrono::system_clock::now() + std::chrono::milliseconds(50));
    if (status != grpc::CompletionQueue::GOT_EVENT) continue;
    auto* agent = reinterpret_cast<Agent*>(reinterpret_cast<uintptr_t>(tag) &
                                           ~uintptr_t{3});
    switch (static_cast<Op>(reinterpret_cast<uintptr_t>(tag) & 3)) {
      case kStart:
        if (!ok) {
          agent->call->Finish(&agent->status, agent->Tag(kFinish));
          break;
        }
        agent->call->Write(agent->hello, agent->Tag(kWrite));
        agent->call->Read(&agent->in, agent->Tag(kRead));
        break;
      case kWrite:
        break;  // the hello is the only message an idle agent sends
      case kRead:
        if (!ok) {
          agent->call->Finish(&agent->status, agent->Tag(kFinish));
          break;
        }
        if (agent->in.has_attached() && !agent->attached) {
          agent->attached = true;
          ++attached;
        }
        agent->call->Read(&agent->in, agent->Tag(kRead));
        break;
      case kFinish:
        agent->finished = true;
        if (agent->attached) --attached;
        if (!ending) {
          ++failed;
          LOG(WARNING) << "an Attach ended: " << agent->status.error_code()
                       << " " << agent->status.error_message();
        }
        break;
    }
  }
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return 0;
}

}  // namespace
}  // namespace bowden::bench

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  google::InitGoogleLogging(argv[0]);
  return bowden::bench::Run();
}
