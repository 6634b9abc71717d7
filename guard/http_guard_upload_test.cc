// HttpGuard's upload path: multipart uploads stream to the target with the
// tail held back until every file passed the G-code ceiling.
#include <openssl/sha.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gcode/checker.h"
#include "gcode/stream_scanner.h"
#include "gtest/gtest.h"
#include "guard/forwarding.h"
#include "guard/http_guard.h"
#include "tests/ui_corpus.h"

namespace bowden::guard {
namespace {

constexpr size_t kHold = 64 * 1024;  // GuardConfig::upload_hold_bytes
constexpr char kCreated[] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
constexpr char kType[] = "multipart/form-data; boundary=BoWdEn";

const gcode::Checker& DefaultChecker() {
  static const gcode::Checker* checker =
      new gcode::Checker(*gcode::Checker::Create(gcode::Ceiling()));
  return *checker;
}

GuardConfig Config(bool scanner = true) {
  GuardConfig config;
  config.role = policy::Role::kOperator;
  config.user = "alice";
  if (scanner) {
    config.new_upload_scanner = [] {
      return std::make_unique<gcode::StreamScanner>(DefaultChecker());
    };
  }
  return config;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

std::string Body(absl::string_view filename, absl::string_view content) {
  return absl::StrCat("--BoWdEn\r\nContent-Disposition: form-data; name=\"file\"; filename=\"",
                      filename, "\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                      content,
                      "\r\n--BoWdEn\r\nContent-Disposition: form-data; name=\"select\"\r\n\r\n"
                      "true\r\n--BoWdEn--\r\n");
}

// The head the client sends, and the head the guard forwards for it.
std::string ClientHead(size_t length, absl::string_view extra = "") {
  return absl::StrCat("POST /api/files/local HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ", kType,
                      "\r\nContent-Length: ", length, "\r\n", extra, "\r\n");
}
std::string ForwardedHead(size_t length) {
  return absl::StrCat("POST /api/files/local HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ", kType,
                      "\r\nContent-Length: ", length, "\r\nX-Forwarded-For: ",
                      ForwardedForAddress("alice"),
                      "\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: 127.0.0.1\r\n\r\n");
}

// `lines` lines of harmless G-code, with `bad` as line `bad_line` (1-based;
// 0 for none).
std::string Gcode(int lines, int bad_line = 0, absl::string_view bad = "M997") {
  std::string text;
  for (int i = 1; i <= lines; ++i) {
    if (i == bad_line) {
      absl::StrAppend(&text, bad, "\n");
    } else {
      absl::StrAppend(&text, "G1 X", i % 200, ".5 Y", i % 190, " E0.0123 ; move ", i, "\n");
    }
  }
  return text;
}

TEST(HttpGuardUploadTest, CleanUploadStreamsWithItsTailHeldUntilTheEnd) {
  const std::string content = Gcode(12000);  // ~400 KB
  const std::string body = Body("cube.gcode", content);
  const std::string stream = ForwardedHead(body.size()) + body;
  HttpGuard guard(Config());
  GuardOutput out;
  guard.FromClient(ClientHead(body.size()), &out);
  EXPECT_EQ(out.to_target, "");  // the head waits with the body
  EXPECT_EQ(out.to_client, "");
  size_t received = ForwardedHead(body.size()).size();
  size_t sent = 0;
  for (size_t at = 0; at < body.size();) {
    size_t n = std::min<size_t>(9973, body.size() - at);
    guard.FromClient(absl::string_view(body).substr(at, n), &out);
    at += n;
    received += n;
    if (at == body.size()) {
      sent = received;  // judged: everything goes
    } else if (received - sent >= 2 * kHold) {
      sent = received - kHold;
    }
    ASSERT_EQ(out.to_target.size(), sent) << "after " << at << " body bytes";
    ASSERT_TRUE(absl::StartsWith(stream, out.to_target));
    if (at < body.size()) {
      ASSERT_LE(stream.size() - out.to_target.size(), body.size() - at + 2 * kHold);
      ASSERT_GE(stream.size() - out.to_target.size(),
                body.size() - at + std::min(received, kHold));
      ASSERT_LE(guard.buffered_bytes(), 2 * kHold);
    }
  }
  EXPECT_EQ(out.to_target, stream);
  EXPECT_EQ(out.to_client, "");
  EXPECT_TRUE(guard.TakeEvents().empty());  // the event waits for the answer
  guard.FromTarget(kCreated, &out);
  EXPECT_EQ(out.to_client, kCreated);
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict, "allow");
  EXPECT_EQ(events[0].rule, "octoprint.files.upload");
  EXPECT_EQ(events[0].status, 201);
  EXPECT_EQ(events[0].fields["file"], "cube.gcode");
  EXPECT_EQ(events[0].fields["size"], absl::StrCat(content.size()));
  EXPECT_EQ(events[0].fields["sha256"], Sha256Hex(content));
  EXPECT_EQ(events[0].fields["scan"], "passed");
  EXPECT_FALSE(guard.close_client());
  EXPECT_FALSE(guard.abort_target());
  // The connection goes on.
  out = GuardOutput();
  guard.FromClient("GET /api/job HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &out);
  EXPECT_TRUE(absl::StartsWith(out.to_target, "GET /api/job HTTP/1.1\r\n"));
}

struct BigCase {
  int bad_line;
  const char* bad;
};

class LargeRefusedUploadTest : public ::testing::TestWithParam<BigCase> {};

TEST_P(LargeRefusedUploadTest, IsRefusedWithTheLineAndNeverCompletes) {
  constexpr int kLines = 600000;  // ~20 MB
  const BigCase& c = GetParam();
  const int bad_line = c.bad_line < 0 ? kLines : c.bad_line;
  const std::string content = Gcode(kLines, bad_line, c.bad);
  const std::string body = Body("Big.GCO", content);
  const std::string request = ClientHead(body.size()) + body;
  const std::string stream = ForwardedHead(body.size()) + body;
  ASSERT_GT(content.size(), 20u << 20);
  HttpGuard guard(Config());
  GuardOutput out;
  static const size_t kSizes[] = {65521, 7, 100003, 1, 32768, 4099};
  size_t at = 0;
  for (int i = 0; at < request.size(); ++i) {
    size_t n = std::min(kSizes[i % 6], request.size() - at);
    guard.FromClient(absl::string_view(request).substr(at, n), &out);
    at += n;
    ASSERT_LE(guard.buffered_bytes(), 2 * kHold + 100003);
  }
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 403 Forbidden\r\n")) << out.to_client;
  EXPECT_TRUE(absl::StrContains(out.to_client, absl::StrCat("\"line\":", bad_line)))
      << out.to_client;
  EXPECT_TRUE(absl::StrContains(out.to_client, absl::StrCat("\"command\":\"", c.bad, "\"")));
  EXPECT_TRUE(absl::StrContains(out.to_client, "\"file\":\"Big.GCO\""));
  EXPECT_TRUE(absl::StrContains(out.to_client, "\"rule\":\"octoprint.files.upload\""));
  EXPECT_TRUE(guard.close_client());
  // What reached the target is a prefix of the request without its end and
  // without the refused line.
  EXPECT_TRUE(absl::StartsWith(stream, out.to_target));
  EXPECT_LE(out.to_target.size(), stream.size() - kHold);
  EXPECT_FALSE(absl::StrContains(out.to_target, c.bad));
  // The target holds part of the upload only if anything was sent; then it
  // must be reset so OctoPrint drops it.
  EXPECT_EQ(guard.abort_target(), !out.to_target.empty());
  if (bad_line == 1) {
    EXPECT_EQ(out.to_target, "");
  }
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].verdict, "deny");
  EXPECT_EQ(events[0].status, 403);
  EXPECT_EQ(events[0].fields["file"], "Big.GCO");
  EXPECT_EQ(events[0].fields["scan"], "refused");
  EXPECT_EQ(events[0].fields["line"], absl::StrCat(bad_line));
  EXPECT_EQ(events[0].fields["command"], c.bad);
  EXPECT_TRUE(absl::StrContains(events[0].reason, "ceiling")) << events[0].reason;
  // Nothing more goes to the target, nor from a target being reset.
  out = GuardOutput();
  guard.FromClient("more", &out);
  guard.FromTarget("HTTP/1.1 201 Created\r\n\r\n", &out);
  EXPECT_EQ(out.to_target, "");
  if (guard.abort_target()) {
    EXPECT_EQ(out.to_client, "");
  }
}

INSTANTIATE_TEST_SUITE_P(StartMiddleEnd, LargeRefusedUploadTest,
                         ::testing::Values(BigCase{1, "M997"}, BigCase{300001, "m500"},
                                           BigCase{-1, "M104 S300"}));

std::string Chunked(absl::string_view body, size_t size) {
  std::string out;
  for (size_t at = 0; at < body.size(); at += size) {
    absl::string_view piece = body.substr(at, size);
    absl::StrAppend(&out, absl::Hex(piece.size()), ";ext=1\r\n", piece, "\r\n");
  }
  return out + "0\r\n\r\n";
}

TEST(HttpGuardUploadTest, ChunkedUploadsStreamToo) {
  for (int lines : {30, 20000}) {
    const std::string body = Body("a.g", Gcode(lines));
    const std::string chunked = Chunked(body, 777);
    const std::string head =
        "POST /api/files/sdcard HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: multipart/form-data; boundary=BoWdEn\r\nExpect: 100-continue\r\n\r\n";
    HttpGuard guard(Config());
    GuardOutput out;
    guard.FromClient(head, &out);
    EXPECT_EQ(out.to_client, "HTTP/1.1 100 Continue\r\n\r\n");
    for (size_t at = 0; at < chunked.size(); at += 1000) {
      guard.FromClient(absl::string_view(chunked).substr(at, 1000), &out);
      if (at + 1000 < chunked.size()) {
        ASSERT_FALSE(absl::EndsWith(out.to_target, "0\r\n\r\n"));
      }
    }
    EXPECT_TRUE(absl::EndsWith(out.to_target, "\r\n\r\n" + chunked)) << lines;
    EXPECT_TRUE(absl::StartsWith(out.to_target, "POST /api/files/sdcard HTTP/1.1\r\n"));
    EXPECT_FALSE(absl::StrContains(out.to_target, "Expect"));  // answered by the guard
    guard.FromTarget(kCreated, &out);
    std::vector<GuardEvent> events = guard.TakeEvents();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].fields["file"], "a.g");
    EXPECT_EQ(events[0].fields["sha256"], Sha256Hex(Gcode(lines)));
  }
  // And a refused chunked one never reaches the target at all when small.
  const std::string chunked = Chunked(Body("x.gcode", "G28\nM302 P1\n"), 5);
  HttpGuard guard(Config());
  GuardOutput out;
  guard.FromClient(absl::StrCat("POST /api/files/local HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ",
                                kType, "\r\nTransfer-Encoding: chunked\r\n\r\n", chunked),
                   &out);
  EXPECT_EQ(out.to_target, "");
  EXPECT_TRUE(absl::StrContains(out.to_client, "\"line\":2")) << out.to_client;
  EXPECT_FALSE(guard.abort_target());
}

