#include "guard/python_format.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace bowden::guard {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr int kMaxWidth = 99;
constexpr int kMaxPrecision = 49;
constexpr double kMaxMagnitude = 1e15;

absl::Status Bad(absl::string_view what) {
  return absl::InvalidArgumentError(std::string(what));
}

// One parsed "%(key)flags width .precision conv".
struct Spec {
  std::string key;
  std::string flags;
  int width = -1;      // -1: none
  int precision = -1;  // -1: none
  char conv = 0;
};

// Reads up to two digits' worth of a decimal number; -2 when it is too big.
int ReadNumber(absl::string_view* text, int max) {
  int value = 0;
  bool any = false;
  while (!text->empty() && absl::ascii_isdigit(static_cast<unsigned char>(text->front()))) {
    value = value * 10 + (text->front() - '0');
    text->remove_prefix(1);
    any = true;
    if (value > max) return -2;
  }
  return any ? value : -1;
}

// Parses the spec after '%' (which is already consumed) in `*text`.
absl::StatusOr<Spec> ParseSpec(absl::string_view* text) {
  Spec spec;
  if (text->empty() || text->front() != '(') {
    return Bad(
        "a % conversion without a (name) would format the whole `parameters` object; use "
        "%(name)s");
  }
  text->remove_prefix(1);
  const size_t close = text->find(')');
  if (close == absl::string_view::npos) return Bad("a %( conversion has no closing parenthesis");
  spec.key = std::string(text->substr(0, close));
  if (spec.key.find('(') != std::string::npos) {
    return Bad("a parameter name must not contain parentheses");
  }
  text->remove_prefix(close + 1);
  while (!text->empty() && absl::string_view("#0- +").find(text->front()) !=
                               absl::string_view::npos) {
    spec.flags.push_back(text->front());
    text->remove_prefix(1);
  }
  if (!text->empty() && text->front() == '*') return Bad("a `*` width is not supported");
  spec.width = ReadNumber(text, kMaxWidth);
  if (spec.width == -2) return Bad(absl::StrCat("a width above ", kMaxWidth, " is refused"));
  if (!text->empty() && text->front() == '.') {
    text->remove_prefix(1);
    if (!text->empty() && text->front() == '*') return Bad("a `*` precision is not supported");
    spec.precision = ReadNumber(text, kMaxPrecision);
    if (spec.precision == -2) {
      return Bad(absl::StrCat("a precision above ", kMaxPrecision, " is refused"));
    }
    if (spec.precision == -1) spec.precision = 0;  // "%.f" means precision 0
  }
  if (!text->empty() && (text->front() == 'h' || text->front() == 'l' || text->front() == 'L')) {
    text->remove_prefix(1);
  }
  if (text->empty()) return Bad("the command ends in the middle of a % conversion");
  spec.conv = text->front();
  text->remove_prefix(1);
  switch (spec.conv) {
    case 's':
    case 'd':
    case 'i':
    case 'u':
    case 'f':
    case 'F':
      return spec;
    case 'c':
      return Bad("the %c conversion turns a number into any character, a line break included");
    default:
      return Bad(absl::StrCat("the %", absl::CHexEscape(std::string(1, spec.conv)),
                              " conversion is not one the guard can judge; use s, d, i, u or f"));
  }
}

// Python's str() of a JSON number, for `s`.
absl::StatusOr<std::string> NumberAsString(double value) {
  if (value == std::trunc(value)) return absl::StrCat(static_cast<int64_t>(value));
  if (std::fabs(value) < 1e-4) {
    return Bad("a fraction below 0.0001 would be written with an exponent");
  }
  // Shortest form that reads back as the same double (Python's repr).
  char buffer[64];
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", digits, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string text = buffer;
  if (text.find_first_of("eE") != std::string::npos) {
    return Bad("the number would be written with an exponent");
  }
  return text;
}

