// Fuzz target: the redaction of OctoPrint's settings for roles below admin.
// Nothing may crash, and:
//  - every JSON object is rewritten (never refused), and nothing else is;
//  - the result is a JSON object in which every member with a secret name
//    is null and no string is a URL with a password;
//  - redacting the result again changes no value (nothing was missed);
//  - the same input always gives the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "guard/settings_redactor.h"

namespace {

using bowden::guard::IsSecretName;
using bowden::guard::RedactedSettings;
using bowden::guard::RedactSettings;
using google::protobuf::Struct;
using google::protobuf::Value;

[[noreturn]] void Fail(absl::string_view what, absl::string_view input) {
  std::cerr << what << " for \"" << absl::CHexEscape(input.substr(0, 2000)) << "\"\n";
  std::abort();
}

// A secret name whose value is not null, or a URL with user information.
bool Leaks(const Value& value) {
  if (value.has_string_value()) {
    const std::string& text = value.string_value();
    const size_t scheme = text.find("://");
    if (scheme == std::string::npos) return false;
    const std::string rest = text.substr(scheme + 3);
    return absl::StrContains(rest.substr(0, rest.find_first_of("/?#")), '@');
  }
  if (value.has_list_value()) {
    for (const Value& element : value.list_value().values()) {
      if (Leaks(element)) return true;
    }
  }
  if (value.has_struct_value()) {
    for (const auto& [name, member] : value.struct_value().fields()) {
      if (IsSecretName(name) && !member.has_null_value()) return true;
      if (Leaks(member)) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  Struct parsed;
  const bool is_object =
      google::protobuf::util::JsonStringToMessage(std::string(input), &parsed).ok();
  absl::StatusOr<RedactedSettings> redacted = RedactSettings(input);
  if (redacted.ok() != is_object) Fail("a JSON object refused, or something else accepted", input);
  if (!redacted.ok()) return 0;

  Value result;
  if (!google::protobuf::util::JsonStringToMessage(redacted->json, result.mutable_struct_value())
           .ok()) {
    Fail("a result that is not a JSON object", input);
  }
  if (Leaks(result)) Fail("a secret left in the result", input);
  // Compared as values: "-0" reads back as 0, which a browser treats alike.
  absl::StatusOr<RedactedSettings> again = RedactSettings(redacted->json);
  Value again_value;
  if (!again.ok() || !again->paths.empty() ||
      !google::protobuf::util::JsonStringToMessage(again->json, again_value.mutable_struct_value())
           .ok() ||
      !google::protobuf::util::MessageDifferencer::Equals(again_value, result)) {
    Fail("redacting the result again changes it", input);
  }
  absl::StatusOr<RedactedSettings> twice = RedactSettings(input);
  if (!twice.ok() || twice->json != redacted->json || twice->paths != redacted->paths) {
    Fail("the same settings gave different bytes", input);
  }
  return 0;
}
