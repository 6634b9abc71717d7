// The stock OctoPrint UI through Bowden, end to end: every request the real
// OctoPrint 1.10.3 UI made (tests/data/octoprint-1.10.3-ui-traffic.tsv) goes
// from a viewer's, an operator's and an admin's `bowden open` through the relay
// and the agent's guard to a stand-in that answers as OctoPrint did, and each
// gets the verdict docs/octoprint-ui.md gives it. Then a real headless
// Chromium loads a page through a viewer's tunnel that opens the push socket
// and shows the webcam's MJPEG stream from `/webcam/` on the same URL.

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "policy/policy.h"
#include "tests/harness.h"
#include "tests/ui_corpus.h"
#include "tests/ui_replay_client.h"

namespace bowden::testing {
namespace {

using tests::ReplayAnswer;
using tests::UiRequest;
using tests::VerdictRow;
using tests::VerdictTable;

// The secret the stand-in puts in GET /api/settings (api.key).
constexpr char kSettingsSecret[] = "STANDIN0API0KEY0SECRET0DO0NOT0SHOW";
// What the replay sends on each push socket it opened, like the UI does.
constexpr char kClientFrame[] = R"(["{\"throttle\":1}"])";

// One stand-in process (tests/octoprint_standin) and the log of what reached
// it. Thread-compatible.
class StandIn {
 public:
  StandIn(const TempDir& dir, const std::string& name,
          std::vector<std::string> flags)
      : log_(dir.File(name + ".requests")) {
    std::vector<std::string> argv = {BinaryPath("tests/octoprint_standin"),
                                     "--log", log_};
    argv.insert(argv.end(), flags.begin(), flags.end());
    process_ = std::make_unique<Process>(argv, dir.File(name));
    if (!process_->WaitForOutput("listening on 127.0.0.1:")) {
      ADD_FAILURE() << name
                    << " stand-in did not start: " << process_->Stderr();
      return;
    }
    std::smatch match;
    const std::string out = process_->Stdout();
    if (std::regex_search(out, match, std::regex("127\\.0\\.0\\.1:(\\d+)"))) {
      port_ = std::stoi(match[1]);
    }
  }
  int port() const { return port_; }
  std::string Log() const { return ReadFileOrEmpty(log_); }

 private:
  std::string log_;
  std::unique_ptr<Process> process_;
  int port_ = 0;
};

// What a stand-in logged for one tagged request.
struct Seen {
  std::string method, target;
  size_t body_bytes = 0;
  bool sent_frame = false;  // a websocket frame from the client arrived
};

// The stand-in's log by tag ("ROLE/LINE"); untagged lines are skipped.
std::map<std::string, Seen> SeenByTag(const std::string& log) {
  std::map<std::string, Seen> seen;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    if (f.size() < 4 || f[1] == "-") continue;
    if (f[0] == "request" && f.size() == 5) {
      Seen& s = seen[f[1]];
      s.method = f[2];
      s.target = f[3];
      absl::SimpleAtoi(f[4], &s.body_bytes);
    } else if (f[0] == "ws-frame" && f[3] == kClientFrame) {
      seen[f[1]].sent_frame = true;
    }
  }
  return seen;
}

struct RoleUnderTest {
  const char* name;
  policy::Role role;
  std::string user;
};

class OctoPrintUiE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    octoprint_ = std::make_unique<StandIn>(logs_, "octoprint",
                                           std::vector<std::string>{});
    webcam_ = std::make_unique<StandIn>(logs_, "webcam",
                                        std::vector<std::string>{"--webcam"});
    ASSERT_NE(octoprint_->port(), 0);
    ASSERT_NE(webcam_->port(), 0);
    std::ofstream(policy_dir_.File("policy.textproto"))
        << "admins: \"alice\"\n"
        << "grant { user: \"alice\" printers: \"*\" role: \"admin\" }\n"
        << "grant { user: \"bob\" printers: \"*\" role: \"viewer\" }\n"
        << "grant { user: \"carol\" printers: \"*\" role: \"operator\" }\n";
    Farm::Options options;
    options.relay_extra_flags = {"--policy",
                                 policy_dir_.File("policy.textproto")};
    options.targets = {
        absl::StrCat("octoprint=127.0.0.1:", octoprint_->port()),
        absl::StrCat("webcam=127.0.0.1:", webcam_->port(), ",guard=webcam")};
    farm_ = std::make_unique<Farm>(options);
    farm_->pki().Issue("user", "bob");
    farm_->pki().Issue("user", "carol");
    ASSERT_TRUE(farm_->WaitAttached());
    for (const char* user : {"bob", "carol", "alice"}) {
      const int port = farm_->Open(user, "prusa-01", "octoprint");
      ASSERT_NE(port, 0) << user;
      ports_[user] = port;
    }
  }

  TempDir logs_;
  TempDir policy_dir_;
  std::unique_ptr<StandIn> octoprint_;
  std::unique_ptr<StandIn> webcam_;
  std::unique_ptr<Farm> farm_;
  std::map<std::string, int> ports_;
};

