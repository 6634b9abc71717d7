#include "guard/rules.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "guard/canonical_path.h"
#include "policy/policy.h"

namespace bowden::guard {
namespace {

using policy::Role;

// One request and what the guard must answer for it. `min_role` is the
// weakest role it is allowed for (nullopt: denied for every role), `flag`
// the LocalCeiling switch it also needs. The expectations are written out
// here, independently of the rule table, so a wrong row there fails here.
struct Case {
  TargetKind kind;
  const char* method;
  const char* target;  // raw: canonicalised by the test
  const char* rule;
  std::optional<Role> min_role;
  bool LocalCeiling::*flag = nullptr;
  Inspect inspect = Inspect::kNone;
};

constexpr TargetKind kOcto = TargetKind::kOctoPrint;
constexpr TargetKind kCam = TargetKind::kWebcam;
const std::optional<Role> kViewer = Role::kViewer;
const std::optional<Role> kOperator = Role::kOperator;
const std::optional<Role> kAdmin = Role::kAdmin;
const std::optional<Role> kNobody = std::nullopt;
constexpr auto kSystem = &LocalCeiling::allow_system_commands;
constexpr auto kPlugins = &LocalCeiling::allow_plugin_install;
constexpr auto kUsers = &LocalCeiling::allow_user_management;
constexpr auto kFirmware = &LocalCeiling::allow_firmware_flash;
constexpr auto kSettings = &LocalCeiling::allow_settings_write;

LocalCeiling AllAllowed() {
  return LocalCeiling{true, true, true, true, true, true};
}
LocalCeiling NoneAllowed() {
  return LocalCeiling{false, false, false, false, false, false};
}

// Runs every case for every role under three ceilings (the defaults, all
// flags on, all off) and checks the exact verdict, rule id and inspection.
void CheckAll(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    absl::StatusOr<CanonicalTarget> target = Canonicalize(c.target);
    ASSERT_TRUE(target.ok()) << c.target << ": " << target.status();
    for (const LocalCeiling& local :
         {LocalCeiling{}, AllAllowed(), NoneAllowed()}) {
      for (Role role : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
        // Operators reach the terminal endpoint for motors off, the fan and
        // the emergency commands only.
        const bool emergency = c.inspect == Inspect::kPrinterCommand && role == Role::kOperator;
        const bool want_allow =
            emergency || (c.min_role.has_value() &&
                          static_cast<int>(role) >= static_cast<int>(*c.min_role) &&
                          (c.flag == nullptr || local.*(c.flag)));
        const Decision got = Decide(c.kind, role, c.method, *target, local);
        const std::string where =
            absl::StrCat(c.method, " ", c.target, " as ",
                         policy::RoleName(role), ": ", got.reason);
        EXPECT_EQ(got.allow, want_allow) << where;
        EXPECT_EQ(got.rule, c.rule) << where;
        // Admins may save connection and timelapse settings: only lower
        // roles' bodies are inspected for that.
        const bool admin_saves = (c.inspect == Inspect::kConnection ||
                                  c.inspect == Inspect::kTimelapseConfig) &&
                                 role == Role::kAdmin;
        const Inspect want_inspect = emergency ? Inspect::kOperatorCommand
                                     : !want_allow || admin_saves
                                         ? Inspect::kNone
                                         : c.inspect;
        EXPECT_EQ(InspectName(got.inspect), InspectName(want_inspect)) << where;
        EXPECT_FALSE(got.reason.empty()) << where;
      }
    }
  }
}

// Every endpoint of shared/research/octoprint-surface.md sections 1.2-1.6.
TEST(RulesTest, OctoPrintSurface) {
  // clang-format off
  CheckAll({
      // UI, static assets, liveness (1.5).
      {kOcto, "GET", "/", "octoprint.ui", kViewer},
      {kOcto, "HEAD", "/", "octoprint.ui", kViewer},
      {kOcto, "GET", "/login", "octoprint.ui", kViewer},
      {kOcto, "GET", "/login/?redirect=%2F", "octoprint.ui", kViewer},
      {kOcto, "GET", "/static/webassets/packed_core.js", "octoprint.ui.static", kViewer},
      {kOcto, "GET", "/static/img/tentacle-20x20.png", "octoprint.ui.static", kViewer},
      {kOcto, "GET", "/plugin/classicwebcam/static/js/classicwebcam.js", "octoprint.ui.static", kViewer},
      {kOcto, "GET", "/online.txt", "octoprint.online", kViewer},
      {kOcto, "GET", "/online.gif", "octoprint.online", kViewer},
      {kOcto, "GET", "/recovery", "octoprint.ui.recovery", kAdmin},
      {kOcto, "GET", "/reverse_proxy_test/?authenticated", "octoprint.proxy-test", kAdmin},
      // Push channel (2.6).
      {kOcto, "GET", "/sockjs/info", "octoprint.push", kViewer},
      {kOcto, "GET", "/sockjs/123/abcdefgh/websocket", "octoprint.push", kViewer},
      {kOcto, "GET", "/sockjs/websocket", "octoprint.push", kViewer},
      {kOcto, "POST", "/sockjs/123/abcdefgh/xhr_send", "octoprint.push", kViewer},
      {kOcto, "POST", "/sockjs/123/abcdefgh/xhr_streaming", "octoprint.push", kViewer},
      // Read-only status (1.2).
      {kOcto, "GET", "/api/version", "octoprint.status", kViewer},
      {kOcto, "GET", "/api/server", "octoprint.status", kViewer},
      {kOcto, "GET", "/api/currentuser", "octoprint.status", kViewer},
      {kOcto, "POST", "/api/login", "octoprint.login", kViewer},
      {kOcto, "POST", "/api/logout", "octoprint.login", kViewer},
      {kOcto, "GET", "/api/login?passive=true", "default-deny", kNobody},
      {kOcto, "GET", "/api/job", "octoprint.job.read", kViewer},
      {kOcto, "HEAD", "/api/job", "octoprint.job.read", kViewer},
      {kOcto, "GET", "/api/printer?history=true&limit=2&exclude=sd", "octoprint.printer.read", kViewer},
      {kOcto, "GET", "/api/printer/tool", "octoprint.printer.read", kViewer},
      {kOcto, "GET", "/api/printer/bed", "octoprint.printer.read", kViewer},
      {kOcto, "GET", "/api/printer/chamber", "octoprint.printer.read", kViewer},
      {kOcto, "GET", "/api/printer/sd", "octoprint.printer.read", kViewer},
      {kOcto, "GET", "/api/printer/storage", "octoprint.printer.read", kViewer},
      {kOcto, "GET", "/api/printer/error", "octoprint.printer.read", kViewer},
      {kOcto, "GET", "/api/connection", "octoprint.connection.read", kViewer},
      {kOcto, "GET", "/api/files?recursive=true&force=true", "octoprint.files.list", kViewer},
      {kOcto, "GET", "/api/files/local", "octoprint.files.list", kViewer},
      {kOcto, "GET", "/api/files/sdcard", "octoprint.files.list", kViewer},
      {kOcto, "GET", "/api/files/local/parts/benchy.gcode", "octoprint.files.list", kViewer},
      {kOcto, "GET", "/downloads/files/local/benchy.gcode", "octoprint.files.download", kOperator},
      {kOcto, "GET", "/api/printerprofiles", "octoprint.printerprofiles.read", kViewer},
      {kOcto, "GET", "/api/printerprofiles/_default", "octoprint.printerprofiles.read", kViewer},
      {kOcto, "GET", "/api/printer/command/custom", "octoprint.printer.custom-controls", kViewer},
      {kOcto, "GET", "/api/settings", "octoprint.settings.read", kViewer},
      {kOcto, "GET", "/api/timelapse?unrendered=true", "octoprint.timelapse.read", kViewer},
      {kOcto, "GET", "/downloads/timelapse/benchy_20240101.mp4", "octoprint.timelapse.read", kViewer},
      {kOcto, "GET", "/api/slicing", "octoprint.slicing.read", kViewer},
      {kOcto, "GET", "/downloads/camera/current", "octoprint.webcam.snapshot", kViewer},
      // What the stock UI loads on every page (docs/octoprint-ui.md).
      {kOcto, "GET", "/i18n/en/messages.js", "octoprint.ui.i18n", kViewer},
      {kOcto, "GET", "/i18n/de/LC_MESSAGES/messages.js", "octoprint.ui.i18n", kViewer},
      {kOcto, "GET", "/i18n/", "default-deny", kNobody},
      {kOcto, "GET", "/api/languages", "octoprint.languages", kViewer},
      {kOcto, "GET", "/api/plugin/action_command_prompt", "octoprint.prompt", kViewer},
      {kOcto, "GET", "/api/plugin/file_check", "octoprint.plugin.read", kViewer},
      {kOcto, "GET", "/api/plugin/firmware_check", "octoprint.plugin.read", kViewer},
      {kOcto, "GET", "/api/plugin/action_command_notification", "octoprint.plugin.read", kViewer},
      {kOcto, "GET", "/plugin/achievements/", "octoprint.plugin.read", kViewer},
      {kOcto, "GET", "/plugin/achievements/year/2025", "octoprint.plugin.read", kViewer},
      // Their writes stay denied: clearing notifications, re-running checks,
      // resetting achievements.
      {kOcto, "POST", "/api/plugin/action_command_notification", "default-deny", kNobody},
      {kOcto, "POST", "/api/plugin/file_check", "default-deny", kNobody},
      {kOcto, "POST", "/plugin/achievements/reset/achievements", "default-deny", kNobody},
      {kOcto, "POST", "/plugin/achievements/reset/year", "default-deny", kNobody},
      {kOcto, "POST", "/plugin/achievements/", "default-deny", kNobody},
      {kOcto, "GET", "/plugin/achievements/year/2025/x", "default-deny", kNobody},
      // The GCode viewer reads the file it shows.
      {kOcto, "GET", "/plugin/gcodeviewer/skipuntilcheck/local/parts/benchy.gcode", "octoprint.files.download", kOperator},
      {kOcto, "POST", "/plugin/gcodeviewer/skipuntilcheck/local/benchy.gcode", "default-deny", kNobody},
      // Control (1.3).
      {kOcto, "POST", "/api/job", "octoprint.job.control", kOperator},
      {kOcto, "POST", "/api/files/local", "octoprint.files.upload", kOperator, nullptr, Inspect::kUpload},
      {kOcto, "POST", "/api/files/sdcard", "octoprint.files.upload", kOperator, nullptr, Inspect::kUpload},
      // The UI's check before an upload (issue 11: it got 400 bad-multipart).
      {kOcto, "POST", "/api/files/test", "octoprint.files.test", kViewer},
      {kOcto, "POST", "/api/files/local/benchy.gcode", "octoprint.files.command", kOperator, nullptr, Inspect::kFileCommand},
      {kOcto, "POST", "/api/files/local/parts/benchy.gcode", "octoprint.files.command", kOperator, nullptr, Inspect::kFileCommand},
      {kOcto, "DELETE", "/api/files/local/benchy.gcode", "octoprint.files.delete", kOperator},
      {kOcto, "POST", "/api/connection", "octoprint.connection.control", kOperator, nullptr, Inspect::kConnection},
      {kOcto, "POST", "/api/printer/printhead", "octoprint.printer.printhead", kOperator, nullptr, Inspect::kPrinthead},
      {kOcto, "POST", "/api/printer/tool", "octoprint.printer.tool", kOperator, nullptr, Inspect::kToolTarget},
      {kOcto, "POST", "/api/printer/bed", "octoprint.printer.bed", kOperator, nullptr, Inspect::kBedTarget},
      {kOcto, "POST", "/api/printer/chamber", "octoprint.printer.chamber", kOperator, nullptr, Inspect::kChamberTarget},
      {kOcto, "POST", "/api/printer/sd", "octoprint.printer.sd", kOperator},
      {kOcto, "POST", "/api/printer/storage", "octoprint.printer.sd", kOperator},
      {kOcto, "POST", "/api/plugin/action_command_prompt", "octoprint.prompt", kOperator, nullptr, Inspect::kPromptAnswer},
      {kOcto, "DELETE", "/api/timelapse/benchy_20240101.mp4", "octoprint.timelapse.manage", kOperator},
      {kOcto, "POST", "/api/timelapse/unrendered/benchy", "octoprint.timelapse.manage", kOperator},
      {kOcto, "POST", "/api/timelapse", "octoprint.timelapse.manage", kOperator, nullptr, Inspect::kTimelapseConfig},
      {kOcto, "POST", "/plugin/appkeys/request", "octoprint.appkeys", kAdmin, kUsers},
      {kOcto, "GET", "/plugin/appkeys/request/abc123", "octoprint.appkeys", kAdmin, kUsers},
      {kOcto, "POST", "/plugin/appkeys/decision/abc123", "octoprint.appkeys", kAdmin, kUsers},
      {kOcto, "GET", "/api/plugin/appkeys", "octoprint.appkeys", kAdmin, kUsers},
      // Dangerous (1.4).
      {kOcto, "POST", "/api/printer/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/system/commands/core/restart", "octoprint.system", kAdmin, kSystem},
      {kOcto, "POST", "/api/system/commands/custom/rm-rf", "octoprint.system", kAdmin, kSystem},
      {kOcto, "POST", "/api/system", "octoprint.system", kAdmin, kSystem},
      {kOcto, "GET", "/api/system/commands", "octoprint.system", kAdmin},
      {kOcto, "GET", "/api/system/info", "octoprint.system", kAdmin},
      {kOcto, "GET", "/api/system/usage", "octoprint.system", kAdmin},
      {kOcto, "GET", "/api/system/startup", "octoprint.system", kAdmin},
      {kOcto, "GET", "/downloads/systeminfo.zip", "octoprint.system", kAdmin, kSystem},
      {kOcto, "POST", "/api/settings", "octoprint.settings.write", kAdmin, kSettings, Inspect::kSettings},
      {kOcto, "GET", "/api/settings/templates", "octoprint.settings.write", kAdmin, kSettings},
      {kOcto, "POST", "/api/settings/apikey", "octoprint.settings.apikey", kAdmin, kUsers},
      {kOcto, "DELETE", "/api/settings/apikey", "octoprint.settings.apikey", kAdmin, kUsers},
      {kOcto, "POST", "/api/plugin/pluginmanager", "octoprint.pluginmanager", kAdmin, kPlugins},
      {kOcto, "POST", "/plugin/pluginmanager/upload_file", "octoprint.pluginmanager", kAdmin, kPlugins},
      {kOcto, "GET", "/plugin/pluginmanager/plugins", "octoprint.pluginmanager", kAdmin},
      {kOcto, "GET", "/plugin/pluginmanager/repository?refresh=true", "octoprint.pluginmanager", kAdmin},
      {kOcto, "DELETE", "/plugin/pluginmanager/plugins/x", "octoprint.pluginmanager", kAdmin, kPlugins},
      {kOcto, "POST", "/plugin/softwareupdate/update", "octoprint.softwareupdate", kAdmin, kPlugins},
      {kOcto, "POST", "/plugin/softwareupdate/configure", "octoprint.softwareupdate", kAdmin, kPlugins},
      {kOcto, "GET", "/plugin/softwareupdate/check", "octoprint.softwareupdate", kAdmin, kPlugins},
      {kOcto, "POST", "/plugin/backup/restore", "octoprint.backup", kAdmin, kPlugins},
      {kOcto, "POST", "/plugin/backup/backup", "octoprint.backup", kAdmin, kPlugins},
      {kOcto, "GET", "/plugin/backup/", "octoprint.backup", kAdmin},
      // A backup holds password hashes and keys.
      {kOcto, "GET", "/plugin/backup/download/octoprint-backup-20240101.zip", "octoprint.backup", kAdmin, kPlugins},
      {kOcto, "DELETE", "/plugin/backup/", "octoprint.backup", kAdmin, kPlugins},
      {kOcto, "POST", "/plugin/firmwareupdater/flash", "octoprint.firmwareupdater", kAdmin, kFirmware},
      // User records carry API keys: reading them needs the flag too.
      {kOcto, "GET", "/api/access/users", "octoprint.access", kAdmin, kUsers},
      {kOcto, "GET", "/api/access/users/bob", "octoprint.access", kAdmin, kUsers},
      {kOcto, "GET", "/api/access/users/bob/settings", "octoprint.access", kAdmin, kUsers},
      {kOcto, "GET", "/api/access/groups", "octoprint.access", kAdmin},
      {kOcto, "GET", "/api/access/groups/users", "octoprint.access", kAdmin},
      {kOcto, "POST", "/api/access/groups", "octoprint.access", kAdmin, kUsers},
      {kOcto, "POST", "/api/access/users", "octoprint.access", kAdmin, kUsers},
      {kOcto, "PUT", "/api/access/users/bob", "octoprint.access", kAdmin, kUsers},
      {kOcto, "PUT", "/api/access/users/bob/password", "octoprint.access", kAdmin, kUsers},
      {kOcto, "PATCH", "/api/access/users/bob/settings", "octoprint.access", kAdmin, kUsers},
      {kOcto, "POST", "/api/access/users/bob/apikey", "octoprint.access", kAdmin, kUsers},
      {kOcto, "DELETE", "/api/access/groups/makers", "octoprint.access", kAdmin, kUsers},
      {kOcto, "GET", "/api/access/permissions", "octoprint.access", kAdmin},
      {kOcto, "GET", "/api/users", "octoprint.access", kAdmin, kUsers},
      {kOcto, "PUT", "/api/users/bob", "octoprint.access", kAdmin, kUsers},
      {kOcto, "POST", "/api/util/test", "octoprint.util.test", kAdmin, kSettings},
      {kOcto, "POST", "/api/languages", "octoprint.languages", kAdmin, kSettings},
      {kOcto, "DELETE", "/api/languages/de/messages", "octoprint.languages", kAdmin, kSettings},
      {kOcto, "POST", "/api/printerprofiles", "octoprint.printerprofiles.write", kAdmin, kSettings},
      {kOcto, "PATCH", "/api/printerprofiles/_default", "octoprint.printerprofiles.write", kAdmin, kSettings},
      {kOcto, "DELETE", "/api/printerprofiles/spare", "octoprint.printerprofiles.write", kAdmin, kSettings},
      {kOcto, "GET", "/plugin/logging/", "octoprint.logs", kAdmin},
      {kOcto, "GET", "/plugin/logging/logs", "octoprint.logs", kAdmin},
      {kOcto, "POST", "/plugin/logging/setup/levels", "octoprint.logs", kAdmin},
      {kOcto, "GET", "/downloads/logs/octoprint.log", "octoprint.logs", kAdmin},
      {kOcto, "GET", "/api/setup/wizard", "octoprint.wizard", kAdmin},
      {kOcto, "POST", "/api/setup/wizard", "octoprint.wizard", kAdmin, kSettings},
      // Plugins nobody listed: any of them could send G-code uninspected.
      {kOcto, "POST", "/plugin/someplugin/gcode", "default-deny", kNobody},
      {kOcto, "GET", "/api/plugin/someplugin", "default-deny", kNobody},
      {kOcto, "GET", "/plugin/announcements/channels", "default-deny", kNobody},
      // OctoPrint 2.0 deltas (1.6) and routes that do not exist.
      {kOcto, "PUT", "/api/job", "default-deny", kNobody},
      {kOcto, "DELETE", "/api/printer/command", "default-deny", kNobody},
      {kOcto, "GET", "/api/printer/command", "default-deny", kNobody},
      {kOcto, "GET", "/favicon.ico", "default-deny", kNobody},
  });
  // clang-format on
}

TEST(RulesTest, Methods) {
  // clang-format off
  CheckAll({
      {kOcto, "OPTIONS", "/api/version", "method-not-allowed", kNobody},
      {kOcto, "TRACE", "/", "method-not-allowed", kNobody},
      {kOcto, "CONNECT", "/", "method-not-allowed", kNobody},
      {kOcto, "PROPFIND", "/", "method-not-allowed", kNobody},
      {kOcto, "get", "/api/version", "method-not-allowed", kNobody},
      {kOcto, "Post", "/api/printer/command", "method-not-allowed", kNobody},
      {kOcto, "", "/", "method-not-allowed", kNobody},
      {kCam, "OPTIONS", "/?action=stream", "method-not-allowed", kNobody},
  });
  // clang-format on
}

// Targets that try to reach a guarded route under another spelling. Each
// resolves to exactly one rule, the same one the plain spelling hits.
TEST(RulesTest, EvasionCorpus) {
  // clang-format off
  CheckAll({
      {kOcto, "POST", "//api/printer/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api//printer/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/printer%2Fcommand", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/printer%2fcommand", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/printer%5Ccommand", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api\\printer\\command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/%70rinter/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/%70%72%69%6E%74%65%72/%63ommand", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/./printer/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/job/../printer/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/files/local/%2e%2e/%2E%2E/printer/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/api/files/local/..%2F..%2Fprinter%2Fcommand", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "/sockjs/../api/printer/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "http://printer.local/api/printer/command", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      {kOcto, "POST", "http://printer.local//api/printer/command?x=1", "octoprint.printer.command", kAdmin, nullptr, Inspect::kPrinterCommand},
      // Other spellings are other resources: nothing allows them.
      {kOcto, "POST", "/api/printer/command/", "default-deny", kNobody},
      {kOcto, "POST", "/api/printer/command/.", "default-deny", kNobody},
      {kOcto, "POST", "/api/printer/command.", "default-deny", kNobody},
      {kOcto, "POST", "/api/printer/command;x", "default-deny", kNobody},
      {kOcto, "POST", "/api/printer/command%3Bx", "default-deny", kNobody},
      {kOcto, "POST", "/api/printer/command%3F", "default-deny", kNobody},
      {kOcto, "POST", "/API/printer/command", "default-deny", kNobody},
      {kOcto, "POST", "/api/Printer/Command", "default-deny", kNobody},
      {kOcto, "POST", "/api/printer/command%20", "default-deny", kNobody},
      // Allowed prefixes do not carry a request elsewhere.
      {kOcto, "GET", "/static/../api/system/commands", "octoprint.system", kAdmin},
      {kOcto, "GET", "/static/%2e%2e/api/system/commands", "octoprint.system", kAdmin},
      {kOcto, "GET", "/static/..%2Fapi%2Fsystem%2Fcommands", "octoprint.system", kAdmin},
      {kOcto, "GET", "/static/..%5Capi%5Csystem%5Ccommands", "octoprint.system", kAdmin},
      {kOcto, "POST", "/static/../api/system/commands/core/reboot", "octoprint.system", kAdmin, kSystem},
      {kOcto, "GET", "/static/js/../../api/settings", "octoprint.settings.read", kViewer},
      {kOcto, "GET", "/i18n/../api/access/users", "octoprint.access", kAdmin, kUsers},
      {kOcto, "GET", "/plugin/achievements/../backup/download/x.zip", "octoprint.backup", kAdmin, kPlugins},
      {kOcto, "GET", "/api/files/../../downloads/files/local/x.gcode", "octoprint.files.download", kOperator},
      {kOcto, "POST", "/plugin/x/static/../../pluginmanager/upload_file", "octoprint.pluginmanager", kAdmin, kPlugins},
      {kOcto, "DELETE", "/api/files/local/../../printer/command", "default-deny", kNobody},
      // Upload inspection cannot be dodged with a trailing slash.
      {kOcto, "POST", "/api/files/local/", "default-deny", kNobody},
      {kOcto, "POST", "/api/files/local/.", "default-deny", kNobody},
      {kOcto, "POST", "/api/files//local", "octoprint.files.upload", kOperator, nullptr, Inspect::kUpload},
      {kOcto, "POST", "/api/files/%6Cocal", "octoprint.files.upload", kOperator, nullptr, Inspect::kUpload},
      {kOcto, "POST", "/api/files", "default-deny", kNobody},
      {kOcto, "GET", "/static/", "default-deny", kNobody},
      {kOcto, "GET", "/static", "default-deny", kNobody},
  });
  // clang-format on
}

TEST(RulesTest, Webcam) {
  // clang-format off
  CheckAll({
      {kCam, "GET", "/?action=stream", "webcam.action", kViewer},
      {kCam, "HEAD", "/?action=stream", "webcam.action", kViewer},
      {kCam, "GET", "/?action=snapshot", "webcam.action", kViewer},
      {kCam, "GET", "/?action=stream_1", "webcam.action", kViewer},
      {kCam, "GET", "/?action=snapshot_0", "webcam.action", kViewer},
      {kCam, "GET", "/?action=stream&1712345678901", "webcam.action", kViewer},
      {kCam, "GET", "/?action=%73tream", "webcam.action", kViewer},
      {kCam, "GET", "//?action=stream", "webcam.action", kViewer},
      {kCam, "GET", "/./?action=snapshot", "webcam.action", kViewer},
      {kCam, "GET", "http://cam:8080/?action=snapshot", "webcam.action", kViewer},
      {kCam, "GET", "/stream", "webcam.stream", kViewer},
      {kCam, "GET", "/stream?extra_headers=1&advance_headers=1", "webcam.stream", kViewer},
      {kCam, "GET", "/snapshot", "webcam.snapshot", kViewer},
      // mjpg-streamer commands, file writes, duplicates and look-alikes.
      {kCam, "GET", "/", "webcam.action", kNobody},
      {kCam, "GET", "/?", "webcam.action", kNobody},
      {kCam, "GET", "/?action=", "webcam.action", kNobody},
      {kCam, "GET", "/?action", "webcam.action", kNobody},
      {kCam, "GET", "/?action=command&dest=0&plugin=0&id=9963776&group=1&value=0", "webcam.action", kNobody},
      {kCam, "GET", "/?action=take&filename=/tmp/x.jpg", "webcam.action", kNobody},
      {kCam, "GET", "/?action=stream&action=command", "webcam.action", kNobody},
      {kCam, "GET", "/?action=command&action=stream", "webcam.action", kNobody},
      {kCam, "GET", "/?action=stream&ACTION=command", "webcam.action", kNobody},
      {kCam, "GET", "/?action=stream&%61ction=command", "webcam.action", kNobody},
      {kCam, "GET", "/?action=stream;action=command", "webcam.action", kNobody},
      {kCam, "GET", "/?action=stream%26action%3Dcommand", "webcam.action", kNobody},
      {kCam, "GET", "/?action=Stream", "webcam.action", kNobody},
      {kCam, "GET", "/?action=stream+", "webcam.action", kNobody},
      {kCam, "GET", "/?action=stream_", "webcam.action", kNobody},
      {kCam, "GET", "/?action=stream_1x", "webcam.action", kNobody},
      {kCam, "GET", "/?action=snapshotx", "webcam.action", kNobody},
      {kCam, "GET", "/%3Faction=command", "default-deny", kNobody},
      {kCam, "GET", "/input.json", "default-deny", kNobody},
      {kCam, "GET", "/input_0.json", "default-deny", kNobody},
      {kCam, "GET", "/output_0.json", "default-deny", kNobody},
      {kCam, "GET", "/program.json", "default-deny", kNobody},
      {kCam, "GET", "/clients.json", "default-deny", kNobody},
      {kCam, "GET", "/cam_1.jpg", "default-deny", kNobody},
      {kCam, "GET", "/cam_1.mjpg", "default-deny", kNobody},
      {kCam, "GET", "/state", "default-deny", kNobody},
      {kCam, "GET", "/index.html", "default-deny", kNobody},
      {kCam, "GET", "/stream/", "default-deny", kNobody},
      {kCam, "POST", "/?action=stream", "default-deny", kNobody},
      {kCam, "POST", "/stream", "default-deny", kNobody},
      {kCam, "PUT", "/snapshot", "default-deny", kNobody},
      {kCam, "GET", "/api/printer", "default-deny", kNobody},
      // OctoPrint's default stream URL, sent here by `bowden open`.
      {kCam, "GET", "/webcam/?action=stream", "webcam.action", kViewer},
      {kCam, "HEAD", "/webcam/?action=snapshot", "webcam.action", kViewer},
      {kCam, "GET", "/webcam/stream", "webcam.stream", kViewer},
      {kCam, "GET", "/webcam/snapshot", "webcam.snapshot", kViewer},
      {kCam, "GET", "/webcam/?action=command&id=1", "webcam.action", kNobody},
      {kCam, "GET", "/webcam/?action=stream&action=take", "webcam.action", kNobody},
      {kCam, "GET", "/webcam/", "webcam.action", kNobody},
      {kCam, "GET", "/webcam", "default-deny", kNobody},
      {kCam, "GET", "/webcam/input.json", "default-deny", kNobody},
      {kCam, "GET", "/webcam/webcam/?action=stream", "default-deny", kNobody},
      {kCam, "POST", "/webcam/?action=stream", "default-deny", kNobody},
      // OctoPi's haproxy puts the streamer under /webcam/ of the UI host.
      {kOcto, "GET", "/webcam/?action=stream", "webcam.action", kViewer},
      {kOcto, "GET", "/webcam/?action=snapshot", "webcam.action", kViewer},
      {kOcto, "GET", "/webcam/?action=command&id=1", "webcam.action", kNobody},
      {kOcto, "GET", "/webcam/?action=stream&action=take", "webcam.action", kNobody},
      {kOcto, "GET", "/webcam/input.json", "default-deny", kNobody},
      {kOcto, "GET", "/webcam", "default-deny", kNobody},
  });
  // clang-format on
}

TEST(RulesTest, ReasonsNameRoleAndFlag) {
  auto target = Canonicalize("/api/printer/command");
  ASSERT_TRUE(target.ok());
  Decision d = Decide(kOcto, Role::kViewer, "POST", *target, LocalCeiling{});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.reason,
            "terminal G-code needs role admin; this session is viewer");
  // Operators get through to have their body judged: emergency stops only.
  d = Decide(kOcto, Role::kOperator, "POST", *target, LocalCeiling{});
  EXPECT_TRUE(d.allow);
  EXPECT_EQ(InspectName(d.inspect), "operator-command");

  target = Canonicalize("/api/system/commands/core/reboot");
  ASSERT_TRUE(target.ok());
  d = Decide(kOcto, Role::kAdmin, "POST", *target, LocalCeiling{});
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule, "octoprint.system");
  EXPECT_NE(d.reason.find("allow_system_commands"), std::string::npos)
      << d.reason;