TEST(HttpGuardUploadTest, MalformedUploadsGet400AndNothingReachesTheTarget) {
  const std::string good = Body("a.gcode", "G28\n");
  struct Case {
    std::string head_extra;
    std::string body;
    int status;
  };
  const Case cases[] = {
      {"", good.substr(0, good.size() - 4), 400},           // no closing boundary
      {"", "preamble\r\n" + good, 400},                      // text before the boundary
      {"", Body("a.gcode", "G28\r\n--BoWdEn\r\nContent-Disposition: form-data; name=\"file\""
                           "; filename=\"b.gcode\"\r\n\r\nM997"),
       400},                                                 // a second `file` part
      {"", Body("a.gcode", "G28 --BoWdEn\r\n"), 400},         // the boundary mid-line
      {"Content-Encoding: gzip\r\n", good, 400},
      {"Content-Type: text/plain\r\n", good, 400},           // two Content-Types
      {"", absl::StrCat("--BoWdEn\r\nContent-Disposition: form-data; name=\"file.path\"\r\n\r\n"
                        "/etc/passwd\r\n", good),
       403},
  };
  for (const Case& c : cases) {
    HttpGuard guard(Config());
    GuardOutput out;
    guard.FromClient(ClientHead(c.body.size(), c.head_extra) + c.body, &out);
    EXPECT_TRUE(absl::StartsWith(out.to_client, absl::StrCat("HTTP/1.1 ", c.status)))
        << absl::CHexEscape(c.body) << " -> " << out.to_client;
    EXPECT_EQ(out.to_target, "") << absl::CHexEscape(c.body);
    EXPECT_TRUE(guard.close_client());
    std::vector<GuardEvent> events = guard.TakeEvents();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].verdict, c.status == 400 ? "bad-request" : "deny");
  }
  // A wrong media type, a query string.
  HttpGuard guard(Config());
  GuardOutput out;
  guard.FromClient("POST /api/files/local HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                   "application/json\r\nContent-Length: 2\r\n\r\n{}",
                   &out);
  EXPECT_TRUE(absl::StrContains(out.to_client, "400 Bad Request")) << out.to_client;
  HttpGuard query(Config());
  out = GuardOutput();
  query.FromClient("POST /api/files/local?file.path=/etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Length: 0\r\n\r\n",
                   &out);
  EXPECT_TRUE(absl::StrContains(out.to_client, "403 Forbidden")) << out.to_client;
  EXPECT_EQ(out.to_target, "");
}

