#include "guard/multipart.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace bowden::guard {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

absl::Status Bad(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed multipart body: ", why));
}

// RFC 7230 tchar.
bool IsTokenChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("!#$%&'*+-.^_`|~").find(c) != absl::string_view::npos;
}

bool IsControl(char c) {
  unsigned char byte = static_cast<unsigned char>(c);
  return byte < 0x20 || byte == 0x7f;
}

// RFC 2046 bchars.
bool IsBoundaryChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
         absl::string_view("'()+_,-./:=? ").find(c) != absl::string_view::npos;
}

void SkipSpace(absl::string_view* text) {
  while (!text->empty() && (text->front() == ' ' || text->front() == '\t')) {
    text->remove_prefix(1);
  }
}

std::string Token(absl::string_view* text) {
  size_t n = 0;
  while (n < text->size() && IsTokenChar((*text)[n])) ++n;
  std::string token(text->substr(0, n));
  text->remove_prefix(n);
  return token;
}

// Parses "; name=value" parameters (value a token or a quoted string) into
// `params`, names in lower case. Stricter than RFC 7231 where parsers
// disagree: no whitespace around '=', no backslash escapes, no repeats.
absl::Status ParseParams(absl::string_view text, absl::string_view what, Params* params) {
  while (true) {
    SkipSpace(&text);
    if (text.empty()) return absl::OkStatus();
    if (text.front() != ';') return Bad(absl::StrCat("expected ';' in ", what));
    text.remove_prefix(1);
    SkipSpace(&text);
    std::string name = absl::AsciiStrToLower(Token(&text));
    if (name.empty() || text.empty() || text.front() != '=') {
      return Bad(absl::StrCat("a parameter of ", what, " is not name=value"));
    }
    text.remove_prefix(1);
    std::string value;
    if (!text.empty() && text.front() == '"') {
      size_t end = text.find('"', 1);
      if (end == absl::string_view::npos) {
        return Bad(absl::StrCat("an unterminated quoted string in ", what));
      }
      value = std::string(text.substr(1, end - 1));
      text.remove_prefix(end + 1);
      for (char c : value) {
        if (c == '\\' || IsControl(c)) {
          return Bad(absl::StrCat("a backslash or control character in a quoted value of ",
                                  what));
        }
      }
    } else {
      value = Token(&text);
      if (value.empty()) return Bad(absl::StrCat("an empty parameter value in ", what));
    }
    for (const auto& [seen, unused] : *params) {
      if (seen == name) return Bad(absl::StrCat("the parameter ", name, " repeats in ", what));
    }
    params->emplace_back(std::move(name), std::move(value));
  }
}

// "type/subtype" at the start of `*text`, consumed; "" when there is none.
std::string MediaType(absl::string_view* text) {
  std::string type = Token(text);
  if (type.empty() || text->empty() || text->front() != '/') return "";
  text->remove_prefix(1);
  std::string subtype = Token(text);
  if (subtype.empty()) return "";
  return absl::StrCat(type, "/", subtype);
}

}  // namespace

absl::StatusOr<MultipartReader> MultipartReader::Create(absl::string_view content_type) {
  absl::string_view text = content_type;
  SkipSpace(&text);
  // OctoPrint streams a body as multipart only when its Content-Type starts
  // with "multipart" in lower case; anything else would reach a different
  // parser, so only the exact spelling is accepted.
  if (MediaType(&text) != "multipart/form-data") {
    return absl::InvalidArgumentError("an upload must be multipart/form-data");
  }
  Params params;
  absl::Status parsed = ParseParams(text, "the Content-Type", &params);
  if (!parsed.ok()) return parsed;
  const std::string* boundary = nullptr;
  for (const auto& [name, value] : params) {
    if (name == "boundary") boundary = &value;
  }
  if (boundary == nullptr) return Bad("the Content-Type has no boundary");
  if (boundary->empty() || boundary->size() > 70 || boundary->back() == ' ' ||
      !std::all_of(boundary->begin(), boundary->end(), IsBoundaryChar)) {
    return Bad("the boundary must be 1 to 70 characters of RFC 2046's set");
  }
  return MultipartReader(*boundary);
}

MultipartReader::MultipartReader(std::string boundary)
    : boundary_(std::move(boundary)), dash_boundary_(absl::StrCat("--", boundary_)) {}

absl::Status MultipartReader::Fail(absl::Status status) {
  status_ = std::move(status);
  return status_;
}