std::string Pad(std::string text, const Spec& spec) {
  if (spec.width > 0 && text.size() < static_cast<size_t>(spec.width)) {
    const std::string fill(spec.width - text.size(), ' ');
    text = spec.flags.find('-') != std::string::npos ? text + fill : fill + text;
  }
  return text;
}

absl::StatusOr<std::string> Render(const Spec& spec, const Value& value) {
  if (value.has_string_value()) {
    if (spec.conv != 's') {
      return Bad(absl::StrCat("parameter \"", absl::CHexEscape(spec.key),
                              "\" is a string, but %", std::string(1, spec.conv),
                              " needs a number"));
    }
    std::string text = value.string_value();
    for (char c : text) {
      if (c < 0x20 || c > 0x7e) {
        return Bad(absl::StrCat("parameter \"", absl::CHexEscape(spec.key),
                                "\" holds a line break or another character outside printable "
                                "ASCII"));
      }
    }
    if (spec.precision >= 0 && text.size() > static_cast<size_t>(spec.precision)) {
      text.resize(spec.precision);
    }
    return Pad(std::move(text), spec);
  }
  if (!value.has_number_value()) {
    return Bad(absl::StrCat("parameter \"", absl::CHexEscape(spec.key),
                            "\" must be a number or a string"));
  }
  const double number = value.number_value();
  if (!std::isfinite(number) || std::fabs(number) >= kMaxMagnitude) {
    return Bad(absl::StrCat("parameter \"", absl::CHexEscape(spec.key),
                            "\" is not a number below 1e15"));
  }
  if (spec.conv == 's') {
    absl::StatusOr<std::string> text = NumberAsString(number);
    if (!text.ok()) return text.status();
    if (spec.precision >= 0 && text->size() > static_cast<size_t>(spec.precision)) {
      text->resize(spec.precision);
    }
    return Pad(*std::move(text), spec);
  }
  // d, i, u and f, F read the number as C does; Python's %d truncates a
  // float towards zero like the cast below.
  // '#' means nothing to Python's integer conversions and is undefined for
  // C's %d, so it goes.
  std::string flags = spec.flags;
  if (spec.conv != 'f' && spec.conv != 'F') flags.erase(std::remove(flags.begin(), flags.end(), '#'), flags.end());
  std::string c_spec = absl::StrCat("%", flags);
  if (spec.width >= 0) absl::StrAppend(&c_spec, spec.width);
  if (spec.precision >= 0) absl::StrAppend(&c_spec, ".", spec.precision);
  char buffer[256];
  if (spec.conv == 'f' || spec.conv == 'F') {
    absl::StrAppend(&c_spec, "f");
    std::snprintf(buffer, sizeof(buffer), c_spec.c_str(), number);
  } else {
    absl::StrAppend(&c_spec, "lld");
    std::snprintf(buffer, sizeof(buffer), c_spec.c_str(),
                  static_cast<long long>(number));  // NOLINT(runtime/int): printf's type
  }
  return std::string(buffer);
}

}  // namespace

absl::StatusOr<std::string> PythonPercentFormat(absl::string_view format,
                                                const Struct& mapping) {
  std::string out;
  while (!format.empty()) {
    const size_t percent = format.find('%');
    out.append(format.data(), std::min(percent, format.size()));
    if (percent == absl::string_view::npos) break;
    format.remove_prefix(percent + 1);
    if (!format.empty() && format.front() == '%') {
      out.push_back('%');
      format.remove_prefix(1);
      continue;
    }
    absl::StatusOr<Spec> spec = ParseSpec(&format);
    if (!spec.ok()) return spec.status();
    auto it = mapping.fields().find(spec->key);
    if (it == mapping.fields().end()) {
      return Bad(absl::StrCat("the command uses parameter \"", absl::CHexEscape(spec->key),
                              "\", which `parameters` does not set"));
    }
    absl::StatusOr<std::string> text = Render(*spec, it->second);
    if (!text.ok()) return text.status();
    out += *text;
  }
  return out;
}

}  // namespace bowden::guard
