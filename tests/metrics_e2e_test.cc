// End-to-end: the relay's and the agent's Prometheus metrics, scraped with
// curl from real processes while real traffic crosses the tunnel, and read
// by Prometheus's own parser (`promtool check metrics`).

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/harness.h"

namespace bowden::testing {
namespace {

constexpr char kPromtool[] = "/usr/bin/promtool";

// The body of GET http://127.0.0.1:port/metrics, or "" if the scrape failed.
std::string Scrape(int port) {
  std::string out;
  if (RunToCompletion({"/usr/bin/curl", "-sf",
                       absl::StrCat("http://127.0.0.1:", port, "/metrics")},
                      &out) != 0) {
    return "";
  }
  return out;
}

// The value of the sample whose name and labels are exactly `series` (e.g.
// `bowden_relay_relayed_bytes_total{direction="up"}`), or -1 if absent.
double Sample(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      size_t end = text.find('\n', at);
      double value = -1;
      if (absl::SimpleAtod(
              text.substr(at + series.size() + 1, end - at - series.size() - 1),
              &value)) {
        return value;
      }
    }
    at += series.size();
  }
  return -1;
}

// The HTTP status curl got for `method` on `url`.
std::string HttpCode(const std::string& method, const std::string& url) {
  std::string out;
  RunToCompletion({"/usr/bin/curl", "-s", "-o", "/dev/null", "-w",
                   "%{http_code}", "-X", method, url},
                  &out);
  return out;
}

