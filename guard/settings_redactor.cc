#include "guard/settings_redactor.h"

#include <algorithm>
#include <initializer_list>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/type_resolver.h"
#include "google/protobuf/util/type_resolver_util.h"

namespace bowden::guard {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

constexpr char kTypeUrlPrefix[] = "type.googleapis.com";

// Endings of member names that name a credential (after Normalize).
constexpr absl::string_view kSecretEndings[] = {
    "key",        "keys",       "token",         "tokens",     "secret",     "secrets",
    "password",   "passwords",  "passwd",        "passphrase", "credential", "credentials",
    "accesscode", "passcode",   "authorization", "cookie",     "cookies",    "webhook",
    "webhooks",   "webhookurl", "webhookurls",
};

// Paths (members and "*" for any array element) that carry credentials or
// identify the installation under names the ending rule does not catch.
// `api.key` is caught by the ending rule too; it is listed because it is
// the one secret every OctoPrint has.
const std::initializer_list<std::initializer_list<absl::string_view>> kSecretPaths = {
    {"api", "key"},
    {"system", "actions", "*", "command"},
    {"plugins", "eventmanager", "subscriptions", "*", "command"},
    {"plugins", "tracking", "unique_id"},
    {"plugins", "errortracking", "unique_id"},
    {"plugins", "telegram", "chats"},
};

std::string Normalize(absl::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c == '_' || c == '-' || c == '.' || c == ' ') continue;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool IsKnownPath(const std::vector<std::string>& path) {
  for (const auto& known : kSecretPaths) {
    if (known.size() != path.size()) continue;
    bool match = true;
    size_t i = 0;
    for (absl::string_view segment : known) {
      if (segment != "*" && segment != path[i]) {
        match = false;
        break;
      }
      ++i;
    }
    if (match) return true;
  }
  return false;
}

// "scheme://user:pass@host/...": user information before the host.
bool IsUrlWithUserInfo(absl::string_view text) {
  size_t scheme_end = text.find("://");
  if (scheme_end == absl::string_view::npos) return false;
  absl::string_view rest = text.substr(scheme_end + 3);
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  return absl::StrContains(authority, '@');
}

// Walks the document once, nulling what the rules name. Thread-compatible.
class Redactor {
 public:
  void WalkStruct(Struct* object) {
    for (auto& [name, member] : *object->mutable_fields()) {
      Visit(name, &member);
    }
  }

  std::vector<std::string> TakePaths() { return std::move(redacted_); }

 private:
  // `value` is the member `name` (or the array element of that index) of
  // the value at path_.
  void Visit(const std::string& name, Value* value) {
    path_.push_back(name);
    if (IsKnownPath(path_) || (!IsIndex() && IsSecretName(name)) ||
        (value->has_string_value() && IsUrlWithUserInfo(value->string_value()))) {
      Null(value);
    } else if (value->has_struct_value()) {
      WalkStruct(value->mutable_struct_value());
    } else if (value->has_list_value()) {
      auto* values = value->mutable_list_value()->mutable_values();
      for (int i = 0; i < values->size(); ++i) {
        index_depths_.push_back(path_.size() + 1);
        Visit(absl::StrCat(i), values->Mutable(i));
        index_depths_.pop_back();
      }
    }
    path_.pop_back();
  }

  // Whether the last path segment is an array index, not a member name
  // (a member may be called "0" too).
  bool IsIndex() const { return !index_depths_.empty() && index_depths_.back() == path_.size(); }

  void Null(Value* value) {
    if (value->has_null_value()) return;
    value->set_null_value(google::protobuf::NULL_VALUE);
    redacted_.push_back(absl::StrJoin(path_, "."));
  }

  std::vector<std::string> path_;
  std::vector<size_t> index_depths_;  // path_ sizes whose last segment is an index
  std::vector<std::string> redacted_;
};

}  // namespace

bool IsSecretName(absl::string_view name) {
  const std::string normalized = Normalize(name);
  for (absl::string_view ending : kSecretEndings) {
    if (absl::EndsWith(normalized, ending)) return true;
  }
  return false;
}

absl::StatusOr<RedactedSettings> RedactSettings(absl::string_view json) {
  Struct root;
  google::protobuf::util::JsonParseOptions parse;
  if (!google::protobuf::util::JsonStringToMessage(std::string(json), &root, parse).ok()) {
    return absl::InvalidArgumentError("OctoPrint's settings are not a JSON object");
  }
  Redactor redactor;
  redactor.WalkStruct(&root);
  RedactedSettings result;
  result.paths = redactor.TakePaths();
  std::sort(result.paths.begin(), result.paths.end());
  // A Struct's members are a map, iterated in no fixed order: written
  // deterministically (sorted by name, as Flask's jsonify sorts them too),
  // the same settings always give the same bytes.
  std::string binary;
  {
    google::protobuf::io::StringOutputStream stream(&binary);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    if (!root.SerializeToCodedStream(&coded)) {
      return absl::InternalError("the redacted settings could not be serialised");
    }
  }
  static google::protobuf::util::TypeResolver* const resolver =
      google::protobuf::util::NewTypeResolverForDescriptorPool(
          kTypeUrlPrefix, google::protobuf::DescriptorPool::generated_pool());
  google::protobuf::util::JsonPrintOptions print;
  if (!google::protobuf::util::BinaryToJsonString(
           resolver, absl::StrCat(kTypeUrlPrefix, "/", Struct::descriptor()->full_name()), binary,
           &result.json, print)
           .ok()) {
    return absl::InternalError("the redacted settings could not be written as JSON");
  }
  return result;
}

}  // namespace bowden::guard