absl::Status MultipartReader::Feed(absl::string_view data, Handler* handler) {
  if (!status_.ok()) return status_;
  while (!data.empty()) {
    absl::Status step;
    switch (state_) {
      case State::kStart:
        step = ReadStart(&data);
        break;
      case State::kAfterBoundary:
        step = ReadAfterBoundary(&data);
        break;
      case State::kHeaders:
        step = ReadHeaders(&data, handler);
        break;
      case State::kBody:
        step = ReadBody(&data, handler);
        break;
      case State::kEpilogue:
      case State::kDone:
        step = ReadEpilogue(&data);
        break;
    }
    if (!step.ok()) return Fail(std::move(step));
  }
  return absl::OkStatus();
}

absl::Status MultipartReader::Finish() {
  if (!status_.ok()) return status_;
  if (state_ == State::kDone || (state_ == State::kEpilogue && matched_ == 0)) {
    return absl::OkStatus();
  }
  return Fail(Bad("the body ends before the closing boundary"));
}

absl::Status MultipartReader::ReadStart(absl::string_view* data) {
  while (!data->empty() && matched_ < dash_boundary_.size()) {
    if (data->front() != dash_boundary_[matched_]) {
      return Bad("the body must start with the boundary (no preamble)");
    }
    data->remove_prefix(1);
    ++matched_;
  }
  if (matched_ == dash_boundary_.size()) {
    state_ = State::kAfterBoundary;
    matched_ = 0;
  }
  return absl::OkStatus();
}

absl::Status MultipartReader::ReadAfterBoundary(absl::string_view* data) {
  if (matched_ == 0) {
    after_ = data->front();
    data->remove_prefix(1);
    matched_ = 1;
    if (data->empty()) return absl::OkStatus();
  }
  char second = data->front();
  data->remove_prefix(1);
  matched_ = 0;
  if (after_ == '-' && second == '-') {
    state_ = State::kEpilogue;
    return absl::OkStatus();
  }
  if (after_ != '\r' || second != '\n') {
    return Bad("a boundary must be followed by CRLF or \"--\"");
  }
  if (names_.size() >= kMaxParts) return Bad(absl::StrCat("more than ", kMaxParts, " parts"));
  state_ = State::kHeaders;
  header_bytes_ = 0;
  header_line_.clear();
  headers_.clear();
  return absl::OkStatus();
}

absl::Status MultipartReader::ReadEpilogue(absl::string_view* data) {
  static constexpr absl::string_view kCrlf = "\r\n";
  while (!data->empty()) {
    if (state_ == State::kDone || data->front() != kCrlf[matched_]) {
      return Bad("nothing but CRLF may follow the closing boundary");
    }
    data->remove_prefix(1);
    if (++matched_ == kCrlf.size()) state_ = State::kDone;
  }
  return absl::OkStatus();
}

absl::Status MultipartReader::ReadHeaders(absl::string_view* data, Handler* handler) {
  while (!data->empty()) {
    size_t newline = data->find('\n');
    size_t take = newline == absl::string_view::npos ? data->size() : newline + 1;
    header_bytes_ += take;
    if (header_bytes_ > kMaxHeaderBytes) {
      return Bad(absl::StrCat("a part's headers are longer than ", kMaxHeaderBytes, " bytes"));
    }
    header_line_.append(data->data(), take);
    data->remove_prefix(take);
    if (newline == absl::string_view::npos) return absl::OkStatus();
    if (header_line_.size() < 2 || header_line_[header_line_.size() - 2] != '\r') {
      return Bad("a part header line must end with CRLF");
    }
    header_line_.resize(header_line_.size() - 2);
    if (header_line_.empty()) return EndHeaders(handler);
    absl::Status line = HeaderLine(header_line_);
    if (!line.ok()) return line;
    header_line_.clear();
  }
  return absl::OkStatus();
}

absl::Status MultipartReader::HeaderLine(absl::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    return Bad("folded part header lines are not accepted");
  }
  for (char c : line) {
    if (IsControl(c) && c != '\t') return Bad("a control character in a part header");
  }
  // OctoPrint cuts a header block at the first copy of the (bare) boundary
  // in it, so a header like "X: <boundary>Content-Disposition: ..." would
  // name a different part there than here.
  if (absl::StrContains(line, boundary_)) {
    return Bad("the boundary string appears in a part header");
  }
  size_t colon = line.find(':');
  absl::string_view name = line.substr(0, colon);
  if (colon == absl::string_view::npos || name.empty() ||
      !std::all_of(name.begin(), name.end(), IsTokenChar)) {
    return Bad("a part header line is not \"Name: value\"");
  }
  std::string lower = absl::AsciiStrToLower(name);
  for (const auto& [seen, unused] : headers_) {
    if (seen == lower) return Bad(absl::StrCat("the part header ", name, " repeats"));
  }
  headers_.emplace_back(std::move(lower),
                        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  return absl::OkStatus();
}