  LocalCeiling local;
  local.allow_system_commands = true;
  d = Decide(kOcto, Role::kAdmin, "POST", *target, local);
  EXPECT_TRUE(d.allow) << d.reason;

  target = Canonicalize("/?action=stream&action=command");
  ASSERT_TRUE(target.ok());
  d = Decide(kCam, Role::kAdmin, "GET", *target, AllAllowed());
  EXPECT_FALSE(d.allow);
  EXPECT_NE(d.reason.find("exactly one action,"), std::string::npos)
      << d.reason;
}

TEST(RulesTest, OnlyTheWebcamsPrefixedPathsLoseTheirPrefix) {
  for (const char* path :
       {"/webcam/?action=stream", "/webcam/stream", "/webcam/snapshot"}) {
    auto target = Canonicalize(path);
    ASSERT_TRUE(target.ok());
    Decision d = Decide(kCam, Role::kViewer, "GET", *target, LocalCeiling{});
    EXPECT_TRUE(d.allow) << path;
    EXPECT_EQ(d.strip_prefix, "/webcam") << path;
  }
  for (const char* path : {"/?action=stream", "/stream"}) {
    auto target = Canonicalize(path);
    ASSERT_TRUE(target.ok());
    EXPECT_EQ(Decide(kCam, Role::kViewer, "GET", *target, LocalCeiling{})
                  .strip_prefix,
              "")
        << path;
  }
  // OctoPi's haproxy serves /webcam/ on the OctoPrint target itself.
  auto target = Canonicalize("/webcam/?action=stream");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(
      Decide(kOcto, Role::kViewer, "GET", *target, LocalCeiling{}).strip_prefix,
      "");
}