// A TCP listener on 127.0.0.1 that is never accepted from: a port taken.
class TakenPort {
 public:
  TakenPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&address), length), 0);
    EXPECT_EQ(listen(fd_, 1), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~TakenPort() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

class MetricsTest : public ::testing::Test {
 protected:
  void StartWeb() {
    std::ofstream(web_.File("index.html")) << "hello through the tunnel\n";
    web_port_ = ClosedPort();
    nginx_ = StartNginx(
        web_,
        absl::StrCat(" access_log off;\n server { listen 127.0.0.1:", web_port_,
                     "; root ", web_.path(), "; }\n"),
        {web_port_});
  }
  // `files` passes bytes as they are; `cam` is behind the webcam guard.
  Farm::Options FarmOptions(int relay_metrics, int agent_metrics) {
    Farm::Options options;
    options.relay_extra_flags = {
        "--allow", "alice=prusa-*",
        absl::StrCat("--metrics-listen=127.0.0.1:", relay_metrics)};
    options.agent_extra_flags = {
        absl::StrCat("--metrics-listen=127.0.0.1:", agent_metrics)};
    options.targets = {
        absl::StrCat("files=127.0.0.1:", web_port_, ",guard=none"),
        absl::StrCat("cam=127.0.0.1:", web_port_, ",guard=webcam")};
    return options;
  }
  // curl through `bowden open` on `port`; true on HTTP 200 with the page.
  bool CurlThrough(int port) {
    std::string out;
    return RunToCompletion({"/usr/bin/curl", "-sf",
                            absl::StrCat("http://127.0.0.1:", port, "/")},
                           &out) == 0 &&
           out == "hello through the tunnel\n";
  }

  TempDir web_;
  int web_port_ = 0;
  std::unique_ptr<Process> nginx_;
};

TEST_F(MetricsTest, RelayAndAgentCountATunnelAndPromtoolReadsThem) {
  ASSERT_TRUE(access(kPromtool, X_OK) == 0)
      << kPromtool
      << " is missing: run scripts/install-deps.sh (Debian's prometheus "
         "package)";
  StartWeb();
  const int relay_metrics = ClosedPort();
  const int agent_metrics = ClosedPort();
  Farm farm(FarmOptions(relay_metrics, agent_metrics));
  ASSERT_TRUE(farm.WaitAttached());
  int files = farm.Open("alice", "prusa-01", "files");
  ASSERT_NE(files, 0);
  ASSERT_TRUE(CurlThrough(files)) << farm.last_open().Stderr();

  // A Dial the policy refuses (alice may reach prusa-* only), over real mTLS.
  grpc::Status refused =
      DialOnce(farm.relay_address(), farm.pki().Files("alice"), "ender-02",
               "files", "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << refused.error_message();
  // A request the agent's webcam guard refuses (only stream and snapshot).
  int cam = farm.Open("alice", "prusa-01", "cam");
  ASSERT_NE(cam, 0);
  EXPECT_EQ(HttpCode("GET", absl::StrCat("http://127.0.0.1:", cam, "/secrets")),
            "403");

  // One connection held open: one live session on each side.
  tunnel::UniqueFd held = ConnectTo(files);
  ASSERT_TRUE(held.get() >= 0);
  std::string relay;
  // Counters are added to per chunk; wait until the scrape has all of them.
  EXPECT_TRUE(WaitFor([&] {
    relay = Scrape(relay_metrics);
    return Sample(relay, "bowden_relay_denials_total{reason=\"policy\"}") >=
               1 &&
           Sample(relay, "bowden_relay_session_setup_seconds_count") >= 3 &&
           Sample(relay, "bowden_relay_sessions") == 1 &&
           Sample(relay,
                  "bowden_relay_relayed_bytes_total{direction=\"down\"}") > 0;
  })) << relay;
  EXPECT_EQ(Sample(relay, "bowden_relay_attached_agents"), 1) << relay;
  EXPECT_EQ(Sample(relay, "bowden_relay_agent_attaches_total"), 1) << relay;
  EXPECT_GT(Sample(relay, "bowden_relay_relayed_bytes_total{direction=\"up\"}"),
            0)
      << relay;
  EXPECT_EQ(Sample(relay, "bowden_relay_denials_total{reason=\"identity\"}"), 0)
      << relay;
  EXPECT_GE(Sample(relay, "bowden_relay_audit_queue_depth"), 0) << relay;
  EXPECT_GT(Sample(relay, "bowden_certificate_expiry_timestamp_seconds"),
            absl::ToUnixSeconds(absl::Now()))
      << relay;
  EXPECT_NE(relay.find("bowden_build_info{"), std::string::npos) << relay;

  std::string agent;
  EXPECT_TRUE(WaitFor([&] {
    agent = Scrape(agent_metrics);
    return Sample(agent,
                  "bowden_agent_guard_refusals_total{rule_class=\"default-"
                  "deny\"}") >= 1 &&
           Sample(agent,
                  "bowden_agent_carried_bytes_total{direction=\"down\"}") > 0 &&
           Sample(agent, "bowden_agent_sessions") == 1;
  })) << agent;
  EXPECT_EQ(Sample(agent, "bowden_agent_relay_connected"), 1) << agent;
  EXPECT_EQ(Sample(agent, "bowden_agent_relay_reconnects_total"), 0) << agent;
  EXPECT_GT(Sample(agent, "bowden_agent_carried_bytes_total{direction=\"up\"}"),
            0)
      << agent;
  EXPECT_GE(Sample(agent, "bowden_agent_audit_queue_depth"), 0) << agent;
  EXPECT_GT(Sample(agent, "bowden_certificate_expiry_timestamp_seconds"),
            absl::ToUnixSeconds(absl::Now()))
      << agent;

  // Prometheus's own parser and linter read both.
  for (const auto& [name, text] :
       {std::pair<const char*, std::string*>{"relay", &relay},
        {"agent", &agent}}) {
    std::string file = farm.dir().File(absl::StrCat(name, ".metrics"));
    std::ofstream(file) << *text;
    std::string out;
    EXPECT_EQ(
        RunToCompletion({"/bin/sh", "-c",
                         absl::StrCat(kPromtool, " check metrics < ", file)},
                        &out),
        0)
        << name << ": " << out;
  }

  // Only GET /metrics is served.
  const std::string base = absl::StrCat("http://127.0.0.1:", relay_metrics);
  EXPECT_EQ(HttpCode("GET", base + "/"), "404");
  EXPECT_EQ(HttpCode("GET", base + "/other"), "404");
  EXPECT_NE(HttpCode("POST", base + "/metrics"), "200");
  EXPECT_NE(HttpCode("DELETE", base + "/metrics"), "200");
}

TEST_F(MetricsTest, APortAlreadyTakenLeavesTheTunnelRunning) {
  StartWeb();
  TakenPort taken;
  Farm farm(FarmOptions(taken.port(), taken.port()));
  ASSERT_TRUE(farm.WaitAttached());
  int files = farm.Open("alice", "prusa-01", "files");
  ASSERT_NE(files, 0);
  EXPECT_TRUE(CurlThrough(files)) << farm.last_open().Stderr();
  const std::string warning =
      absl::StrCat("no metrics: cannot listen on 127.0.0.1:", taken.port());
  EXPECT_TRUE(farm.relay().WaitForOutput(warning)) << farm.relay().Stderr();
  EXPECT_TRUE(farm.agent().WaitForOutput(warning)) << farm.agent().Stderr();
  EXPECT_TRUE(farm.relay().running());
  EXPECT_TRUE(farm.agent().running());
}

TEST_F(MetricsTest, OffServesNoMetrics) {
  StartWeb();
  const int port = ClosedPort();
  Farm::Options options = FarmOptions(port, port);
  options.relay_extra_flags.back() = "--metrics-listen=off";
  options.agent_extra_flags.back() = "--metrics-listen=off";
  Farm farm(options);
  ASSERT_TRUE(farm.WaitAttached());
  EXPECT_EQ(Scrape(port), "");
  EXPECT_EQ(farm.relay().Stderr().find("metrics"), std::string::npos)
      << farm.relay().Stderr();
}

TEST_F(MetricsTest, ConfigFilesSetTheAddress) {
  StartWeb();
  const int relay_metrics = ClosedPort();
  const int agent_metrics = ClosedPort();
  TempDir configs;
  std::ofstream(configs.File("relay.textproto"))
      << "metrics_listen: \"127.0.0.1:" << relay_metrics << "\"\n";
  std::ofstream(configs.File("agent.textproto"))
      << "metrics_listen: \"127.0.0.1:" << agent_metrics << "\"\n";
  Farm::Options options = FarmOptions(0, 0);
  options.relay_extra_flags.back() =
      "--config=" + configs.File("relay.textproto");
  options.agent_extra_flags.back() =
      "--config=" + configs.File("agent.textproto");
  Farm farm(options);
  ASSERT_TRUE(farm.WaitAttached());
  EXPECT_TRUE(WaitFor([&] {
    return Sample(Scrape(relay_metrics), "bowden_relay_attached_agents") == 1;
  })) << farm.relay().Stderr();
  EXPECT_TRUE(WaitFor([&] {
    return Sample(Scrape(agent_metrics), "bowden_agent_relay_connected") == 1;
  })) << farm.agent().Stderr();
}

}  // namespace
}  // namespace bowden::testing
