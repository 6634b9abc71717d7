#include "cli/output_format.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "terminal/terminal_text.h"

namespace bowden::cli {

std::string HumanBytes(uint64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB",
                                           "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < sizeof(kUnits) / sizeof(kUnits[0])) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, kUnits[unit]);
}

std::string HumanDuration(absl::Duration duration) {
  if (duration < absl::ZeroDuration()) duration = absl::ZeroDuration();
  int64_t seconds = absl::ToInt64Seconds(duration);
  static constexpr struct {
    int64_t seconds;
    const char* name;
  } kUnits[] = {{86400, "d"}, {3600, "h"}, {60, "m"}, {1, "s"}};
  for (size_t i = 0; i + 1 < sizeof(kUnits) / sizeof(kUnits[0]); ++i) {
    if (seconds < kUnits[i].seconds) continue;
    int64_t rest = seconds % kUnits[i].seconds / kUnits[i + 1].seconds;
    return absl::StrCat(
        seconds / kUnits[i].seconds, kUnits[i].name,
        rest == 0 ? "" : absl::StrCat(rest, kUnits[i + 1].name));
  }
  return absl::StrCat(seconds, "s");
}

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", time, absl::UTCTimeZone());
}

JsonObject& JsonObject::Member(absl::string_view key, absl::string_view json) {
  absl::StrAppend(&members_, members_.empty() ? "" : ",",
                  terminal::QuoteJson(key), ":", json);
  return *this;
}

JsonObject& JsonObject::String(absl::string_view key, absl::string_view value) {
  return Member(key, terminal::QuoteJson(value));
}

JsonObject& JsonObject::Int(absl::string_view key, int64_t value) {
  return Member(key, absl::StrCat(value));
}

JsonObject& JsonObject::Bool(absl::string_view key, bool value) {
  return Member(key, value ? "true" : "false");
}

JsonObject& JsonObject::UnixTime(absl::string_view key, int64_t unix_seconds) {
  if (unix_seconds == 0) return Member(key, "null");
  return Member(
      key, terminal::QuoteJson(Rfc3339(absl::FromUnixSeconds(unix_seconds))));
}

JsonObject& JsonObject::Strings(absl::string_view key,
                                const std::vector<std::string>& values) {
  std::vector<std::string> quoted;
  for (const std::string& value : values)
    quoted.push_back(terminal::QuoteJson(value));
  return Member(key, JsonArray(quoted));
}

JsonObject& JsonObject::Raw(absl::string_view key, absl::string_view json) {
  return Member(key, json);
}

std::string JsonArray(const std::vector<std::string>& values) {
  return absl::StrCat("[", absl::StrJoin(values, ","), "]");
}

}  // namespace bowden::cli