absl::Status MultipartReader::EndHeaders(Handler* handler) {
  MultipartPart part;
  bool disposition = false;
  for (const auto& [name, value] : headers_) {
    absl::string_view text = value;
    if (name == "content-disposition") {
      disposition = true;
      if (!absl::EqualsIgnoreCase(Token(&text), "form-data")) {
        return Bad("a part's Content-Disposition must be form-data");
      }
      Params params;
      absl::Status parsed = ParseParams(text, "a Content-Disposition", &params);
      if (!parsed.ok()) return parsed;
      for (auto& [key, param] : params) {
        if (key == "name") part.name = std::move(param);
        if (key == "filename") part.filename = std::move(param);
        if (key == "filename*") part.filename_ext = std::move(param);
        if (key == "filename" || key == "filename*") part.has_filename = true;
      }
    } else if (name == "content-type") {
      part.content_type = absl::AsciiStrToLower(MediaType(&text));
      Params ignored;
      if (part.content_type.empty() || !ParseParams(text, "a part's Content-Type", &ignored).ok()) {
        return Bad("a part's Content-Type cannot be read");
      }
      if (absl::StartsWith(part.content_type, "multipart/")) {
        return Bad("nested multipart parts are not accepted");
      }
    } else if (name == "content-transfer-encoding") {
      std::string encoding = absl::AsciiStrToLower(value);
      if (encoding != "binary" && encoding != "8bit" && encoding != "7bit") {
        return Bad("a Content-Transfer-Encoding other than binary, 8bit or 7bit");
      }
    }
  }
  if (!disposition) return Bad("a part has no Content-Disposition");
  if (part.name.empty()) return Bad("a part has no name");
  if (part.name.size() > kMaxNameBytes) return Bad("a part's name is too long");
  if (std::find(names_.begin(), names_.end(), part.name) != names_.end()) {
    return Bad(absl::StrCat("the part \"", part.name, "\" appears twice"));
  }
  names_.push_back(part.name);
  headers_.clear();
  header_line_.clear();
  carry_.clear();
  state_ = State::kBody;
  return handler->OnPart(part);
}

absl::Status MultipartReader::LastContent(absl::string_view content, Handler* handler) {
  // The CRLF before "--boundary" belongs to the delimiter. Without it, the
  // boundary string sits inside the part, where OctoPrint would still cut.
  if (!absl::EndsWith(content, "\r\n")) {
    return Bad("the boundary string appears inside a part");
  }
  content.remove_suffix(2);
  if (!content.empty()) {
    absl::Status data = handler->OnData(content);
    if (!data.ok()) return data;
  }
  state_ = State::kAfterBoundary;
  matched_ = 0;
  carry_.clear();
  return handler->OnPartEnd();
}

// Content goes on at once except the last `keep` bytes (CRLF plus a
// possible start of "--boundary"), which wait in carry_ for what follows.
absl::Status MultipartReader::ReadBody(absl::string_view* data, Handler* handler) {
  const size_t keep = dash_boundary_.size() + 1;
  absl::string_view d = *data;
  if (!carry_.empty()) {
    size_t n = std::min(d.size(), keep);
    std::string junction = absl::StrCat(carry_, d.substr(0, n));
    size_t at = junction.find(dash_boundary_);
    if (at != std::string::npos) {
      // A match always ends past the old carry (which holds none), so what
      // follows it is the rest of `d`.
      data->remove_prefix(at + dash_boundary_.size() - carry_.size());
      return LastContent(absl::string_view(junction).substr(0, at), handler);
    }
    if (n == d.size()) {  // all of `d` is in the junction
      size_t emit = junction.size() > keep ? junction.size() - keep : 0;
      carry_ = junction.substr(emit);
      data->remove_prefix(d.size());
      if (emit == 0) return absl::OkStatus();
      return handler->OnData(absl::string_view(junction).substr(0, emit));
    }
    // No match starts in the carry or at d[0..1], so the carry is content
    // and the CRLF before any later match lies within `d`.
    std::string content = std::move(carry_);
    carry_.clear();
    absl::Status sent = handler->OnData(content);
    if (!sent.ok()) return sent;
  }
  size_t at = d.find(dash_boundary_);
  if (at != absl::string_view::npos) {
    data->remove_prefix(at + dash_boundary_.size());
    return LastContent(d.substr(0, at), handler);
  }
  size_t emit = d.size() > keep ? d.size() - keep : 0;
  carry_.assign(d.data() + emit, d.size() - emit);
  data->remove_prefix(d.size());
  if (emit == 0) return absl::OkStatus();
  return handler->OnData(d.substr(0, emit));
}

}  // namespace bowden::guard