// The table's verdict for one replayed request against what happened; ""
// when they agree, else what differs.
std::string Mismatch(const UiRequest& r, const VerdictRow& row,
                     policy::Role role, const ReplayAnswer& answer,
                     const Seen* at_octoprint, const Seen* at_webcam) {
  const bool allowed = row.Allows(role);
  // OctoPi serves /webcam/ from the webcam; `bowden open` routes it to the
  // printer's webcam target, which sees the path without /webcam.
  const bool webcam = absl::StartsWith(r.path(), "/webcam/");
  const Seen* seen = webcam ? at_webcam : at_octoprint;
  const Seen* elsewhere = webcam ? at_octoprint : at_webcam;
  const std::string where = webcam ? "the webcam" : "OctoPrint";
  std::vector<std::string> wrong;
  // A refused websocket handshake is an error to the client, and expected.
  if (!answer.error.empty() && (allowed || answer.status == 0))
    wrong.push_back(answer.error);
  if (!allowed) {
    if (answer.status != 403)
      wrong.push_back(absl::StrCat("got ", answer.status, ", not 403"));
    if (seen != nullptr || elsewhere != nullptr)
      wrong.push_back("reached the target");
    return absl::StrJoin(wrong, "; ");
  }
  const int status = webcam ? 200 : r.status;
  if (answer.status != status) {
    wrong.push_back(
        absl::StrCat("got ", answer.status, ", not ", where, "'s ", status));
  }
  if (seen == nullptr) {
    wrong.push_back(absl::StrCat(where, " never saw it"));
  } else {
    const std::string target =
        webcam ? r.target.substr(7) : r.target;  // without /webcam
    if (seen->method != r.method ||
        (seen->target != target && seen->target + "?" != target)) {
      wrong.push_back(
          absl::StrCat(where, " saw ", seen->method, " ", seen->target));
    }
    if (r.status == 101 && !seen->sent_frame)
      wrong.push_back("the client's frame never arrived");
  }
  if (elsewhere != nullptr)
    wrong.push_back(absl::StrCat("also reached ", elsewhere->target));
  if (webcam &&
      !absl::StartsWith(answer.content_type, "multipart/x-mixed-replace")) {
    wrong.push_back(
        absl::StrCat("content type '", answer.content_type, "', not MJPEG"));
  } else if (!webcam && status != 101 && status != 204 && status != 304 &&
             answer.content_type != r.response_content_type) {
    wrong.push_back(absl::StrCat("content type '", answer.content_type,
                                 "', not '", r.response_content_type, "'"));
  }
  if (r.status == 101 && !answer.sockjs_spoke)
    wrong.push_back("SockJS did not speak");
  if (r.path() == "/api/settings" && role != policy::Role::kAdmin &&
      absl::StrContains(answer.body, kSettingsSecret)) {
    wrong.push_back("the API key reached a non-admin");
  }
  // Admins read the settings whole, so the check above is not vacuous.
  if (r.path() == "/api/settings" && r.status == 200 &&
      role == policy::Role::kAdmin &&
      !absl::StrContains(answer.body, kSettingsSecret)) {
    wrong.push_back("the admin did not get the settings OctoPrint sent");
  }
  return absl::StrJoin(wrong, "; ");
}

