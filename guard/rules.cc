#include "guard/rules.h"

#include <algorithm>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"

namespace bowden::guard {
namespace {

using policy::Role;

enum class Method { kGet, kPost, kPut, kPatch, kDelete, kAny };

// Which LocalCeiling flag a rule needs besides the role.
enum class Flag {
  kNone,
  kSystemCommands,
  kPluginInstall,
  kUserManagement,
  kFirmwareFlash,
  kSettingsWrite,
};

// Extra checks on the query; everything else about a query is the
// backend's business.
enum class Query { kAny, kWebcamAction };

// One row of a rule table. The first row whose method and pattern match
// decides: it allows when the role and local flag suffice and denies with
// its own id otherwise, so a denial names the surface that was refused.
struct Rule {
  Method method;        // kGet also matches HEAD; kAny matches every method
  const char* pattern;  // see PathMatches()
  Role min_role;
  Flag flag;
  Inspect inspect;
  const char* id;
  const char* what;  // subject of the reason sentence
  Query query = Query::kAny;
  // Removed from the front of the path before forwarding
  // (Decision::strip_prefix).
  const char* strip_prefix = "";
};

constexpr Method kGet = Method::kGet;
constexpr Method kPost = Method::kPost;
constexpr Method kDelete = Method::kDelete;
constexpr Method kAny = Method::kAny;
constexpr Role kViewer = Role::kViewer;
constexpr Role kOperator = Role::kOperator;
constexpr Role kAdmin = Role::kAdmin;
constexpr Flag kNoFlag = Flag::kNone;
constexpr Inspect kNone = Inspect::kNone;

// OctoPrint 1.10/1.11 (and 2.0 aliases), from
// shared/research/octoprint-surface.md. Viewer gets the UI, the push
// socket, read-only status and the settings with their secrets removed by
// the guard; nothing that downloads G-code, shows logs or host details.
// Plugin routes not listed here are denied for every role: any plugin can
// add routes that send G-code uninspected.
// clang-format off
constexpr Rule kOctoPrintRules[] = {
  // UI page, login page, static assets, liveness.
  {kGet,    "/",                            kViewer,   kNoFlag,               kNone,                   "octoprint.ui",            "the web UI"},
  {kGet,    "/login",                       kViewer,   kNoFlag,               kNone,                   "octoprint.ui",            "the web UI"},
  {kGet,    "/login/",                      kViewer,   kNoFlag,               kNone,                   "octoprint.ui",            "the web UI"},
  {kGet,    "/static/**",                   kViewer,   kNoFlag,               kNone,                   "octoprint.ui.static",     "static UI assets"},
  {kGet,    "/plugin/*/static/**",          kViewer,   kNoFlag,               kNone,                   "octoprint.ui.static",     "static UI assets"},
  {kGet,    "/i18n/**",                     kViewer,   kNoFlag,               kNone,                   "octoprint.ui.i18n",       "the UI's translations"},
  {kGet,    "/online.txt",                  kViewer,   kNoFlag,               kNone,                   "octoprint.online",        "the liveness check"},
  {kGet,    "/online.gif",                  kViewer,   kNoFlag,               kNone,                   "octoprint.online",        "the liveness check"},
  {kGet,    "/recovery",                    kAdmin,    kNoFlag,               kNone,                   "octoprint.ui.recovery",   "the recovery page"},
  {kGet,    "/recovery/",                   kAdmin,    kNoFlag,               kNone,                   "octoprint.ui.recovery",   "the recovery page"},
  // Echoes trusted proxies and forwarded headers: reconnaissance.
  {kGet,    "/reverse_proxy_test/",         kAdmin,    kNoFlag,               kNone,                   "octoprint.proxy-test",    "the reverse-proxy test page"},
  // SockJS: the client may only send auth, throttle and subscribe, so the
  // socket and its POST polling fallbacks carry no commands.
  {kGet,    "/sockjs/**",                   kViewer,   kNoFlag,               kNone,                   "octoprint.push",          "the push socket"},
  {kPost,   "/sockjs/**",                   kViewer,   kNoFlag,               kNone,                   "octoprint.push",          "the push socket"},
  // Login grants nothing beyond the session role: every request is judged.
  {kPost,   "/api/login",                   kViewer,   kNoFlag,               kNone,                   "octoprint.login",         "login and logout"},
  {kPost,   "/api/logout",                  kViewer,   kNoFlag,               kNone,                   "octoprint.login",         "login and logout"},
  {kGet,    "/api/currentuser",             kViewer,   kNoFlag,               kNone,                   "octoprint.status",        "reading server status"},
  {kGet,    "/api/version",                 kViewer,   kNoFlag,               kNone,                   "octoprint.status",        "reading server status"},
  {kGet,    "/api/server",                  kViewer,   kNoFlag,               kNone,                   "octoprint.status",        "reading server status"},
  // Job and connection.
  {kGet,    "/api/job",                     kViewer,   kNoFlag,               kNone,                   "octoprint.job.read",      "reading the job"},
  {kPost,   "/api/job",                     kOperator, kNoFlag,               kNone,                   "octoprint.job.control",   "starting, pausing and cancelling jobs"},
  {kGet,    "/api/connection",              kViewer,   kNoFlag,               kNone,                   "octoprint.connection.read", "reading the connection"},
  {kPost,   "/api/connection",              kOperator, kNoFlag,               Inspect::kConnection,    "octoprint.connection.control", "connecting and disconnecting"},
  // Printer state and control. Terminal G-code is admin, inspected.
  {kGet,    "/api/printer",                 kViewer,   kNoFlag,               kNone,                   "octoprint.printer.read",  "reading printer state"},
  {kGet,    "/api/printer/tool",            kViewer,   kNoFlag,               kNone,                   "octoprint.printer.read",  "reading printer state"},
  {kGet,    "/api/printer/bed",             kViewer,   kNoFlag,               kNone,                   "octoprint.printer.read",  "reading printer state"},
  {kGet,    "/api/printer/chamber",         kViewer,   kNoFlag,               kNone,                   "octoprint.printer.read",  "reading printer state"},
  {kGet,    "/api/printer/sd",              kViewer,   kNoFlag,               kNone,                   "octoprint.printer.read",  "reading printer state"},
  {kGet,    "/api/printer/storage",         kViewer,   kNoFlag,               kNone,                   "octoprint.printer.read",  "reading printer state"},
  {kGet,    "/api/printer/error",           kViewer,   kNoFlag,               kNone,                   "octoprint.printer.read",  "reading printer state"},
  {kGet,    "/api/printer/command/custom",  kViewer,   kNoFlag,               kNone,                   "octoprint.printer.custom-controls", "reading custom controls"},
  {kPost,   "/api/printer/printhead",       kOperator, kNoFlag,               Inspect::kPrinthead,     "octoprint.printer.printhead", "jogging and homing"},
  {kPost,   "/api/printer/tool",            kOperator, kNoFlag,               Inspect::kToolTarget,    "octoprint.printer.tool",  "tool targets and extrusion"},
  {kPost,   "/api/printer/bed",             kOperator, kNoFlag,               Inspect::kBedTarget,     "octoprint.printer.bed",   "bed targets"},
  {kPost,   "/api/printer/chamber",         kOperator, kNoFlag,               Inspect::kChamberTarget, "octoprint.printer.chamber", "chamber targets"},
  {kPost,   "/api/printer/sd",              kOperator, kNoFlag,               kNone,                   "octoprint.printer.sd",    "SD card init, refresh and release"},
  {kPost,   "/api/printer/storage",         kOperator, kNoFlag,               kNone,                   "octoprint.printer.sd",    "SD card init, refresh and release"},
  {kPost,   "/api/printer/command",         kAdmin,    kNoFlag,               Inspect::kPrinterCommand, "octoprint.printer.command", "terminal G-code"},
  // Firmware host prompts ("filament runout, continue?"): every role sees a
  // pending one, answers send M876.
  {kGet,    "/api/plugin/action_command_prompt", kViewer, kNoFlag,            kNone,                   "octoprint.prompt",        "reading printer prompts"},
  {kPost,   "/api/plugin/action_command_prompt", kOperator, kNoFlag,          Inspect::kPromptAnswer,                  "octoprint.prompt",        "answering printer prompts"},
  // Bundled plugins' read APIs, which the UI polls on every page: results
  // of the file and firmware checks, the printer's notifications,
  // achievements and statistics. Their writes (clearing notifications,
  // resetting achievements) are not listed, so they stay denied.
  {kGet,    "/api/plugin/file_check",       kViewer,   kNoFlag,               kNone,                   "octoprint.plugin.read",   "reading bundled plugins' status"},
  {kGet,    "/api/plugin/firmware_check",   kViewer,   kNoFlag,               kNone,                   "octoprint.plugin.read",   "reading bundled plugins' status"},
  {kGet,    "/api/plugin/action_command_notification", kViewer, kNoFlag,      kNone,                   "octoprint.plugin.read",   "reading bundled plugins' status"},
  {kGet,    "/plugin/achievements/",        kViewer,   kNoFlag,               kNone,                   "octoprint.plugin.read",   "reading bundled plugins' status"},
  {kGet,    "/plugin/achievements/year/*",  kViewer,   kNoFlag,               kNone,                   "octoprint.plugin.read",   "reading bundled plugins' status"},
  // Files. Only POST /api/files/{local|sdcard} uploads; deeper POSTs are
  // JSON commands (select, print, copy, move, slice).
  {kGet,    "/api/files",                   kViewer,   kNoFlag,               kNone,                   "octoprint.files.list",    "listing files"},
  {kGet,    "/api/files/**",                kViewer,   kNoFlag,               kNone,                   "octoprint.files.list",    "listing files"},
  // The UI asks whether a name is taken (or how OctoPrint would sanitise
  // it) before each upload: read-only, FILES_LIST in OctoPrint.
  {kPost,   "/api/files/test",              kViewer,   kNoFlag,               kNone,                   "octoprint.files.test",    "checking file names"},
  {kPost,   "/api/files/*",                 kOperator, kNoFlag,               Inspect::kUpload,        "octoprint.files.upload",  "uploading files"},
  {kPost,   "/api/files/*/**",              kOperator, kNoFlag,               Inspect::kFileCommand,   "octoprint.files.command", "selecting, printing, copying and moving files"},
  {kDelete, "/api/files/*/**",              kOperator, kNoFlag,               kNone,                   "octoprint.files.delete",  "deleting files"},
  {kGet,    "/downloads/files/**",          kOperator, kNoFlag,               kNone,                   "octoprint.files.download", "downloading G-code"},
  // The GCode viewer asks whether it may skip to the print's position: it
  // reads the G-code file, so it is a download.
  {kGet,    "/plugin/gcodeviewer/skipuntilcheck/**", kOperator, kNoFlag,         kNone,                   "octoprint.files.download", "downloading G-code"},
  // Read-only data the UI loads at start.
  {kGet,    "/api/printerprofiles",         kViewer,   kNoFlag,               kNone,                   "octoprint.printerprofiles.read", "reading printer profiles"},
  {kGet,    "/api/printerprofiles/**",      kViewer,   kNoFlag,               kNone,                   "octoprint.printerprofiles.read", "reading printer profiles"},
  {kAny,    "/api/printerprofiles",         kAdmin,    Flag::kSettingsWrite,  kNone,                   "octoprint.printerprofiles.write", "changing printer profiles"},
  {kAny,    "/api/printerprofiles/**",      kAdmin,    Flag::kSettingsWrite,  kNone,                   "octoprint.printerprofiles.write", "changing printer profiles"},
  {kGet,    "/api/slicing",                 kViewer,   kNoFlag,               kNone,                   "octoprint.slicing.read",  "reading slicer profiles"},
  {kGet,    "/api/slicing/**",              kViewer,   kNoFlag,               kNone,                   "octoprint.slicing.read",  "reading slicer profiles"},
  {kGet,    "/api/timelapse",               kViewer,   kNoFlag,               kNone,                   "octoprint.timelapse.read", "watching timelapses"},
  {kGet,    "/api/timelapse/**",            kViewer,   kNoFlag,               kNone,                   "octoprint.timelapse.read", "watching timelapses"},
  {kGet,    "/downloads/timelapse/**",      kViewer,   kNoFlag,               kNone,                   "octoprint.timelapse.read", "watching timelapses"},
  {kPost,   "/api/timelapse",               kOperator, kNoFlag,               Inspect::kTimelapseConfig, "octoprint.timelapse.manage", "changing the timelapse configuration"},
  {kAny,    "/api/timelapse",               kOperator, kNoFlag,               kNone,                   "octoprint.timelapse.manage", "rendering and deleting timelapses"},
  {kAny,    "/api/timelapse/**",            kOperator, kNoFlag,               kNone,                   "octoprint.timelapse.manage", "rendering and deleting timelapses"},
  // Webcam through OctoPrint (server-side snapshot) or OctoPi's haproxy.
  {kGet,    "/downloads/camera/current",    kViewer,   kNoFlag,               kNone,                   "octoprint.webcam.snapshot", "webcam snapshots"},
  {kGet,    "/webcam/",                     kViewer,   kNoFlag,               kNone,                   "webcam.action",           "the webcam stream and snapshot", Query::kWebcamAction},
  // Settings: the UI cannot load without reading them, so every role may.
  // OctoPrint sends the API key and plugin secrets to any session logged in
  // as an OctoPrint admin, so below admin the guard rewrites the answer with
  // them nulled (HttpGuard, RedactSettings; docs/security.md).
  {kGet,    "/api/settings",                kViewer,   kNoFlag,               kNone,                   "octoprint.settings.read", "reading settings"},
  {kAny,    "/api/settings/apikey",         kAdmin,    Flag::kUserManagement, kNone,                   "octoprint.settings.apikey", "managing the global API key"},
  {kAny,    "/api/settings",                kAdmin,    Flag::kSettingsWrite,  Inspect::kSettings,                  "octoprint.settings.write", "changing settings"},
  {kAny,    "/api/settings/**",             kAdmin,    Flag::kSettingsWrite,  kNone,                   "octoprint.settings.write", "changing settings"},
  {kGet,    "/api/languages",               kViewer,   kNoFlag,               kNone,                   "octoprint.languages",     "reading language packs"},
  {kAny,    "/api/languages",               kAdmin,    Flag::kSettingsWrite,  kNone,                   "octoprint.languages",     "installing language packs"},
  {kAny,    "/api/languages/**",            kAdmin,    Flag::kSettingsWrite,  kNone,                   "octoprint.languages",     "installing language packs"},
  {kGet,    "/api/setup/wizard",            kAdmin,    kNoFlag,               kNone,                   "octoprint.wizard",        "reading the setup wizard"},
  {kAny,    "/api/setup/wizard",            kAdmin,    Flag::kSettingsWrite,  kNone,                   "octoprint.wizard",        "finishing the setup wizard"},
  // Server-side URL, host and path probes (SSRF, filesystem oracle).
  {kAny,    "/api/util/test",               kAdmin,    Flag::kSettingsWrite,  kNone,                   "octoprint.util.test",     "server-side probes"},
  // Logs hold client IPs, file names and serial traffic.
  {kAny,    "/plugin/logging/",             kAdmin,    kNoFlag,               kNone,                   "octoprint.logs",          "logs"},
  {kAny,    "/plugin/logging/**",           kAdmin,    kNoFlag,               kNone,                   "octoprint.logs",          "logs"},
  {kGet,    "/downloads/logs/**",           kAdmin,    kNoFlag,               kNone,                   "octoprint.logs",          "logs"},
  // Host control: shell commands, reboot, host fingerprinting.
  // Admins read the system menu and host facts (the admin pages ask at
  // every load); running a command also needs the flag.
  {kGet,    "/api/system/**",               kAdmin,    kNoFlag,               kNone,                   "octoprint.system",        "reading the system menu"},
  {kAny,    "/api/system",                  kAdmin,    Flag::kSystemCommands, kNone,                   "octoprint.system",        "system commands"},
  {kAny,    "/api/system/**",               kAdmin,    Flag::kSystemCommands, kNone,                   "octoprint.system",        "system commands"},
  {kGet,    "/downloads/systeminfo.zip",    kAdmin,    Flag::kSystemCommands, kNone,                   "octoprint.system",        "system commands"},
  // Users, groups and credentials that work outside Bowden. Admins read
  // groups and permissions; the user records carry each user's API key, so
  // reading them needs the flag like changing them.
  {kGet,    "/api/access/groups",           kAdmin,    kNoFlag,               kNone,                   "octoprint.access",        "reading groups"},
  {kGet,    "/api/access/groups/**",        kAdmin,    kNoFlag,               kNone,                   "octoprint.access",        "reading groups"},
  {kGet,    "/api/access/permissions",      kAdmin,    kNoFlag,               kNone,                   "octoprint.access",        "reading permissions"},
  {kAny,    "/api/access",                  kAdmin,    Flag::kUserManagement, kNone,                   "octoprint.access",        "user management"},
  {kAny,    "/api/access/**",               kAdmin,    Flag::kUserManagement, kNone,                   "octoprint.access",        "user management"},
  {kAny,    "/api/users",                   kAdmin,    Flag::kUserManagement, kNone,                   "octoprint.access",        "user management"},
  {kAny,    "/api/users/**",                kAdmin,    Flag::kUserManagement, kNone,                   "octoprint.access",        "user management"},
  {kAny,    "/plugin/appkeys/**",           kAdmin,    Flag::kUserManagement, kNone,                   "octoprint.appkeys",       "issuing application keys"},
  {kAny,    "/api/plugin/appkeys",          kAdmin,    Flag::kUserManagement, kNone,                   "octoprint.appkeys",       "issuing application keys"},
  // pip install, i.e. code execution by design; backup restore reinstalls
  // plugins and replaces users and config. Admins read the plugin list and
  // the list of backups; a backup itself (password hashes, keys) needs the
  // flag to be downloaded.
  {kGet,    "/plugin/pluginmanager/**",     kAdmin,    kNoFlag,               kNone,                   "octoprint.pluginmanager", "reading the plugin list"},
  {kGet,    "/plugin/backup/",              kAdmin,    kNoFlag,               kNone,                   "octoprint.backup",        "reading the list of backups"},
  {kAny,    "/plugin/pluginmanager/**",     kAdmin,    Flag::kPluginInstall,  kNone,                   "octoprint.pluginmanager", "plugin management"},
  {kAny,    "/api/plugin/pluginmanager",    kAdmin,    Flag::kPluginInstall,  kNone,                   "octoprint.pluginmanager", "plugin management"},
  {kAny,    "/plugin/softwareupdate/**",    kAdmin,    Flag::kPluginInstall,  kNone,                   "octoprint.softwareupdate", "software updates"},
  {kAny,    "/api/plugin/softwareupdate",   kAdmin,    Flag::kPluginInstall,  kNone,                   "octoprint.softwareupdate", "software updates"},
  {kAny,    "/plugin/backup/",              kAdmin,    Flag::kPluginInstall,  kNone,                   "octoprint.backup",        "backup and restore"},
  {kAny,    "/plugin/backup/**",            kAdmin,    Flag::kPluginInstall,  kNone,                   "octoprint.backup",        "backup and restore"},
  {kAny,    "/api/plugin/backup",           kAdmin,    Flag::kPluginInstall,  kNone,                   "octoprint.backup",        "backup and restore"},
  {kAny,    "/plugin/firmwareupdater/**",   kAdmin,    Flag::kFirmwareFlash,  kNone,                   "octoprint.firmwareupdater", "firmware flashing"},
  {kAny,    "/api/plugin/firmwareupdater",  kAdmin,    Flag::kFirmwareFlash,  kNone,                   "octoprint.firmwareupdater", "firmware flashing"},
};

// mjpg-streamer and ustreamer. Only the stream and the snapshot pass;
// ?action=command (V4L2 controls), ?action=take (writes files), the JSON
// endpoints, ustreamer's /state and static files are denied for every role.
// `bowden open` on the OctoPrint target sends the UI's /webcam/ requests
// here (OctoPrint's default stream URL, as on OctoPi); they reach the
// streamer without "/webcam", as OctoPi's haproxy sends them.
constexpr Rule kWebcamRules[] = {
  {kGet,    "/",                            kViewer,   kNoFlag,               kNone,                   "webcam.action",           "the webcam stream and snapshot", Query::kWebcamAction},
  {kGet,    "/stream",                      kViewer,   kNoFlag,               kNone,                   "webcam.stream",           "the webcam stream"},
  {kGet,    "/snapshot",                    kViewer,   kNoFlag,               kNone,                   "webcam.snapshot",         "webcam snapshots"},
  {kGet,    "/webcam/",                     kViewer,   kNoFlag,               kNone,                   "webcam.action",           "the webcam stream and snapshot", Query::kWebcamAction, "/webcam"},
  {kGet,    "/webcam/stream",               kViewer,   kNoFlag,               kNone,                   "webcam.stream",           "the webcam stream",              Query::kAny,          "/webcam"},
  {kGet,    "/webcam/snapshot",             kViewer,   kNoFlag,               kNone,                   "webcam.snapshot",         "webcam snapshots",               Query::kAny,          "/webcam"},
};
// clang-format on

std::optional<Method> ParseMethod(absl::string_view method) {
  // Methods are case-sensitive (RFC 9110 section 9.1): "get" is not GET.
  if (method == "GET" || method == "HEAD") return Method::kGet;
  if (method == "POST") return Method::kPost;
  if (method == "PUT") return Method::kPut;
  if (method == "PATCH") return Method::kPatch;
  if (method == "DELETE") return Method::kDelete;
  return std::nullopt;
}

bool LocalAllows(Flag flag, const LocalCeiling& local) {
  switch (flag) {
    case Flag::kNone:
      return true;
    case Flag::kSystemCommands:
      return local.allow_system_commands;
    case Flag::kPluginInstall:
      return local.allow_plugin_install;
    case Flag::kUserManagement:
      return local.allow_user_management;
    case Flag::kFirmwareFlash:
      return local.allow_firmware_flash;
    case Flag::kSettingsWrite:
      return local.allow_settings_write;
  }
  return false;
}

absl::string_view FlagName(Flag flag) {
  switch (flag) {
    case Flag::kNone:
      return "none";
    case Flag::kSystemCommands:
      return "allow_system_commands";
    case Flag::kPluginInstall:
      return "allow_plugin_install";
    case Flag::kUserManagement:
      return "allow_user_management";
    case Flag::kFirmwareFlash:
      return "allow_firmware_flash";
    case Flag::kSettingsWrite:
      return "allow_settings_write";
  }
  return "unknown";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

// Form-decodes a query key or value; nullopt on a bad escape.
std::optional<std::string> DecodeQueryPart(absl::string_view part) {
  std::string out;
  for (size_t i = 0; i < part.size(); ++i) {
    if (part[i] == '+') {
      out.push_back(' ');
    } else if (part[i] != '%') {
      out.push_back(part[i]);
    } else {
      if (i + 2 >= part.size() ||
          !absl::ascii_isxdigit(static_cast<unsigned char>(part[i + 1])) ||
          !absl::ascii_isxdigit(static_cast<unsigned char>(part[i + 2]))) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(HexValue(part[i + 1]) * 16 +
                                      HexValue(part[i + 2])));
      i += 2;
    }
  }
  return out;
}

bool IsWebcamAction(absl::string_view value) {
  // "stream_1"/"snapshot_1" pick mjpg-streamer's second input.
  for (absl::string_view action : {"stream", "snapshot"}) {
    if (value == action) return true;
    absl::string_view input = value;
    if (absl::ConsumePrefix(&input, action) &&
        absl::ConsumePrefix(&input, "_") && !input.empty() &&
        std::all_of(input.begin(), input.end(), [](char c) {
          return absl::ascii_isdigit(static_cast<unsigned char>(c));
        })) {
      return true;
    }
  }
  return false;
}

// Exactly one `action` (any case, keys decoded) naming the stream or the
// snapshot. Both '&' and ';' separate parameters, so "a=1;action=command"
// counts as a second action for a backend that splits on ';'. Other
// parameters (the UI's cache buster) pass. Returns why a query fails.
std::optional<std::string> WebcamQueryProblem(absl::string_view query) {
  int actions = 0;
  std::string value;
  for (absl::string_view param : absl::StrSplit(query, absl::ByAnyChar("&;"))) {
    const size_t equals = param.find('=');
    std::optional<std::string> key = DecodeQueryPart(param.substr(0, equals));
    if (!key.has_value()) return "the query has a bad percent escape";
    if (!absl::EqualsIgnoreCase(*key, "action")) continue;
    std::optional<std::string> decoded = DecodeQueryPart(
        equals == absl::string_view::npos ? "" : param.substr(equals + 1));
    if (!decoded.has_value()) return "the query has a bad percent escape";
    value = *std::move(decoded);
    ++actions;
  }
  if (actions != 1) {
    return absl::StrCat("the query must hold exactly one action, not ",
                        actions);
  }
  if (!IsWebcamAction(value)) {
    return absl::StrCat("action \"", absl::CHexEscape(value.substr(0, 32)),
                        "\" is not stream or snapshot");
  }
  return std::nullopt;
}

Decision Deny(absl::string_view rule, std::string reason) {
  return Decision{false, std::string(rule), std::move(reason), Inspect::kNone};
}

}  // namespace

absl::string_view InspectName(Inspect inspect) {
  switch (inspect) {
    case Inspect::kNone:
      return "none";
    case Inspect::kPrinterCommand:
      return "printer-command";
    case Inspect::kToolTarget:
      return "tool-target";
    case Inspect::kBedTarget:
      return "bed-target";
    case Inspect::kChamberTarget:
      return "chamber-target";
    case Inspect::kUpload:
      return "upload";
    case Inspect::kConnection:
      return "connection";
    case Inspect::kOperatorCommand:
      return "operator-command";
    case Inspect::kPrinthead:
      return "printhead";
    case Inspect::kFileCommand:
      return "file-command";
    case Inspect::kTimelapseConfig:
      return "timelapse-config";
    case Inspect::kPromptAnswer:
      return "prompt-answer";
    case Inspect::kSettings:
      return "settings";
  }
  return "unknown";
}

bool PathMatches(absl::string_view pattern, absl::string_view path) {
  // Keep the '/' before "**": "/static/**" needs the path to go on after
  // "/static/".
  const bool open_ended = absl::ConsumeSuffix(&pattern, "**");
  while (!pattern.empty()) {
    if (pattern.front() == '*') {
      pattern.remove_prefix(1);
      size_t segment = path.find('/');
      if (segment == absl::string_view::npos) segment = path.size();
      if (segment == 0) return false;
      path.remove_prefix(segment);
    } else {
      const absl::string_view literal = pattern.substr(0, pattern.find('*'));
      if (!absl::ConsumePrefix(&path, literal)) return false;
      pattern.remove_prefix(literal.size());
    }
  }
  return open_ended ? !path.empty() : path.empty();
}

Decision Decide(TargetKind kind, policy::Role role, absl::string_view method,
                const CanonicalTarget& target, const LocalCeiling& local) {
  const std::optional<Method> parsed = ParseMethod(method);
  if (!parsed.has_value()) {
    return Deny(
        "method-not-allowed",
        absl::StrCat("method \"", absl::CHexEscape(method.substr(0, 16)),
                     "\" is not forwarded to printers"));
  }
  const absl::Span<const Rule> rules =
      kind == TargetKind::kWebcam ? absl::Span<const Rule>(kWebcamRules)
                                  : absl::Span<const Rule>(kOctoPrintRules);
  for (const Rule& rule : rules) {
    if (rule.method != Method::kAny && rule.method != *parsed) continue;
    if (!PathMatches(rule.pattern, target.path)) continue;
    // The terminal is admin's, but the Control tab sends Motors off and the
    // fan through it, and emergency commands pass for every role that can
    // reach the printer's controls: an operator's request is let through to
    // have its body judged to hold nothing else.
    if (rule.inspect == Inspect::kPrinterCommand && role == Role::kOperator &&
        LocalAllows(rule.flag, local)) {
      return Decision{true, rule.id,
                      "operators may send motors off (M18, M84), the fan "
                      "(M106 S0-255, M107) and the emergency commands M112, "
                      "M410 and M108",
                      Inspect::kOperatorCommand};
    }
    if (static_cast<int>(role) < static_cast<int>(rule.min_role)) {
      return Deny(rule.id,
                  absl::StrCat(rule.what, " needs role ",
                               policy::RoleName(rule.min_role),
                               "; this session is ", policy::RoleName(role)));
    }
    if (!LocalAllows(rule.flag, local)) {
      return Deny(rule.id, absl::StrCat(rule.what,
                                        " is off in the agent's local config (",
                                        FlagName(rule.flag), ")"));
    }
    if (rule.query == Query::kWebcamAction) {
      if (std::optional<std::string> problem =
              WebcamQueryProblem(target.query)) {
        return Deny(rule.id, *std::move(problem));
      }
    }
    // `save` (and `autoconnect`) make a connect or a timelapse configuration
    // write OctoPrint's settings, which is an admin's business: only lower
    // roles' bodies are inspected.
    Inspect inspect = rule.inspect;
    if ((inspect == Inspect::kConnection || inspect == Inspect::kTimelapseConfig) &&
        role == policy::Role::kAdmin) {
      inspect = Inspect::kNone;
    }
    return Decision{true, rule.id,
                    absl::StrCat(rule.what, " is allowed from role ",
                                 policy::RoleName(rule.min_role), " up"),
                    inspect, rule.strip_prefix};
  }
  return Deny("default-deny",
              absl::StrCat("no rule allows ", method, " on this path"));
}

}  // namespace bowden::guard
