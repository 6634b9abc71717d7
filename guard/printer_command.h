#ifndef BOWDEN_GUARD_PRINTER_COMMAND_H_
#define BOWDEN_GUARD_PRINTER_COMMAND_H_

#include "gcode/checker.h"
#include "google/protobuf/struct.pb.h"
#include "guard/body_inspector.h"
#include "guard/rules.h"

namespace bowden::guard {

// POST /api/printer/command, as InspectBody describes for kPrinterCommand
// (`operator_only` false) and kOperatorCommand (true). Part of InspectBody;
// separate because it is the one body that is G-code itself.
//
// Thread-safe when `checker` is (it is immutable).
BodyVerdict InspectPrinterCommand(const gcode::Checker& checker,
                                  const LocalCeiling& ceiling,
                                  const google::protobuf::Struct& body,
                                  bool operator_only);

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_PRINTER_COMMAND_H_
