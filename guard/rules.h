#ifndef BOWDEN_GUARD_RULES_H_
#define BOWDEN_GUARD_RULES_H_

#include <string>

#include "absl/strings/string_view.h"
#include "guard/canonical_path.h"
#include "policy/policy.h"

namespace bowden::guard {

// What kind of upstream a target is; each has its own rule table.
enum class TargetKind { kOctoPrint, kWebcam };

// The agent's own ceiling, from its local config. No relay can lift it: an
// admin-only surface needs BOTH the session role admin and the flag here,
// so a compromised relay that hands out admin still cannot install plugins
// or flash firmware on a printer whose owner did not allow it.
struct LocalCeiling {
  bool allow_system_commands = false;  // /api/system/...: shell commands
  bool allow_plugin_install = false;   // plugin manager, software update,
                                       // backup restore: pip install
  bool allow_user_management = false;  // /api/access/..., API keys, app keys
  bool allow_firmware_flash = false;   // FirmwareUpdater plugin
  bool allow_settings_write = true;    // POST /api/settings and friends
  // `script` in POST /api/printer/command runs an admin-stored Jinja G-code
  // script the guard cannot inspect. No rule reads this flag: the body
  // inspection for Inspect::kPrinterCommand does.
  bool allow_gcode_scripts = false;
};

// The body inspection the HTTP guard must do before it forwards an allowed
// request. The rules only look at method and path; the G-code lives in the
// body.
enum class Inspect {
  kNone,
  kPrinterCommand,   // `command`, `commands` (+ `parameters`), `script`
  kOperatorCommand,  // POST /api/printer/command by operators: motors off,
                     // fan, emergency commands
  kPrinthead,        // POST /api/printer/printhead: jog, home, feed rate
  kToolTarget,       // POST /api/printer/tool: targets -> M104, extrude, ...
  kBedTarget,        // POST /api/printer/bed: target -> M140
  kChamberTarget,    // POST /api/printer/chamber: target -> M141
  kUpload,           // multipart upload: scan the G-code file as it streams
  kFileCommand,      // POST /api/files/*/**: slice overrides, model renames
  kConnection,  // POST /api/connection below admin: no `save`/`autoconnect`
  kTimelapseConfig,  // POST /api/timelapse below admin: no `save`
  kPromptAnswer,     // POST /api/plugin/action_command_prompt: M876 S<choice>
  kSettings,         // POST/PATCH /api/settings: the settings that are G-code
};

absl::string_view InspectName(Inspect inspect);

// The verdict for one request.
struct Decision {
  bool allow = false;
  // Short stable id of the rule that decided, e.g. "octoprint.printer.command"
  // or "default-deny". It goes into the 403 JSON body and the audit log, so
  // never rename one.
  std::string rule;
  // One sentence for a human.
  std::string reason;
  // Meaningful only when `allow`; kNone on every denial.
  Inspect inspect = Inspect::kNone;
  // Meaningful only when `allow`: the leading part of the path the target
  // does not know, removed before forwarding (the webcam's "/webcam" under
  // `bowden open`'s one URL per printer, as OctoPi's haproxy does). Empty:
  // forward the path as it is.
  std::string strip_prefix = "";
};

// Decides whether a session with `role` may send `method` `target` to an
// upstream of `kind`. `method` is the request method exactly as sent
// (methods are case-sensitive). `target` must come from Canonicalize().
// Deny by default: a request no rule matches is denied with rule
// "default-deny"; methods other than GET, HEAD, POST, PUT, PATCH and DELETE
// are denied with rule "method-not-allowed". HEAD is judged as GET.
//
// Pure function over immutable tables: thread-safe.
Decision Decide(TargetKind kind, policy::Role role, absl::string_view method,
                const CanonicalTarget& target, const LocalCeiling& local);

// True when `path` matches `pattern`. A pattern is a literal path in which
// a segment "*" matches exactly one non-empty segment and a final "/**"
// matches one or more further characters (so "/static/**" matches
// "/static/a/b.js" but neither "/static" nor "/static/"). Exposed for tests.
bool PathMatches(absl::string_view pattern, absl::string_view path);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_RULES_H_
