#ifndef BOWDEN_CONFIG_TEXTPROTO_H_
#define BOWDEN_CONFIG_TEXTPROTO_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace bowden::config {

// Parses the textproto file `path` into `message`. A file that cannot be read
// is NotFound; a syntax error or unknown field is InvalidArgument quoting
// "path:line:column: what is wrong". `message` is left untouched on error,
// so a caller reloading a file keeps its old value.
absl::Status LoadTextProto(const std::string& path,
                           google::protobuf::Message* message);

}  // namespace bowden::config

#endif  // BOWDEN_CONFIG_TEXTPROTO_H_
