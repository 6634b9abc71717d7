// HttpGuard rewrites OctoPrint's settings for roles below admin: the API key
// and plugin secrets never reach a viewer or operator, whatever OctoPrint
// account the browser is logged in with, and the stream keeps its order.

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "guard/http_guard.h"

namespace bowden::guard {
namespace {

constexpr char kKey[] = "5E2A9B0C3D4F4A1B8C7D6E5F4A3B2C1D";

GuardConfig Config(policy::Role role) {
  GuardConfig config;
  config.kind = TargetKind::kOctoPrint;
  config.role = role;
  config.user = "alice";
  config.inspect_body = [](const BodyRequest&) { return BodyVerdict{}; };
  return config;
}

std::string Settings() {
  return absl::StrCat(R"({"api":{"key":")", kKey,
                      R"(","allowCrossOrigin":false},"feature":{"keyboardControl":true},)",
                      R"("plugins":{"telegram":{"token":"123:ABC","notify":true}}})");
}

std::string GetSettings(absl::string_view extra = "") {
  return absl::StrCat("GET /api/settings HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n",
                      "Accept-Encoding: gzip, deflate, br\r\nTE: gzip\r\nRange: bytes=0-10\r\n",
                      extra, "\r\n");
}

std::string Ok(absl::string_view body, absl::string_view extra = "") {
  return absl::StrCat("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nETag: \"abc\"\r\n",
                      extra, "Content-Length: ", body.size(), "\r\n\r\n", body);
}

std::string Chunked(absl::string_view body) {
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t at = 0; at < body.size(); at += 7) {
    absl::string_view piece = body.substr(at, 7);
    absl::StrAppend(&out, absl::Hex(piece.size()), "\r\n", piece, "\r\n");
  }
  absl::StrAppend(&out, "0\r\nX-Trailer: t\r\n\r\n");
  return out;
}

struct Outcome {
  std::string to_target;
  std::string to_client;
  std::vector<GuardEvent> events;
  bool close_client = false;
  bool abort_target = false;
};

// `client` in one read, then `target` cut at `cuts`.
Outcome Feed(const GuardConfig& config, const std::string& client, const std::string& target,
             const std::vector<size_t>& cuts = {}) {
  HttpGuard guard(config);
  GuardOutput out;
  guard.FromClient(client, &out);
  size_t at = 0;
  for (size_t cut : cuts) {
    guard.FromTarget(absl::string_view(target).substr(at, cut - at), &out);
    at = cut;
  }
  guard.FromTarget(absl::string_view(target).substr(at), &out);
  return Outcome{out.to_target, out.to_client, guard.TakeEvents(), guard.close_client(),
                 guard.abort_target()};
}

// Every split of `target` into two reads, and byte by byte, give the result
// of one read.
void ExpectEverySplitAlike(const GuardConfig& config, const std::string& client,
                           const std::string& target) {
  const Outcome whole = Feed(config, client, target);
  auto same = [&](const Outcome& run, const std::string& how) {
    EXPECT_EQ(run.to_client, whole.to_client) << how;
    ASSERT_EQ(run.events.size(), whole.events.size()) << how;
    for (size_t i = 0; i < run.events.size(); ++i) {
      EXPECT_EQ(run.events[i].status, whole.events[i].status) << how;
      EXPECT_EQ(run.events[i].fields, whole.events[i].fields) << how;
    }
    EXPECT_EQ(run.close_client, whole.close_client) << how;
  };
  for (size_t cut = 1; cut < target.size(); ++cut) {
    same(Feed(config, client, target, {cut}), absl::StrCat("cut at ", cut));
    if (::testing::Test::HasFailure()) return;
  }
  std::vector<size_t> every;
  for (size_t cut = 1; cut < target.size(); ++cut) every.push_back(cut);
  same(Feed(config, client, target, every), "byte by byte");
}

