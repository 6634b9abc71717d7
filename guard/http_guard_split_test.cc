// HttpGuard sees the same stream however the socket cuts it: every split of
// requests and responses into reads gives the output of one read.

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "guard/http_guard.h"

namespace bowden::guard {
namespace {

GuardConfig Config(policy::Role role) {
  GuardConfig config;
  config.kind = TargetKind::kOctoPrint;
  config.role = role;
  config.user = "alice";
  config.inspect_body = [](const BodyRequest&) { return BodyVerdict{}; };
  return config;
}

// What the guard sends on, and the events, for `client` cut at `cuts` (byte
// offsets, ascending) and then `target`'s answer in one read.
struct Output {
  std::string to_target;
  std::string to_client;
  std::vector<std::string> events;  // "METHOD PATH STATUS VERDICT"
};

Output Feed(policy::Role role, const std::string& client,
            const std::vector<size_t>& cuts, const std::string& target,
            const std::vector<size_t>& target_cuts = {}) {
  HttpGuard guard(Config(role));
  GuardOutput out;
  size_t at = 0;
  for (size_t cut : cuts) {
    guard.FromClient(absl::string_view(client).substr(at, cut - at), &out);
    at = cut;
  }
  guard.FromClient(absl::string_view(client).substr(at), &out);
  at = 0;
  for (size_t cut : target_cuts) {
    guard.FromTarget(absl::string_view(target).substr(at, cut - at), &out);
    at = cut;
  }
  guard.FromTarget(absl::string_view(target).substr(at), &out);
  Output run{out.to_target, out.to_client, {}};
  for (const GuardEvent& e : guard.TakeEvents()) {
    run.events.push_back(
        absl::StrCat(e.method, " ", e.path, " ", e.status, " ", e.verdict));
  }
  return run;
}

void ExpectSame(const Output& whole, const Output& split,
                const std::string& how) {
  EXPECT_EQ(split.to_target, whole.to_target) << how;
  EXPECT_EQ(split.to_client, whole.to_client) << how;
  EXPECT_EQ(split.events, whole.events) << how;
}

// Every 2-piece split and byte-by-byte feeding of `client` give the result of
// one read, which `check` also judges.
void ExpectEverySplitAlike(policy::Role role, const std::string& client,
                           const std::string& target,
                           const std::function<void(const Output&)>& check) {
  Output whole = Feed(role, client, {}, target);
  check(whole);
  for (size_t cut = 1; cut < client.size(); ++cut) {
    ExpectSame(whole, Feed(role, client, {cut}, target),
               absl::StrCat("cut at ", cut));
    if (::testing::Test::HasFailure()) return;
  }
  std::vector<size_t> every;
  for (size_t cut = 1; cut < client.size(); ++cut) every.push_back(cut);
  ExpectSame(whole, Feed(role, client, every, target), "byte by byte");
}

constexpr char kOk[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

TEST(HttpGuardSplitTest, GetWithHeaders) {
  std::string get =
      "GET /api/version?x=1 HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nAccept: */*\r\n"
      "User-Agent: split/1\r\nX-Api-Key: k\r\n\r\n";
  ExpectEverySplitAlike(policy::Role::kViewer, get, kOk, [](const Output& run) {
    EXPECT_EQ(run.to_client, kOk);
    ASSERT_EQ(run.events.size(), 1u);
    EXPECT_EQ(run.events[0], "GET /api/version 200 allow");
  });
}

TEST(HttpGuardSplitTest, PostWithContentLength) {
  std::string body = "{\"user\":\"a\",\"pass\":\"b\"}";
  std::string post = absl::StrCat(
      "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Type: "
      "application/json\r\nContent-Length: ",
      body.size(), "\r\n\r\n", body);
  ExpectEverySplitAlike(
      policy::Role::kViewer, post, kOk, [&](const Output& run) {
        EXPECT_TRUE(absl::EndsWith(run.to_target, "\r\n\r\n" + body))
            << run.to_target;
        ASSERT_EQ(run.events.size(), 1u);
        EXPECT_EQ(run.events[0], "POST /api/login 200 allow");
      });
  // An inspected body is held and judged whole however it arrives.
  std::string command = "{\"command\":\"G28\"}";
  std::string inspected = absl::StrCat(
      "POST /api/printer/command HTTP/1.1\r\nHost: "
      "127.0.0.1:5000\r\nContent-Type: "
      "application/json\r\nContent-Length: ",
      command.size(), "\r\n\r\n", command);
  ExpectEverySplitAlike(
      policy::Role::kAdmin, inspected, kOk, [&](const Output& run) {
        EXPECT_TRUE(absl::EndsWith(run.to_target, "\r\n\r\n" + command))
            << run.to_target;
        ASSERT_EQ(run.events.size(), 1u);
        EXPECT_EQ(run.events[0], "POST /api/printer/command 200 allow");
      });
}

TEST(HttpGuardSplitTest, ChunkedRequest) {
  std::string body = "7\r\n{\"a\":1}\r\n3\r\n   \r\n0\r\n\r\n";
  std::string post = absl::StrCat(
      "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nTransfer-Encoding: "
      "chunked\r\n\r\n",
      body);
  ExpectEverySplitAlike(
      policy::Role::kViewer, post, kOk, [&](const Output& run) {
        EXPECT_TRUE(absl::EndsWith(run.to_target, "\r\n\r\n" + body))
            << run.to_target;
        ASSERT_EQ(run.events.size(), 1u);
        EXPECT_EQ(run.events[0], "POST /api/login 200 allow");
      });
}

TEST(HttpGuardSplitTest, PipelinedPairWithADenialBetween) {
  std::string pair =
      absl::StrCat("GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n",
                   "POST /api/printer/command HTTP/1.1\r\nHost: "
                   "127.0.0.1:5000\r\nContent-Length: "
                   "2\r\n\r\n{}",
                   "GET /api/job HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n");
  std::string answers = absl::StrCat(kOk, kOk);
  ExpectEverySplitAlike(
      policy::Role::kViewer, pair, answers, [](const Output& run) {
        ASSERT_EQ(run.events.size(), 3u);
        EXPECT_EQ(run.events[0], "GET /api/version 200 allow");
        EXPECT_EQ(run.events[1], "POST /api/printer/command 403 deny");
        EXPECT_EQ(run.events[2], "GET /api/job 200 allow");
      });
}

TEST(HttpGuardSplitTest, ChunkedResponseOfManyChunksByteByByte) {
  // Like SockJS's xhr_streaming: many small chunks, then the next answer.
  std::string response =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 40; ++i) {
    std::string data = absl::StrCat("a[\"message ", i, "\"]\n");
    response += absl::StrCat(absl::Hex(data.size()), "\r\n", data, "\r\n");
  }
  response += "0\r\n\r\n";
  std::string answers = absl::StrCat(response, kOk);
  std::string requests = absl::StrCat(
      "GET /sockjs/000/abc/xhr_streaming HTTP/1.1\r\nHost: "
      "127.0.0.1:5000\r\n\r\n",
      "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n");
  std::vector<size_t> every;
  for (size_t cut = 1; cut < answers.size(); ++cut) every.push_back(cut);
  Output whole = Feed(policy::Role::kViewer, requests, {}, answers);
  EXPECT_EQ(whole.to_client, answers);
  Output split = Feed(policy::Role::kViewer, requests, {}, answers, every);
  EXPECT_EQ(split.to_client, answers);
  EXPECT_EQ(split.events, whole.events);
  ASSERT_EQ(split.events.size(), 2u);
  EXPECT_EQ(split.events[1], "GET /api/version 200 allow");
  for (size_t cut = 1; cut < answers.size(); ++cut) {
    ExpectSame(whole, Feed(policy::Role::kViewer, requests, {}, answers, {cut}),
               absl::StrCat("response cut at ", cut));
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace bowden::guard
