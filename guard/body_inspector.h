#ifndef BOWDEN_GUARD_BODY_INSPECTOR_H_
#define BOWDEN_GUARD_BODY_INSPECTOR_H_

#include <string>

#include "absl/strings/string_view.h"
#include "gcode/checker.h"
#include "guard/rules.h"

namespace bowden::guard {

// Judges the JSON body of a request the rules marked for inspection, against
// the agent's G-code ceiling:
//  - POST /api/printer/command: every line of `command` and `commands`, after
//    substituting `parameters` ("{name}" placeholders, as OctoPrint does); a
//    placeholder left unresolved is refused, and `script` is refused unless
//    the local ceiling allows G-code scripts;
//  - POST /api/printer/tool|bed|chamber: `target`/`targets` set-points under
//    the caps, and `offset`/`offsets` only when they do not raise a target.
// Anything it cannot read as the expected JSON is refused. Uploads
// (Inspect::kUpload) are not judged here but streamed through
// UploadInspector by the HTTP guard; InspectBody refuses them, so a caller
// that buffers an upload by mistake fails closed.
//
// Returns "" to allow, or one sentence naming the refused line and command.
// Thread-safe when `checker` is (it is immutable).
std::string InspectBody(const gcode::Checker& checker, const LocalCeiling& ceiling,
                        Inspect inspect, absl::string_view body);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_BODY_INSPECTOR_H_