std::string BodyOf(absl::string_view response) {
  size_t end = response.find("\r\n\r\n");
  return end == absl::string_view::npos ? "" : std::string(response.substr(end + 4));
}

TEST(HttpGuardRedactTest, AdminGetsOctoPrintsAnswerUntouched) {
  const std::string answer = Ok(Settings());
  Outcome run = Feed(Config(policy::Role::kAdmin), GetSettings(), answer);
  EXPECT_EQ(run.to_client, answer);
  EXPECT_TRUE(absl::StrContains(run.to_target, "Accept-Encoding: gzip")) << run.to_target;
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].fields.count("redacted"), 0u);
}

TEST(HttpGuardRedactTest, ViewerAndOperatorGetTheKeyAndPluginSecretsAsNull) {
  for (policy::Role role : {policy::Role::kViewer, policy::Role::kOperator}) {
    Outcome run = Feed(Config(role), GetSettings(), Ok(Settings()));
    // Asked for in plain bytes, whole.
    EXPECT_FALSE(absl::StrContains(run.to_target, "gzip")) << run.to_target;
    EXPECT_FALSE(absl::StrContains(run.to_target, "Range")) << run.to_target;
    EXPECT_FALSE(absl::StrContains(run.to_target, "TE:")) << run.to_target;
    EXPECT_TRUE(absl::StrContains(run.to_target, "Accept-Encoding: identity\r\n"));
    EXPECT_FALSE(absl::StrContains(run.to_client, kKey)) << run.to_client;
    EXPECT_FALSE(absl::StrContains(run.to_client, "123:ABC")) << run.to_client;
    const std::string body = BodyOf(run.to_client);
    EXPECT_TRUE(absl::StrContains(body, R"("key":null)")) << body;
    EXPECT_TRUE(absl::StrContains(body, R"("token":null)")) << body;
    EXPECT_TRUE(absl::StrContains(body, R"("keyboardControl":true)")) << body;
    EXPECT_TRUE(absl::StartsWith(run.to_client, "HTTP/1.1 200 OK\r\n")) << run.to_client;
    EXPECT_TRUE(absl::StrContains(run.to_client, "Content-Type: application/json\r\n"));
    EXPECT_TRUE(absl::StrContains(run.to_client, "ETag: \"abc\"\r\n"));
    EXPECT_TRUE(absl::StrContains(run.to_client, absl::StrCat("Content-Length: ", body.size())));
    ASSERT_EQ(run.events.size(), 1u);
    EXPECT_EQ(run.events[0].status, 200);
    EXPECT_EQ(run.events[0].verdict, "allow");
    EXPECT_EQ(run.events[0].fields.at("redacted"), "2 fields: api.key, plugins.telegram.token");
    EXPECT_FALSE(run.close_client);
  }
}

TEST(HttpGuardRedactTest, AChunkedAnswerIsDechunkedAndSentWithItsLength) {
  Outcome run = Feed(Config(policy::Role::kViewer), GetSettings(), Chunked(Settings()));
  EXPECT_FALSE(absl::StrContains(run.to_client, "Transfer-Encoding")) << run.to_client;
  EXPECT_FALSE(absl::StrContains(run.to_client, "X-Trailer")) << run.to_client;
  EXPECT_FALSE(absl::StrContains(run.to_client, kKey));
  const std::string body = BodyOf(run.to_client);
  EXPECT_TRUE(absl::StrContains(run.to_client, absl::StrCat("Content-Length: ", body.size())));
  EXPECT_TRUE(absl::StrContains(body, R"("key":null)")) << body;
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].fields.at("redacted"), "2 fields: api.key, plugins.telegram.token");
}

TEST(HttpGuardRedactTest, AnAnswerDelimitedByTheTargetClosingIsRedactedToo) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(GetSettings(), &out);
  guard.FromTarget(absl::StrCat("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", Settings()), &out);
  EXPECT_EQ(out.to_client, "");
  guard.TargetEof(&out);
  EXPECT_FALSE(absl::StrContains(out.to_client, kKey));
  EXPECT_TRUE(absl::StrContains(BodyOf(out.to_client), R"("key":null)")) << out.to_client;
}

