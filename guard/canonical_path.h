#ifndef BOWDEN_GUARD_CANONICAL_PATH_H_
#define BOWDEN_GUARD_CANONICAL_PATH_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::guard {

// The longest request-target the guard accepts. Longer targets are refused
// rather than truncated: no OctoPrint or webcam route comes close, and a
// bound keeps the work per request small.
inline constexpr size_t kMaxRequestTargetBytes = 8 * 1024;

// A request-target reduced to the one form every rule is written against.
//
// `path` is decoded: it starts with '/', has no empty segments (no "//"), no
// "." or ".." segments, no '\', no control characters, and only well-formed
// UTF-8. It may contain characters that mean something else in a raw target
// ('?', '%', ' ' from %3F, %25, %20), so send it upstream only through
// OriginForm(). A trailing '/' is kept: "/api/job/" is not "/api/job".
// `query` is the raw query (without '?'), validated but not decoded, because
// each backend parses its own query.
struct CanonicalTarget {
  std::string path;
  std::string query;

  bool operator==(const CanonicalTarget& other) const {
    return path == other.path && query == other.query;
  }
};

// Canonicalises an HTTP/1.1 request-target (RFC 9112 section 3.2) so that
// the guard decides on what any backend could see:
//   - origin-form "/p?q" and absolute-form "http[s]://authority/p?q" (the
//     scheme and authority are dropped: the agent, not the client, chooses
//     the upstream); asterisk-form "*" and authority-form are refused;
//   - the path is percent-decoded exactly once, %2F and %5C included; '\'
//     (raw or decoded) is a separator like '/', because some servers treat it
//     so; duplicate separators collapse; "." and ".." segments are resolved,
//     and ".." above the root is an error (not clamped: it is an attack);
//   - refused: '#' (a fragment is not part of a request-target, and a
//     backend that does not strip it would route on different bytes),
//     invalid percent escapes, double encoding (a '%' followed by two hex
//     digits left after the one decode, e.g. from %252e: OctoPrint's Tornado
//     decodes once, but another layer might decode again), NUL and other
//     control characters (raw or encoded), raw bytes >= 0x80 and spaces,
//     decoded bytes that are not well-formed UTF-8 (overlong forms such as
//     %C0%AF for '/' included), and targets over kMaxRequestTargetBytes.
// Case is kept: OctoPrint's routes are case-sensitive (measured: "/API/..."
// is a 404) and file names are case-sensitive, so lower-casing would make
// the guard decide on a path the backend never serves. The case of hex
// escapes does not matter because escapes are decoded.
// Errors are kInvalidArgument with a message that names the problem; the
// HTTP guard answers them with 400.
absl::StatusOr<CanonicalTarget> Canonicalize(absl::string_view request_target);

// The origin-form to send upstream: the canonical path percent-encoded
// where a raw character would mean something else (anything outside RFC 3986
// pchar and '/'), then "?query" when the query is not empty.
// Canonicalize(OriginForm(t)) == t for every t that Canonicalize returned,
// so the backend routes on exactly the path the rules judged.
std::string OriginForm(const CanonicalTarget& target);

// Lower-cases ASCII letters and maps '_' to '-', so "X_Script_Name",
// "x-script-name" and "X-SCRIPT-NAME" compare equal. OctoPrint's WSGI layer
// builds the key HTTP_X_SCRIPT_NAME from all of them, so header hygiene must
// treat them as one header.
std::string CanonicalizeHeaderName(absl::string_view name);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_CANONICAL_PATH_H_