TEST_F(OctoPrintUiE2eTest,
       EveryRecordedUiRequestGetsTheDocumentedVerdictForEveryRole) {
  absl::StatusOr<std::vector<UiRequest>> corpus = tests::LoadUiCorpus();
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  absl::StatusOr<VerdictTable> table = VerdictTable::Load();
  ASSERT_TRUE(table.ok()) << table.status();
  const std::vector<RoleUnderTest> roles = {
      {"viewer", policy::Role::kViewer, "bob"},
      {"operator", policy::Role::kOperator, "carol"},
      {"admin", policy::Role::kAdmin, "alice"}};

  // The three roles replay side by side, each through its own `bowden open`,
  // one request at a time in the recorded order.
  std::map<std::string, std::vector<ReplayAnswer>> answers;
  for (const RoleUnderTest& role : roles)
    answers[role.name].resize(corpus->size());
  std::vector<std::thread> replays;
  for (const RoleUnderTest& role : roles) {
    std::vector<ReplayAnswer>* mine = &answers[role.name];
    const int port = ports_[role.user];
    const std::vector<UiRequest>* requests = &*corpus;
    replays.emplace_back([mine, port, requests, name = role.name] {
      for (size_t i = 0; i < requests->size(); ++i) {
        const UiRequest& r = (*requests)[i];
        (*mine)[i] = tests::Replay(port, r, absl::StrCat(name, "/", r.line),
                                   kClientFrame);
      }
    });
  }
  for (std::thread& t : replays) t.join();

  // The client frames travel on after the client's write returned: wait
  // for each push socket that opened to have delivered its frame.
  WaitFor([&] {
    std::map<std::string, Seen> seen = SeenByTag(octoprint_->Log());
    for (const RoleUnderTest& role : roles) {
      for (size_t i = 0; i < corpus->size(); ++i) {
        const std::string tag = absl::StrCat(role.name, "/", (*corpus)[i].line);
        if (answers[role.name][i].sockjs_spoke && !seen[tag].sent_frame)
          return false;
      }
    }
    return true;
  });
  const std::map<std::string, Seen> at_octoprint = SeenByTag(octoprint_->Log());
  const std::map<std::string, Seen> at_webcam = SeenByTag(webcam_->Log());
  auto find = [](const std::map<std::string, Seen>& seen,
                 const std::string& tag) {
    auto it = seen.find(tag);
    return it == seen.end() ? nullptr : &it->second;
  };

  for (const RoleUnderTest& role : roles) {
    int allowed = 0, refused = 0;
    // Each distinct difference once, with the corpus lines that show it.
    std::map<std::string, std::vector<int>> differences;
    for (size_t i = 0; i < corpus->size(); ++i) {
      const UiRequest& r = (*corpus)[i];
      const VerdictRow* row = table->Match(r);
      ASSERT_NE(row, nullptr)
          << "line " << r.line << ": " << r.method << " " << r.target
          << " matches no row of docs/octoprint-ui.md";
      const std::string tag = absl::StrCat(role.name, "/", r.line);
      const std::string wrong =
          Mismatch(r, *row, role.role, answers[role.name][i],
                   find(at_octoprint, tag), find(at_webcam, tag));
      if (!wrong.empty()) {
        differences[absl::StrCat(r.method, " ", r.path(), " (table: ",
                                 row->Allows(role.role) ? "allow" : "refused",
                                 ", row line ", row->line, "): ", wrong)]
            .push_back(r.line);
      } else if (row->Allows(role.role)) {
        ++allowed;
      } else {
        ++refused;
      }
    }
    int differing = 0;
    for (const auto& [what, lines] : differences) {
      differing += lines.size();
      ADD_FAILURE() << role.name << " (" << role.user << "): " << what
                    << " [corpus lines " << absl::StrJoin(lines, ",") << "]";
    }
    std::cout << role.name << " (" << role.user << "): " << corpus->size()
              << " recorded requests: " << allowed
              << " allowed and answered by the target, " << refused
              << " refused with 403 before it, " << differing
              << " differ from docs/octoprint-ui.md" << std::endl;
  }
}

