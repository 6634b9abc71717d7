// Fuzz target: request-target canonicalisation and the rules that read it.
// An accepted target must come out in canonical shape (starts with '/', no
// "//", no "." or ".." segments, no '\', no control characters), and must be
// a fixed point: canonicalising the forwarded form, or the path itself when
// it holds nothing a raw target spells differently, gives the same result.
// Every decision on it must be well-formed (a rule id; no inspection on a
// denial).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "guard/canonical_path.h"
#include "guard/rules.h"

namespace {

[[noreturn]] void Fail(const std::string& input, const std::string& what) {
  std::cerr << what << " for \"" << absl::CHexEscape(input) << "\"\n";
  std::abort();
}

bool HasRawSpelling(const std::string& path) {
  for (const char c : path) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (c == '%' || c == '?' || c == '#' || c == ' ' || byte >= 0x80) {
      return false;
    }
  }
  return true;
}

void CheckShape(const std::string& input, const std::string& path) {
  if (path.empty() || path.front() != '/') Fail(input, "no leading '/'");
  for (const char* bad : {"//", "/./", "/../", "\\"}) {
    if (absl::StrContains(path, bad)) Fail(input, std::string("holds ") + bad);
  }
  if (absl::EndsWith(path, "/.") || absl::EndsWith(path, "/..")) {
    Fail(input, "ends in a dot segment");
  }
  for (const char c : path) {
    const unsigned char byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7F) Fail(input, "control character");
  }
  if (path.size() > bowden::guard::kMaxRequestTargetBytes) {
    Fail(input, "longer than the input limit");
  }
}

void CheckDecisions(const std::string& input,
                    const bowden::guard::CanonicalTarget& target) {
  using bowden::guard::Decide;
  using bowden::guard::Inspect;
  using bowden::guard::TargetKind;
  using bowden::policy::Role;
  const bowden::guard::LocalCeiling local;
  for (TargetKind kind : {TargetKind::kOctoPrint, TargetKind::kWebcam}) {
    for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
      for (const char* method : {"GET", "POST", "DELETE", "OPTIONS"}) {
        const bowden::guard::Decision d =
            Decide(kind, role, method, target, local);
        if (d.rule.empty() || d.reason.empty()) Fail(input, "empty verdict");
        if (!d.allow && d.inspect != Inspect::kNone) {
          Fail(input, "a denial asks for inspection");
        }
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  bowden::guard::CanonicalizeHeaderName(input);
  auto target = bowden::guard::Canonicalize(input);
  if (!target.ok()) return 0;
  CheckShape(input, target->path);

  auto forwarded =
      bowden::guard::Canonicalize(bowden::guard::OriginForm(*target));
  if (!forwarded.ok()) Fail(input, "forwarded form refused");
  if (!(*forwarded == *target)) Fail(input, "forwarded form changed meaning");

  if (HasRawSpelling(target->path)) {
    auto again = bowden::guard::Canonicalize(target->path);
    if (!again.ok()) Fail(input, "canonical path refused");
    if (again->path != target->path) Fail(input, "not idempotent");
  }
  CheckDecisions(input, *target);
  return 0;
}
