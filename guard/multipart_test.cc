#include "guard/multipart.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace bowden::guard {
namespace {

struct Seen {
  MultipartPart part;
  std::string content;
};

// Records every part, and checks the callbacks come in order.
class Recorder : public MultipartReader::Handler {
 public:
  absl::Status OnPart(const MultipartPart& part) override {
    EXPECT_FALSE(open_);
    open_ = true;
    parts.push_back({part, ""});
    return absl::OkStatus();
  }
  absl::Status OnData(absl::string_view data) override {
    EXPECT_TRUE(open_);
    EXPECT_FALSE(data.empty());
    parts.back().content.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status OnPartEnd() override {
    EXPECT_TRUE(open_);
    open_ = false;
    return absl::OkStatus();
  }
  std::vector<Seen> parts;

 private:
  bool open_ = false;
};

// Reads `body` fed in the given pieces; returns the first error, or OK.
absl::Status Read(absl::string_view content_type, const std::vector<absl::string_view>& pieces,
                  Recorder* recorder) {
  absl::StatusOr<MultipartReader> reader = MultipartReader::Create(content_type);
  if (!reader.ok()) return reader.status();
  for (absl::string_view piece : pieces) {
    absl::Status fed = reader->Feed(piece, recorder);
    if (!fed.ok()) return fed;
  }
  return reader->Finish();
}

constexpr char kType[] = "multipart/form-data; boundary=XyZ123";

std::string Part(absl::string_view headers, absl::string_view content) {
  return absl::StrCat("--XyZ123\r\n", headers, "\r\n\r\n", content, "\r\n");
}
std::string Disposition(absl::string_view params) {
  return absl::StrCat("Content-Disposition: form-data; ", params);
}

const std::string kCurlUpload = absl::StrCat(
    Part(absl::StrCat(Disposition("name=\"file\"; filename=\"cube.gcode\""),
                      "\r\nContent-Type: application/octet-stream"),
         "; sliced\nG28\r\nM104 S200\n\r\n--XyZ12\r\n-XyZ123 --XyZ12"),
    Part(Disposition("name=\"select\""), "true"), "--XyZ123--\r\n");

TEST(MultipartTest, ContentTypes) {
  for (const char* good :
       {"multipart/form-data; boundary=abc", "multipart/form-data;boundary=\"a b:c?\"",
        "multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
        "multipart/form-data; boundary=0123456789012345678901234567890123456789012345678901234"
        "567890123456789"}) {
    EXPECT_TRUE(MultipartReader::Create(good).ok()) << good;
  }
  EXPECT_EQ(MultipartReader::Create("multipart/form-data; boundary=\"a b\"")->boundary(), "a b");
  for (const char* bad : {
           "", "application/json", "Multipart/Form-Data; boundary=x", "multipart/mixed; boundary=x",
           "multipart/form-data", "multipart/form-data; boundary=",
           "multipart/form-data; boundary=\"\"", "multipart/form-data; boundary=\"a \"",
           "multipart/form-data; boundary=\"a;b\"", "multipart/form-data; boundary=\"a@b\"",
           "multipart/form-data; boundary=a; boundary=b",
           "multipart/form-data; boundary=a; BOUNDARY=a",
           "multipart/form-data; boundary = x", "multipart/form-data; boundary=\"a\\b\"",
           "multipart/form-data; boundary=\"ab", "multipart/form-data boundary=x",
           "multipart/form-data; boundary=01234567890123456789012345678901234567890123456789012345"
           "678901234567890",
       }) {
    absl::StatusOr<MultipartReader> reader = MultipartReader::Create(bad);
    EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(MultipartTest, ReadsWhatCurlAndBrowsersSend) {
  Recorder recorder;
  ASSERT_TRUE(Read(kType, {kCurlUpload}, &recorder).ok());
  ASSERT_EQ(recorder.parts.size(), 2u);
  EXPECT_EQ(recorder.parts[0].part.name, "file");
  EXPECT_TRUE(recorder.parts[0].part.has_filename);
  EXPECT_EQ(recorder.parts[0].part.filename, "cube.gcode");
  EXPECT_EQ(recorder.parts[0].part.content_type, "application/octet-stream");
  EXPECT_EQ(recorder.parts[0].content,
            "; sliced\nG28\r\nM104 S200\n\r\n--XyZ12\r\n-XyZ123 --XyZ12");
  EXPECT_EQ(recorder.parts[1].part.name, "select");
  EXPECT_FALSE(recorder.parts[1].part.has_filename);
  EXPECT_EQ(recorder.parts[1].content, "true");
}

TEST(MultipartTest, ValidBodies) {
  struct Case {
    std::string body;
    std::vector<std::pair<std::string, std::string>> parts;  // name, content
  };
  const Case cases[] = {
      {"--XyZ123--", {}},
      {"--XyZ123--\r\n", {}},
      {Part(Disposition("name=a"), "") + "--XyZ123--", {{"a", ""}}},
      {Part(Disposition("name=a"), "\r\n") + "--XyZ123--", {{"a", "\r\n"}}},
      {Part("content-disposition: Form-Data;name=\"a\"", "x") + "--XyZ123--", {{"a", "x"}}},
      {Part(Disposition("name=\"f\"; filename*=UTF-8''%e2%82%ac.gcode"), "G28") + "--XyZ123--",
       {{"f", "G28"}}},
      {Part(Disposition("name=\"f\"; filename=\"\xe2\x82\xac 1;2.gcode\""), "G28") +
           "--XyZ123--",
       {{"f", "G28"}}},
      {Part(Disposition("name=a; x-unknown=1") + "\r\nX-Other: y\r\nContent-Transfer-Encoding: "
                                                 "binary",
            "--XyZ12") +
           Part(Disposition("name=b"), "\r\n\r\n--") + "--XyZ123--\r\n",
       {{"a", "--XyZ12"}, {"b", "\r\n\r\n--"}}},
  };
  for (const Case& c : cases) {
    Recorder recorder;
    absl::Status status = Read(kType, {c.body}, &recorder);
    ASSERT_TRUE(status.ok()) << absl::CHexEscape(c.body) << ": " << status;
    ASSERT_EQ(recorder.parts.size(), c.parts.size()) << absl::CHexEscape(c.body);
    for (size_t i = 0; i < c.parts.size(); ++i) {
      EXPECT_EQ(recorder.parts[i].part.name, c.parts[i].first);
      EXPECT_EQ(recorder.parts[i].content, c.parts[i].second) << absl::CHexEscape(c.body);
    }
  }
}

std::vector<std::string> InvalidBodies() {
  const std::string ok_part = Part(Disposition("name=a"), "x");
  std::vector<std::string> bodies = {
      "",                                              // nothing at all
      absl::StrCat("preamble\r\n", ok_part, "--XyZ123--"),
      absl::StrCat("\r\n", ok_part, "--XyZ123--"),     // even an empty line
      ok_part,                                         // no closing boundary
      absl::StrCat(ok_part, "--XyZ123-"),
      absl::StrCat(ok_part, "--XyZ123--\r"),
      absl::StrCat(ok_part, "--XyZ123--\r\nepilogue"),
      absl::StrCat(ok_part, "--XyZ123--x"),
      absl::StrCat(ok_part, "--XyZ123--\r\n--XyZ123--"),
      absl::StrCat("--XyZ123 \r\n", Disposition("name=a"), "\r\n\r\nx\r\n--XyZ123--"),
      absl::StrCat("--XyZ123\n", Disposition("name=a"), "\r\n\r\nx\r\n--XyZ123--"),
      Part(Disposition("name=a"), "x--XyZ123\r\n") + "--XyZ123--",   // mid-line boundary
      Part(Disposition("name=a"), "x\n--XyZ123--") + "--XyZ123--",
      "--XyZ123\r\n" + Disposition("name=a") + "\r\n\r\n--XyZ123--",  // no CRLF before it
      Part(Disposition("name=a"), "x\r\n--XyZ123X") + "--XyZ123--",  // not CRLF or --
      Part(Disposition("name=a"), "x\r\n--XyZ123\t") + "--XyZ123--",
      Part("Content-Disposition: form-data;\r\n name=a", "x") + "--XyZ123--",  // folding
      Part("Content-Disposition: form-data; name=a\nX: y", "x") + "--XyZ123--",
      Part("Content-Disposition: form-data; name=a\rX: y", "x") + "--XyZ123--",
      Part(std::string("Content-Disposition: form-data; name=\"a\0\"", 40), "x") + "--XyZ123--",
      Part("X-Other: y", "x") + "--XyZ123--",                     // no disposition
      Part("Content-Disposition: attachment; name=a", "x") + "--XyZ123--",
      Part("Content-Disposition: form-data", "x") + "--XyZ123--",  // no name
      Part(Disposition("name=\"\""), "x") + "--XyZ123--",
      Part(Disposition("filename=\"a.gcode\""), "x") + "--XyZ123--",
      Part(Disposition("name=a; name=b"), "x") + "--XyZ123--",
      Part(Disposition("name=\"a\"; filename=\"x.gcode\"; filename=\"y.stl\""), "x") +
          "--XyZ123--",
      Part(Disposition("name = a"), "x") + "--XyZ123--",
      Part(Disposition("name=\"a\\\"b\""), "x") + "--XyZ123--",
      Part(Disposition("name=\"a"), "x") + "--XyZ123--",
      Part(Disposition("name=a;"), "x") + "--XyZ123--",
      Part(Disposition("name=a") + "\r\n" + Disposition("name=b"), "x") + "--XyZ123--",
      Part(Disposition("name=a") + "\r\nContent-Type: multipart/mixed; boundary=q", "x") +
          "--XyZ123--",
      Part(Disposition("name=a") + "\r\nContent-Type: ???", "x") + "--XyZ123--",
      Part(Disposition("name=a") + "\r\nContent-Transfer-Encoding: base64", "eA==") +
          "--XyZ123--",
      Part(Disposition("name=a") + "\r\nNo colon here", "x") + "--XyZ123--",
      Part(Disposition("name=a") + "\r\nX-Note: a XyZ123 b", "x") + "--XyZ123--",
      Part(Disposition("name=\"XyZ123\""), "x") + "--XyZ123--",
      Part(Disposition("name=a") + "\r\nX-Big: " + std::string(9000, 'b'), "x") + "--XyZ123--",
      Part(Disposition("name=" + std::string(201, 'n')), "x") + "--XyZ123--",
      Part(Disposition("name=\"file\"; filename=a.gcode"), "G28") +
          Part(Disposition("name=\"file\"; filename=b.gcode"), "M997") + "--XyZ123--",
  };
  std::string many;
  for (int i = 0; i <= 32; ++i) many += Part(Disposition(absl::StrCat("name=p", i)), "x");
  bodies.push_back(many + "--XyZ123--");
  return bodies;
}

TEST(MultipartTest, InvalidBodiesAreRefused) {
  for (const std::string& body : InvalidBodies()) {
    Recorder recorder;
    absl::Status status = Read(kType, {body}, &recorder);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << absl::CHexEscape(body);
  }
}

// Every way to cut a body in two, and byte by byte, reads the same as whole.
TEST(MultipartTest, EverySplitReadsTheSame) {
  std::vector<std::string> bodies = InvalidBodies();
  bodies.push_back(kCurlUpload);
  bodies.push_back(Part(Disposition("name=a"), "\r\n\r\r\n--XyZ1\r\n--") + "--XyZ123--");
  for (const std::string& body : bodies) {
    Recorder whole;
    absl::Status expected = Read(kType, {body}, &whole);
    auto same = [&](const Recorder& split, const absl::Status& status, const std::string& how) {
      EXPECT_EQ(status, expected) << how << " of " << absl::CHexEscape(body);
      // A refused body may have handed on different amounts before the error.
      if (!expected.ok()) return;
      ASSERT_EQ(split.parts.size(), whole.parts.size()) << how;
      for (size_t i = 0; i < whole.parts.size(); ++i) {
        EXPECT_EQ(split.parts[i].content, whole.parts[i].content) << how;
      }
    };
    absl::string_view view = body;
    for (size_t cut = 0; cut <= body.size(); ++cut) {
      Recorder split;
      absl::Status status = Read(kType, {view.substr(0, cut), view.substr(cut)}, &split);
      same(split, status, absl::StrCat("cut at ", cut));
    }
    std::vector<absl::string_view> bytes;
    for (size_t i = 0; i < body.size(); ++i) bytes.push_back(view.substr(i, 1));
    Recorder split;
    absl::Status status = Read(kType, bytes, &split);
    same(split, status, "byte by byte");
  }
  // And every way to cut the usual upload in three.
  absl::string_view view = kCurlUpload;
  for (size_t a = 0; a <= view.size(); ++a) {
    for (size_t b = a; b <= view.size(); ++b) {
      Recorder split;
      ASSERT_TRUE(
          Read(kType, {view.substr(0, a), view.substr(a, b - a), view.substr(b)}, &split).ok());
      ASSERT_EQ(split.parts.size(), 2u);
      ASSERT_EQ(split.parts[0].content,
                "; sliced\nG28\r\nM104 S200\n\r\n--XyZ12\r\n-XyZ123 --XyZ12");
    }
  }
}

class HandlerError : public Recorder {
 public:
  absl::Status OnData(absl::string_view data) override {
    if (data.find('!') != absl::string_view::npos) return absl::PermissionDeniedError("no !");
    return Recorder::OnData(data);
  }
};

TEST(MultipartTest, HandlerErrorsStopTheReader) {
  absl::StatusOr<MultipartReader> reader = MultipartReader::Create(kType);
  HandlerError handler;
  std::string body = Part(Disposition("name=a"), "ok ! ok") + "--XyZ123--";
  EXPECT_EQ(reader->Feed(body, &handler).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(reader->Feed("more", &handler).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(reader->Finish().code(), absl::StatusCode::kPermissionDenied);
}

// A part far larger than any buffer streams through in constant memory.
TEST(MultipartTest, LargePartStreamsInConstantMemory) {
  class Counter : public MultipartReader::Handler {
   public:
    absl::Status OnPart(const MultipartPart&) override { return absl::OkStatus(); }
    absl::Status OnData(absl::string_view data) override {
      for (unsigned char c : data) hash = (hash ^ c) * 1099511628211ull;
      bytes += data.size();
      return absl::OkStatus();
    }
    absl::Status OnPartEnd() override {
      ++ends;
      return absl::OkStatus();
    }
    uint64_t hash = 14695981039346656037ull;
    uint64_t bytes = 0;
    int ends = 0;
  };
  absl::StatusOr<MultipartReader> reader =
      MultipartReader::Create("multipart/form-data; boundary=----bowdenTEST");
  ASSERT_TRUE(reader.ok());
  Counter counter;
  ASSERT_TRUE(reader->Feed("------bowdenTEST\r\nContent-Disposition: form-data; name=\"file\"; "
                           "filename=\"big.gcode\"\r\n\r\n",
                           &counter)
                  .ok());
  // Near misses of the delimiter at every alignment.
  const std::string line = "G1 X1 Y2\r\n------bowdenTES\r\n-----bowdenTEST\r\n";
  std::string chunk;
  uint64_t hash = 14695981039346656037ull;
  uint64_t total = 0;
  const uint64_t kTarget = 30ull << 20;
  size_t size = 1;
  while (total < kTarget) {
    chunk.clear();
    while (chunk.size() < size) chunk += line;
    for (unsigned char c : chunk) hash = (hash ^ c) * 1099511628211ull;
    total += chunk.size();
    ASSERT_TRUE(reader->Feed(chunk, &counter).ok());
    EXPECT_LE(reader->buffered_bytes(), sizeof("------bowdenTEST"));
    size = size * 3 % 70001 + 1;  // odd sizes, up to ~70 KB
  }
  ASSERT_TRUE(reader->Feed("\r\n------bowdenTEST--\r\n", &counter).ok());
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(counter.bytes, total);
  EXPECT_EQ(counter.hash, hash);
  EXPECT_EQ(counter.ends, 1);
  EXPECT_EQ(reader->buffered_bytes(), 0u);
}

}  // namespace
}  // namespace bowden::guard