TEST(RulesTest, UnknownRoleIsDenied) {
  auto target = Canonicalize("/api/version");
  ASSERT_TRUE(target.ok());
  Decision d =
      Decide(kOcto, static_cast<Role>(0), "GET", *target, AllAllowed());
  EXPECT_FALSE(d.allow);
  EXPECT_EQ(d.rule, "octoprint.status");
}

TEST(PathMatchesTest, Patterns) {
  EXPECT_TRUE(PathMatches("/api/job", "/api/job"));
  EXPECT_FALSE(PathMatches("/api/job", "/api/job/"));
  EXPECT_FALSE(PathMatches("/api/job", "/api/jobs"));
  EXPECT_FALSE(PathMatches("/api/job", "/api"));
  EXPECT_TRUE(PathMatches("/static/**", "/static/a"));
  EXPECT_TRUE(PathMatches("/static/**", "/static/a/b/"));
  EXPECT_FALSE(PathMatches("/static/**", "/static/"));
  EXPECT_FALSE(PathMatches("/static/**", "/static"));
  EXPECT_FALSE(PathMatches("/static/**", "/staticx/a"));
  EXPECT_TRUE(PathMatches("/api/files/*", "/api/files/local"));
  EXPECT_FALSE(PathMatches("/api/files/*", "/api/files/local/"));
  EXPECT_FALSE(PathMatches("/api/files/*", "/api/files/"));
  EXPECT_FALSE(PathMatches("/api/files/*", "/api/files/local/x"));
  EXPECT_TRUE(PathMatches("/api/files/*/**", "/api/files/local/x"));
  EXPECT_FALSE(PathMatches("/api/files/*/**", "/api/files/local/"));
  EXPECT_TRUE(PathMatches("/plugin/*/static/**", "/plugin/p/static/a.js"));
  EXPECT_FALSE(PathMatches("/plugin/*/static/**", "/plugin/static/a.js"));
  EXPECT_FALSE(PathMatches("/plugin/*/static/**", "/plugin/p/q/static/a.js"));
}

}  // namespace
}  // namespace bowden::guard