// The PIDs of `root`'s descendants, from /proc.
std::vector<pid_t> Descendants(pid_t root) {
  std::map<pid_t, pid_t> parent;
  if (DIR* proc = opendir("/proc")) {
    while (dirent* entry = readdir(proc)) {
      pid_t pid = 0;
      if (!absl::SimpleAtoi(entry->d_name, &pid)) continue;
      // /proc/PID/stat: "PID (comm) STATE PPID ..."; comm may hold spaces.
      const std::string stat =
          ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/stat"));
      const size_t close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::vector<std::string> f = absl::StrSplit(stat.substr(close + 2), ' ');
      pid_t ppid = 0;
      if (f.size() > 1 && absl::SimpleAtoi(f[1], &ppid)) parent[pid] = ppid;
    }
    closedir(proc);
  }
  std::vector<pid_t> out;
  std::set<pid_t> family = {root};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, ppid] : parent) {
      if (family.count(ppid) && !family.count(pid)) {
        family.insert(pid);
        out.push_back(pid);
        grew = true;
      }
    }
  }
  return out;
}

// Headless Chromium, ended at destruction: SIGTERM so it closes its own
// helpers, then SIGKILL for any of them still there. Its profile lives in
// `dir`; its temporary files (a unix socket, whose path must stay short:
// TEST_TMPDIR is too deep) in a directory of its own under /tmp, removed
// at the end. Thread-compatible.
class Chromium {
 public:
  static constexpr char kPath[] = "/usr/bin/chromium";

  Chromium(const TempDir& dir, const std::string& url) {
    std::string pattern = "/tmp/bowden-chromium.XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) tmp_ = pattern;
    process_ = std::make_unique<Process>(
        std::vector<std::string>{
            "/usr/bin/env", "HOME=" + dir.path(),
            "TMPDIR=" + (tmp_.empty() ? "/tmp" : tmp_), kPath, "--headless=new",
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=" + dir.File("profile"), "--no-first-run",
            "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--mute-audio",
            url},
        dir.File("chromium"));
  }
  ~Chromium() {
    std::vector<pid_t> helpers = Descendants(process_->pid());
    process_->Signal(SIGTERM);
    process_->Wait(absl::Seconds(10));
    // Any helper still there (and still Chromium's, not a reused PID).
    for (pid_t pid : helpers) {
      if (absl::StrContains(
              ReadFileOrEmpty(absl::StrCat("/proc/", pid, "/cmdline")),
              "chromium")) {
        kill(pid, SIGKILL);
      }
    }
    process_.reset();  // SIGKILL if still running
    std::error_code ignored;
    if (!tmp_.empty()) std::filesystem::remove_all(tmp_, ignored);
  }
  bool running() { return process_->running(); }
  std::string Stderr() const { return process_->Stderr(); }

 private:
  std::string tmp_;  // ours to remove; empty if mkdtemp failed
  std::unique_ptr<Process> process_;
};

TEST_F(OctoPrintUiE2eTest,
       ChromiumShowsThePushSocketAndTheWebcamOnTheViewersOneUrl) {
  ASSERT_EQ(access(Chromium::kPath, X_OK), 0)
      << Chromium::kPath
      << " is missing: run scripts/install-deps.sh, which installs "
      << "Debian's chromium package this test drives headless.";
  TempDir profile;
  const std::string url = absl::StrCat("http://127.0.0.1:", ports_["bob"], "/");
  Chromium chromium(profile, url);
  auto reported = [&] {
    return absl::StrContains(octoprint_->Log(),
                             "\tGET\t/static/bowden-e2e-result?ws=ok&img=ok\t");
  };
  // A Chromium that died (it says why on stderr) ends the wait early.
  WaitFor([&] { return reported() || !chromium.running(); }, absl::Seconds(60));
  const bool done = reported();
  EXPECT_TRUE(done)
      << "the page at " << url
      << " did not report a working push socket and webcam image.\n"
      << "OctoPrint stand-in saw:\n"
      << octoprint_->Log() << "webcam stand-in saw:\n"
      << webcam_->Log() << "Chromium's stderr (end):\n"
      << chromium.Stderr().substr(
             chromium.Stderr().size() -
             std::min<size_t>(4000, chromium.Stderr().size()));
  // The image came from the webcam, its frame from the page's socket.
  EXPECT_TRUE(absl::StrContains(webcam_->Log(), "\t-\tGET\t/?action=stream\t"))
      << webcam_->Log();
  EXPECT_TRUE(WaitFor([&] {
    return absl::StrContains(
        octoprint_->Log(),
        absl::StrCat("ws-frame\t-\t/sockjs/000/abcdefgh/websocket\t",
                     kClientFrame));
  })) << octoprint_->Log();
}

}  // namespace
}  // namespace bowden::testing
