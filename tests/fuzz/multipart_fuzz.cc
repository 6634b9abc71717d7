// Fuzz target: the streaming multipart/form-data reader. The input's first
// line is the Content-Type (a fixed one when it is not accepted), the rest
// the body. Nothing may crash; an accepted boundary is 1-70 characters of
// RFC 2046's set; the body fed in pseudo-random splits reads exactly as
// fed whole (same status, same parts, same content); callbacks come in
// order; memory stays within the documented bound; and in a body that is
// accepted, no part's content holds the boundary string and no part name
// repeats.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "guard/multipart.h"

namespace {

using bowden::guard::MultipartPart;
using bowden::guard::MultipartReader;

[[noreturn]] void Fail(absl::string_view what, absl::string_view input) {
  std::cerr << what << " for \"" << absl::CHexEscape(input) << "\"\n";
  std::abort();
}

struct Recorder : MultipartReader::Handler {
  absl::Status OnPart(const MultipartPart& part) override {
    if (open) Fail("OnPart inside a part", "");
    open = true;
    parts.push_back({part, ""});
    return absl::OkStatus();
  }
  absl::Status OnData(absl::string_view data) override {
    if (!open || data.empty()) Fail("OnData outside a part or empty", data);
    parts.back().second.append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status OnPartEnd() override {
    if (!open) Fail("OnPartEnd outside a part", "");
    open = false;
    return absl::OkStatus();
  }
  bool open = false;
  std::vector<std::pair<MultipartPart, std::string>> parts;
};

absl::Status Read(MultipartReader reader, absl::string_view body, uint32_t seed,
                  bool whole, Recorder* recorder) {
  std::minstd_rand gen(seed);
  size_t at = 0;
  const size_t bound = reader.boundary().size() + 3 + MultipartReader::kMaxHeaderBytes;
  while (at < body.size()) {
    size_t n = whole ? body.size() : 1 + gen() % std::min<size_t>(body.size() - at, 97);
    absl::Status fed = reader.Feed(body.substr(at, n), recorder);
    if (reader.buffered_bytes() > bound) Fail("the reader holds too much", body);
    at += n;
    if (!fed.ok()) return fed;
  }
  return reader.Finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  absl::string_view content_type = input.substr(0, newline);
  absl::string_view body =
      newline == absl::string_view::npos ? absl::string_view() : input.substr(newline + 1);
  absl::StatusOr<MultipartReader> reader = MultipartReader::Create(content_type);
  if (reader.ok()) {
    const std::string& b = reader->boundary();
    if (b.empty() || b.size() > 70 || b.back() == ' ') Fail("a bad boundary accepted", input);
  } else {
    reader = MultipartReader::Create("multipart/form-data; boundary=XyZ123");
  }
  Recorder whole;
  const absl::Status expected = Read(*reader, body, 0, true, &whole);
  const uint32_t seed = static_cast<uint32_t>(std::hash<std::string>()(std::string(input)));
  for (uint32_t round = 0; round < 2; ++round) {
    Recorder split;
    absl::Status status = Read(*reader, body, seed + round, false, &split);
    if (status != expected) Fail("a split read differs from the whole", input);
    if (!expected.ok()) continue;
    if (split.parts.size() != whole.parts.size()) Fail("split parts differ", input);
    for (size_t i = 0; i < whole.parts.size(); ++i) {
      if (split.parts[i].second != whole.parts[i].second) Fail("split content differs", input);
    }
  }
  if (expected.ok()) {
    if (whole.open) Fail("accepted with a part still open", input);
    const std::string dash = absl::StrCat("--", reader->boundary());
    std::set<std::string> names;
    for (const auto& [part, content] : whole.parts) {
      if (absl::StrContains(content, dash)) Fail("the boundary inside accepted content", input);
      if (part.name.empty() || !names.insert(part.name).second) Fail("bad part names", input);
    }
  }
  return 0;
}