// OctoPrint cuts a part's header block at the first copy of the boundary,
// case-sensitively, and would see a `file` part in the junk header below;
// the guard sees a `notes` field. Such a body is refused.
TEST(HttpGuardUploadTest, TheBoundaryInAPartHeaderIsRefused) {
  const std::string body =
      "--Content-Disposition\r\ncontent-disposition: form-data; name=\"notes\"\r\n"
      "X-Junk: Content-Disposition: form-data; name=\"file\"; filename=\"e.gcode\"\r\n\r\n"
      "M997\r\n--Content-Disposition--\r\n";
  HttpGuard guard(Config());
  GuardOutput out;
  guard.FromClient(absl::StrCat("POST /api/files/local HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                                "multipart/form-data; boundary=Content-Disposition\r\n"
                                "Content-Length: ",
                                body.size(), "\r\n\r\n", body),
                   &out);
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 400 ")) << out.to_client;
  EXPECT_EQ(out.to_target, "");
}

TEST(HttpGuardUploadTest, ModelsPassUnscannedAndOtherFilesAreScanned) {
  for (const auto& [name, allowed] : std::vector<std::pair<std::string, bool>>{
           {"part.STL", true}, {"part.gcode", false}, {"part.txt", false}, {"", false}}) {
    HttpGuard guard(Config());
    GuardOutput out;
    std::string body = Body(name, "solid x\nM997\n");
    guard.FromClient(ClientHead(body.size()) + body, &out);
    EXPECT_EQ(!out.to_target.empty(), allowed) << name << " -> " << out.to_client;
  }
}