TEST(HttpGuardRedactTest, ACompressedAnswerIsRefusedWith502AndBothConnectionsEnd) {
  Outcome run = Feed(Config(policy::Role::kViewer), GetSettings(),
                     Ok(std::string("\x1f\x8b\x08\x00SEKRIT", 10), "Content-Encoding: gzip\r\n"));
  EXPECT_TRUE(absl::StartsWith(run.to_client, "HTTP/1.1 502 Bad Gateway\r\n")) << run.to_client;
  EXPECT_TRUE(absl::StrContains(run.to_client, "Content-Encoding: gzip")) << run.to_client;
  EXPECT_FALSE(absl::StrContains(run.to_client, "SEKRIT"));
  EXPECT_TRUE(run.close_client);
  EXPECT_TRUE(run.abort_target);
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].status, 502);
  EXPECT_EQ(run.events[0].fields.at("redacted"), "refused");
}

TEST(HttpGuardRedactTest, AnOversizedAnswerIsRefusedWith502) {
  GuardConfig config = Config(policy::Role::kViewer);
  config.max_redacted_body = 64;
  ASSERT_GT(Settings().size(), 64u);
  for (const std::string& answer : {Ok(Settings()), Chunked(Settings())}) {
    Outcome run = Feed(config, GetSettings(), answer);
    EXPECT_TRUE(absl::StartsWith(run.to_client, "HTTP/1.1 502 Bad Gateway\r\n")) << run.to_client;
    EXPECT_TRUE(absl::StrContains(run.to_client, "larger than the 64 bytes")) << run.to_client;
    EXPECT_FALSE(absl::StrContains(run.to_client, kKey));
    EXPECT_TRUE(run.close_client);
    ASSERT_EQ(run.events.size(), 1u);
    EXPECT_EQ(run.events[0].status, 502);
  }
}

TEST(HttpGuardRedactTest, TheBufferedAnswerStaysWithinTheBound) {
  GuardConfig config = Config(policy::Role::kViewer);
  config.max_redacted_body = 256 * 1024;
  HttpGuard guard(config);
  GuardOutput out;
  guard.FromClient(GetSettings(), &out);
  // A 1 MiB answer, chunked, arriving in 4 KiB reads.
  guard.FromTarget(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
      &out);
  const std::string chunk = absl::StrCat("1000\r\n", std::string(4096, ' '), "\r\n");
  for (int i = 0; i < 256 && !guard.close_client(); ++i) {
    guard.FromTarget(chunk, &out);
    EXPECT_LE(guard.buffered_bytes(), config.max_redacted_body + chunk.size());
  }
  EXPECT_TRUE(guard.close_client());
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 502 Bad Gateway\r\n")) << out.to_client;
  EXPECT_EQ(guard.buffered_bytes(), 0u);
}

TEST(HttpGuardRedactTest, AnAnswerThatIsNotAJsonObjectIsRefusedAndTheConnectionGoesOn) {
  const std::string client =
      absl::StrCat(GetSettings(), "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n");
  const std::string version = Ok(R"({"api":"0.1"})");
  Outcome run = Feed(Config(policy::Role::kViewer), client,
                     absl::StrCat(Ok("<html>key=SEKRIT</html>"), version));
  EXPECT_TRUE(absl::StartsWith(run.to_client, "HTTP/1.1 502 Bad Gateway\r\n")) << run.to_client;
  EXPECT_TRUE(absl::StrContains(run.to_client, "is not a JSON object"));
  EXPECT_FALSE(absl::StrContains(run.to_client, "SEKRIT"));
  EXPECT_TRUE(absl::EndsWith(run.to_client, version)) << run.to_client;
  EXPECT_FALSE(run.close_client);
  ASSERT_EQ(run.events.size(), 2u);
  EXPECT_EQ(run.events[0].status, 502);
  EXPECT_EQ(run.events[1].status, 200);
}

