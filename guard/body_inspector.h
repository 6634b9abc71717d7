#ifndef BOWDEN_GUARD_BODY_INSPECTOR_H_
#define BOWDEN_GUARD_BODY_INSPECTOR_H_

#include <string>

#include "absl/strings/string_view.h"
#include "gcode/checker.h"
#include "guard/rules.h"

namespace bowden::guard {

// One buffered request body the rules marked for inspection.
struct BodyRequest {
  Inspect inspect = Inspect::kNone;
  // The canonical request path: file commands judge the file it names.
  absl::string_view path;
  absl::string_view body;
};

// What to do with it.
struct BodyVerdict {
  // "" allows; otherwise one sentence naming the refused value, line or
  // command, for the 403.
  std::string denial;
  // Emergency commands (M112, M410, M108) found in the request: a JSON body
  // that sends exactly them, {"commands":["M112"]}, to be forwarded in place
  // of the request's own body, whether the rest was refused (`denial` set)
  // or not. Empty when there were none or the role may send the batch as is.
  std::string emergency_body;
  // "M112" or "M112, M410": what `emergency_body` sends, for messages.
  std::string emergency_commands;

  bool allowed() const { return denial.empty(); }
};

// Judges the JSON body of a request against the agent's G-code ceiling, by
// the principle that every value OctoPrint can turn into G-code is G-code:
// numbers must be JSON numbers that OctoPrint writes out plainly, strings
// must hold no line break, commands are judged after OctoPrint's own `%`
// formatting (PythonPercentFormat), and fields and commands the guard does
// not know are refused. Per inspection (docs/gcode-surface.md lists every
// field and what happens to it):
//  - kPrinterCommand: every `command`/`commands` entry, one line each, after
//    `parameters`; `script` only with LocalCeiling::allow_gcode_scripts. A
//    refused batch that holds emergency commands gets them in
//    emergency_body, so they still reach the printer.
//  - kOperatorCommand (POST /api/printer/command by operators): only what
//    the Control tab sends, motors off (exactly M18 or M84) and the fan
//    (M106 S<whole 0-255>, M107), and the emergency commands M112, M410 and
//    M108, each through the ceiling as well; anything else is refused as
//    terminal G-code (admin's). A batch of only emergency commands goes as
//    emergency_body; a refused batch sends its emergency commands alone, as
//    for kPrinterCommand.
//  - kPrinthead: jog axes and speed, home axes, feed-rate factor.
//  - kToolTarget, kBedTarget, kChamberTarget: each command's fields, with
//    set-points under the caps and offsets that never raise a target.
//  - kFileCommand: slicing `profile.*` overrides are refused; a copy or move
//    that would turn an unscanned model (.stl) into a printable name is
//    judged as an upload the guard never saw, and refused.
//  - kTimelapseConfig (below admin): `save` writes settings, refused.
//  - kPromptAnswer: `choice` must be a small whole number.
//  - kConnection (below admin): `save` other than false (port, baud rate and
//    profile as the defaults) is refused; `autoconnect` must be a boolean
//    (the UI always sends the stored value; see InspectConnection).
//  - kSettings: G-code scripts (only with allow_gcode_scripts, and never with
//    Jinja syntax the guard cannot render), the serial hello command and the
//    prompt plugin's command must pass the ceiling.
// Uploads (kUpload) stream through UploadInspector instead; here they are
// refused, so a caller that buffers an upload by mistake fails closed.
//
// Thread-safe when `checker` is (it is immutable).
BodyVerdict InspectBody(const gcode::Checker& checker, const LocalCeiling& ceiling,
                        const BodyRequest& request);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_BODY_INSPECTOR_H_
