#ifndef BOWDEN_GUARD_SETTINGS_REDACTOR_H_
#define BOWDEN_GUARD_SETTINGS_REDACTOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace bowden::guard {

// OctoPrint's settings (the body of GET /api/settings) with every value a
// role below admin must not see replaced by JSON null, the way OctoPrint
// itself sends `api.key` to users who are not OctoPrint admins: the keys
// stay, so the UI's settings view model finds every field it expects.
struct RedactedSettings {
  std::string json;                // the rewritten document
  std::vector<std::string> paths;  // what became null, e.g. "api.key"
};

// Replaced by null, wherever they are in the document (plugins included,
// nested objects and arrays included):
//   - `api.key` (OctoPrint's global API key: full admin access);
//   - every member whose name, lower-cased without '_', '-', '.' and spaces,
//     ends in key(s), token(s), secret(s), password(s), passwd, passphrase,
//     credential(s), accesscode, passcode, authorization, cookie(s),
//     webhook(s) or webhookurl(s): the names plugins give their API keys,
//     bot tokens, passwords and webhook URLs, which OctoPrint hands to any
//     OctoPrint admin session (plugins restrict them only by the OctoPrint
//     user's permissions, and the tunnel user's OctoPrint login may be an
//     admin's);
//   - every string that is a URL with user information
//     ("http://user:pass@host/..."), e.g. a webcam stream with a password;
//   - known paths that hold credentials or identify the installation under
//     other names: the command lines of system actions and event
//     subscriptions (they often carry a token for a notification service),
//     the tracking plugins' unique_id, the Telegram plugin's chats.
// Numbers, booleans and every other string keep their value (numbers as the
// IEEE double a browser reads them as); members come sorted by name (as Flask sends them), so
// the same settings always give the same bytes; `paths` is sorted.
// InvalidArgument (one sentence) for anything but a JSON object.
// Thread-safe (a pure function).
absl::StatusOr<RedactedSettings> RedactSettings(absl::string_view json);

// The member-name rule above, exposed for tests and docs.
bool IsSecretName(absl::string_view name);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_SETTINGS_REDACTOR_H_