TEST(HttpGuardUploadTest, WithoutAScannerUploadsAreRefusedAndTheConnectionGoesOn) {
  HttpGuard guard(Config(/*scanner=*/false));
  GuardOutput out;
  std::string body = Body("a.gcode", "G28\n");
  guard.FromClient(ClientHead(body.size()) + body + "GET /api/job HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
                   &out);
  EXPECT_TRUE(absl::StrContains(out.to_client, "403 Forbidden"));
  EXPECT_TRUE(absl::StrContains(out.to_client, kUploadsNotScanned));
  EXPECT_TRUE(absl::StartsWith(out.to_target, "GET /api/job HTTP/1.1\r\n")) << out.to_target;
  EXPECT_FALSE(guard.close_client());
}

TEST(HttpGuardUploadTest, RefusalWaitsForEarlierAnswersBeforeResettingTheTarget) {
  HttpGuard guard(Config());
  GuardOutput out;
  const std::string content = Gcode(20000, 19000);
  const std::string body = Body("a.gcode", content);
  const std::string request =
      "GET /api/job HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + ClientHead(body.size()) + body;
  for (size_t at = 0; at < request.size(); at += 65536) {  // as GuardProxy reads
    guard.FromClient(absl::string_view(request).substr(at, 65536), &out);
  }
  EXPECT_TRUE(absl::StartsWith(out.to_target, "GET /api/job"));
  EXPECT_TRUE(absl::StrContains(out.to_target, "POST /api/files/local"));  // streamed
  EXPECT_EQ(out.to_client, "");  // the 403 waits behind the GET's answer
  EXPECT_FALSE(guard.abort_target());
  guard.FromTarget("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &out);
  EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(absl::StrContains(out.to_client, "\"line\":19000")) << out.to_client;
  EXPECT_TRUE(guard.abort_target());
  EXPECT_TRUE(guard.close_client());
}

TEST(HttpGuardUploadTest, ClientGoneMidUploadResetsTheTarget) {
  HttpGuard guard(Config());
  GuardOutput out;
  const std::string body = Body("a.gcode", Gcode(20000));
  guard.FromClient(ClientHead(body.size()) + body.substr(0, body.size() / 2), &out);
  EXPECT_FALSE(out.to_target.empty());
  EXPECT_FALSE(guard.ClientEof());
  EXPECT_TRUE(guard.abort_target());
  EXPECT_EQ(guard.TakeEvents().at(0).fields["file"], "a.gcode");
  // Before any of it went out, there is nothing to reset.
  HttpGuard small(Config());
  small.FromClient(ClientHead(body.size()) + body.substr(0, 1000), &out);
  EXPECT_FALSE(small.ClientEof());
  EXPECT_FALSE(small.abort_target());
}

// Issue 11: before every upload OctoPrint's UI asks whether the name is
// taken, with JSON on POST /api/files/test; the guard used to read `test` as
// a storage and answer 400 bad-multipart, so the Upload button did nothing.
// The UI's exact requests (from the recording) reach OctoPrint unchanged,
// for every role: the answer is read-only (FILES_LIST in OctoPrint).
TEST(HttpGuardUploadTest, TheUisExistsCheckBeforeAnUploadPassesUnchanged) {
  absl::StatusOr<std::vector<tests::UiRequest>> corpus = tests::LoadUiCorpus();
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  int checks = 0;
  for (const tests::UiRequest& ui : *corpus) {
    if (ui.method != "POST" || ui.path() != "/api/files/test") continue;
    ++checks;
    ASSERT_EQ(ui.content_type, "application/json; charset=UTF-8");
    ASSERT_TRUE(absl::StrContains(ui.body, R"("command":"exists")")) << ui.body;
    for (policy::Role role : {policy::Role::kViewer, policy::Role::kOperator,
                              policy::Role::kAdmin}) {
      GuardConfig config = Config();
      config.role = role;
      HttpGuard guard(config);
      GuardOutput out;
      guard.FromClient(
          absl::StrCat(
              "POST /api/files/test HTTP/1.1\r\nHost: 127.0.0.1:5000\r\n"
              "Origin: http://127.0.0.1:5000\r\nX-Requested-With: "
              "XMLHttpRequest\r\n"
              "Content-Type: ",
              ui.content_type, "\r\nContent-Length: ", ui.body.size(),
              "\r\n\r\n", ui.body),
          &out);
      const std::string where =
          absl::StrCat(policy::RoleName(role), ": ", ui.body);
      EXPECT_EQ(out.to_client, "") << where;
      EXPECT_TRUE(
          absl::StartsWith(out.to_target, "POST /api/files/test HTTP/1.1\r\n"))
          << where << "\n"
          << out.to_target;
      EXPECT_TRUE(absl::StrContains(
          out.to_target,
          absl::StrCat("\r\nContent-Type: ", ui.content_type, "\r\n")))
          << where;
      EXPECT_TRUE(
          absl::EndsWith(out.to_target, absl::StrCat("\r\n\r\n", ui.body)))
          << where;
      guard.FromTarget(
          "HTTP/1.1 200 OK\r\nContent-Type: "
          "application/json\r\nContent-Length: 15\r\n\r\n"
          "{\"exists\":false}",
          &out);
      EXPECT_TRUE(absl::StartsWith(out.to_client, "HTTP/1.1 200 OK\r\n"))
          << where;
      std::vector<GuardEvent> events = guard.TakeEvents();
      ASSERT_EQ(events.size(), 1u) << where;
      EXPECT_EQ(events[0].verdict, "allow") << where;
      EXPECT_EQ(events[0].rule, "octoprint.files.test") << where;
    }
  }
  EXPECT_EQ(checks, 10);  // 5 uploads each for admin and bob
}

// `test` is not a storage: a multipart body there is no upload (OctoPrint
// reads only JSON commands at /api/files/test and stores nothing), so it is
// neither parsed nor scanned, and forwarded as it came.
TEST(HttpGuardUploadTest, AMultipartBodyForFilesTestIsNoUpload) {
  const std::string body = Body("a.gcode", "M997\n");
  HttpGuard guard(Config());
  GuardOutput out;
  const std::string head = absl::StrCat(
      "POST /api/files/test HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ",
      kType, "\r\nContent-Length: ", body.size(), "\r\n\r\n");
  guard.FromClient(head + body, &out);
  EXPECT_EQ(out.to_client, "");
  EXPECT_TRUE(
      absl::StartsWith(out.to_target, "POST /api/files/test HTTP/1.1\r\n"));
  EXPECT_TRUE(absl::EndsWith(out.to_target, "\r\n\r\n" + body));
  EXPECT_FALSE(guard.abort_target());
  guard.FromTarget("HTTP/1.1 400 BAD REQUEST\r\nContent-Length: 0\r\n\r\n",
                   &out);
  std::vector<GuardEvent> events = guard.TakeEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].rule, "octoprint.files.test");
  EXPECT_EQ(events[0].status, 400);  // OctoPrint's own answer, not the guard's
  EXPECT_TRUE(
      events[0].fields.empty());  // no file, size or scan: not an upload
}

}  // namespace
}  // namespace bowden::guard