TEST(HttpGuardRedactTest, NotModifiedAndHeadPassAsTheyAre) {
  const std::string not_modified = "HTTP/1.1 304 NOT MODIFIED\r\nETag: \"abc\"\r\n\r\n";
  Outcome run =
      Feed(Config(policy::Role::kViewer), GetSettings("If-None-Match: \"abc\"\r\n"), not_modified);
  EXPECT_EQ(run.to_client, not_modified);
  EXPECT_TRUE(absl::StrContains(run.to_target, "If-None-Match: \"abc\""));
  ASSERT_EQ(run.events.size(), 1u);
  EXPECT_EQ(run.events[0].status, 304);

  const std::string head_answer =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 120\r\n\r\n";
  run = Feed(Config(policy::Role::kViewer),
             "HEAD /api/settings HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n", head_answer);
  EXPECT_EQ(run.to_client, head_answer);
}

TEST(HttpGuardRedactTest, PipelinedRequestsBehindTheSettingsKeepTheirOrder) {
  // Settings, a request the viewer may not make (the guard's own 403) and
  // one it may: the answers come in request order.
  const std::string client = absl::StrCat(
      GetSettings(),
      "POST /api/printer/command HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nContent-Length: 2\r\n\r\n{}",
      "GET /api/version HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n\r\n");
  const std::string version = Ok(R"({"api":"0.1"})");
  const std::string target = absl::StrCat(Chunked(Settings()), version);
  Outcome run = Feed(Config(policy::Role::kViewer), client, target);
  const size_t settings_at = run.to_client.find("\"key\":null");
  const size_t denied_at = run.to_client.find("HTTP/1.1 403 Forbidden");
  const size_t version_at = run.to_client.find(version);
  ASSERT_NE(settings_at, std::string::npos) << run.to_client;
  ASSERT_NE(denied_at, std::string::npos) << run.to_client;
  ASSERT_NE(version_at, std::string::npos) << run.to_client;
  EXPECT_LT(settings_at, denied_at);
  EXPECT_LT(denied_at, version_at);
  ASSERT_EQ(run.events.size(), 3u);
  EXPECT_EQ(run.events[0].status, 200);
  EXPECT_EQ(run.events[1].status, 403);
  EXPECT_EQ(run.events[2].status, 200);
  ExpectEverySplitAlike(Config(policy::Role::kViewer), client, target);
}

TEST(HttpGuardRedactTest, EverySplitOfTheAnswerGivesTheSameResult) {
  ExpectEverySplitAlike(Config(policy::Role::kViewer), GetSettings(), Ok(Settings()));
  ExpectEverySplitAlike(Config(policy::Role::kViewer), GetSettings(), Chunked(Settings()));
  ExpectEverySplitAlike(Config(policy::Role::kViewer), GetSettings(),
                        Ok("gzipped", "Content-Encoding: gzip\r\n"));
  ExpectEverySplitAlike(Config(policy::Role::kViewer), GetSettings(),
                        "HTTP/1.1 304 NOT MODIFIED\r\nETag: \"abc\"\r\n\r\n");
}

TEST(HttpGuardRedactTest, AConnectionEndingMidAnswerPassesNothingOfIt) {
  HttpGuard guard(Config(policy::Role::kViewer));
  GuardOutput out;
  guard.FromClient(GetSettings(), &out);
  const std::string answer = Ok(Settings());
  guard.FromTarget(answer.substr(0, answer.size() - 5), &out);
  EXPECT_EQ(out.to_client, "");
  guard.EndConnection();
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(events[0].interrupted);
  EXPECT_EQ(events[0].status, 200);
}

}  // namespace
}  // namespace bowden::guard
