#ifndef BOWDEN_CLI_OUTPUT_FORMAT_H_
#define BOWDEN_CLI_OUTPUT_FORMAT_H_

// How listings print values: for people (sizes in KiB/MiB, durations like
// 3m12s) and for programs (`--json`: one document, snake_case names, bytes
// as integers, times as RFC 3339 UTC, durations in seconds). Every string
// other people chose (names from certificates, reasons) is escaped here, so
// nothing a listing prints can drive the terminal. All functions are pure and
// thread-safe.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace bowden::cli {

// 512 B, 1.5 KiB, 12.0 MiB, 3.2 GiB (powers of 1024).
std::string HumanBytes(uint64_t bytes);

// 45s, 3m12s, 2h5m, 3d4h: the two largest units, rounded down.
std::string HumanDuration(absl::Duration duration);

// "2026-12-07T02:45:00Z".
std::string Rfc3339(absl::Time time);

// One JSON object's members, in the order they are added. Keys are
// Bowden's own snake_case names; string values are quoted with
// terminal::QuoteJson. Thread-compatible.
class JsonObject {
 public:
  JsonObject& String(absl::string_view key, absl::string_view value);
  JsonObject& Int(absl::string_view key, int64_t value);
  JsonObject& Bool(absl::string_view key, bool value);
  // An RFC 3339 UTC time, or null for 0 ("never").
  JsonObject& UnixTime(absl::string_view key, int64_t unix_seconds);
  JsonObject& Strings(absl::string_view key,
                      const std::vector<std::string>& values);
  // `json` must be a JSON value, e.g. JsonArray's.
  JsonObject& Raw(absl::string_view key, absl::string_view json);
  std::string Json() const { return "{" + members_ + "}"; }

 private:
  JsonObject& Member(absl::string_view key, absl::string_view json);
  std::string members_;
};

// [a,b,...] from JSON values.
std::string JsonArray(const std::vector<std::string>& values);

}  // namespace bowden::cli

#endif  // BOWDEN_CLI_OUTPUT_FORMAT_H_
