#ifndef BOWDEN_GUARD_MULTIPART_H_
#define BOWDEN_GUARD_MULTIPART_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::guard {

// The headers of one part of a multipart/form-data body.
struct MultipartPart {
  std::string name;           // Content-Disposition `name`; never empty
  bool has_filename = false;  // `filename` or `filename*` present: a file
  std::string filename;       // `filename`, unquoted (may be empty)
  std::string filename_ext;   // `filename*` (RFC 5987) exactly as sent
  std::string content_type;   // the part's Content-Type, or ""
};

// A streaming reader of multipart/form-data bodies (RFC 7578, RFC 2046) for
// the HTTP guard: it is fed the decoded request body in pieces split
// anywhere, reports each part's headers and hands its content on in pieces,
// so an upload of any size is judged without being held.
//
// It accepts only what every parser on the way reads the same way, because
// the guard judges with this reader and OctoPrint stores with its own.
// OctoPrint's reader takes "--boundary" anywhere as a delimiter, even
// mid-line, so a boundary string anywhere inside a part is refused (RFC 2046
// forbids it anyway) rather than read as content, and it cuts a part's
// header block at the bare boundary string, so that string in a part
// header is refused too. Also refused: anything
// before the first boundary or after the closing one (except one CRLF),
// whitespace after a boundary, a body cut off before the closing boundary,
// part headers with folded lines, bare CR or LF, NUL or other control
// characters, a header block over kMaxHeaderBytes, a repeated header, a
// missing or non-form-data Content-Disposition, a missing `name`, a repeated
// parameter, a backslash in a quoted value (parsers disagree on escapes),
// a repeated part name (which one would the server keep?), nested
// multipart, a Content-Transfer-Encoding that changes the bytes, and more
// than kMaxParts parts.
//
// Memory: the boundary plus a few bytes of content that may start a
// delimiter, one part's header block (at most kMaxHeaderBytes), and the
// names of the parts seen (at most kMaxParts of kMaxNameBytes): never the
// size of a part.
//
// After an error, Feed and Finish keep returning it. A plain value;
// thread-compatible.
class MultipartReader {
 public:
  static constexpr size_t kMaxHeaderBytes = 8 * 1024;
  static constexpr size_t kMaxParts = 32;
  static constexpr size_t kMaxNameBytes = 200;

  // What the reader reports, in order: OnPart, OnData* and OnPartEnd for
  // each part. A non-OK status from a handler stops the reader, and Feed
  // returns it unchanged. Called on the thread that calls Feed, so an
  // implementation needs no more thread-safety than its reader.
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual absl::Status OnPart(const MultipartPart& part) = 0;
    virtual absl::Status OnData(absl::string_view data) = 0;
    virtual absl::Status OnPartEnd() = 0;
  };

  // A reader for a body whose Content-Type header value is `content_type`:
  // media type "multipart/form-data" (in lower case, as OctoPrint matches
  // it) with exactly one `boundary` parameter, quoted or not, of 1 to 70
  // characters from RFC 2046's set and not ending in a space.
  // kInvalidArgument otherwise, naming what is wrong.
  static absl::StatusOr<MultipartReader> Create(absl::string_view content_type);

  // Reads the next piece of the body, calling `handler` as parts go by.
  // kInvalidArgument when the body is malformed.
  absl::Status Feed(absl::string_view data, Handler* handler);
  // The body has ended: OK only after the closing boundary.
  absl::Status Finish();

  // Bytes held inside the reader right now (for tests of the bound).
  size_t buffered_bytes() const { return carry_.size() + header_line_.size(); }
  const std::string& boundary() const { return boundary_; }

 private:
  enum class State { kStart, kAfterBoundary, kHeaders, kBody, kEpilogue, kDone };

  explicit MultipartReader(std::string boundary);
  // Each consumes a prefix of *data (all of it when it needs more).
  absl::Status ReadStart(absl::string_view* data);
  absl::Status ReadAfterBoundary(absl::string_view* data);
  absl::Status ReadHeaders(absl::string_view* data, Handler* handler);
  absl::Status ReadBody(absl::string_view* data, Handler* handler);
  absl::Status ReadEpilogue(absl::string_view* data);
  absl::Status HeaderLine(absl::string_view line);
  absl::Status EndHeaders(Handler* handler);
  // Content that precedes a delimiter: it must end with the CRLF that
  // belongs to the delimiter.
  absl::Status LastContent(absl::string_view content, Handler* handler);
  absl::Status Fail(absl::Status status);

  std::string boundary_;
  std::string dash_boundary_;  // "--" + boundary
  State state_ = State::kStart;
  size_t matched_ = 0;  // bytes of the expected literal seen (start, after, epilogue)
  char after_ = 0;      // first byte after a boundary
  std::string carry_;   // body bytes that may begin [CRLF] "--" boundary
  std::string header_line_;
  size_t header_bytes_ = 0;
  std::vector<std::pair<std::string, std::string>> headers_;  // lower-case names
  std::vector<std::string> names_;                            // of parts seen
  absl::Status status_;
};

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_MULTIPART_H_
