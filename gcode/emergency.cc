#include "gcode/emergency.h"

#include <algorithm>
#include <cstddef>

namespace bowden::gcode {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t'; }

Emergency FromLine(absl::string_view line) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && IsSpace(line[i])) ++i;
  };
  skip_space();
  if (i < line.size() && (line[i] == 'N' || line[i] == 'n') &&
      i + 1 < line.size() && IsDigit(line[i + 1])) {
    ++i;
    while (i < line.size() && IsDigit(line[i])) ++i;
    skip_space();
  }
  if (i >= line.size() || (line[i] != 'M' && line[i] != 'm')) {
    return Emergency::kNone;
  }
  ++i;
  skip_space();
  while (i < line.size() && line[i] == '0') ++i;
  const size_t start = i;
  while (i < line.size() && IsDigit(line[i]) && i - start < 4) ++i;
  if (i < line.size() && !IsSpace(line[i]) && line[i] != ';' &&
      line[i] != '(' && line[i] != '*') {
    return Emergency::kNone;
  }
  const absl::string_view code = line.substr(start, i - start);
  if (code == "112") return Emergency::kM112;
  if (code == "410") return Emergency::kM410;
  if (code == "108") return Emergency::kM108;
  return Emergency::kNone;
}

}  // namespace

Emergency FindEmergency(absl::string_view text) {
  Emergency strongest = Emergency::kNone;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size() && text[i] != '\n' && text[i] != '\r') continue;
    strongest = std::max(strongest, FromLine(text.substr(start, i - start)));
    if (strongest == Emergency::kM112) break;
    start = i + 1;
  }
  return strongest;
}

absl::string_view EmergencyCommand(Emergency emergency) {
  switch (emergency) {
    case Emergency::kM112:
      return "M112";
    case Emergency::kM410:
      return "M410";
    case Emergency::kM108:
      return "M108";
    case Emergency::kNone:
      break;
  }
  return "";
}

}  // namespace bowden::gcode
