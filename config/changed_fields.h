#ifndef BOWDEN_CONFIG_CHANGED_FIELDS_H_
#define BOWDEN_CONFIG_CHANGED_FIELDS_H_

#include <string>
#include <vector>

#include "google/protobuf/message.h"

namespace bowden::config {

// The names of the top-level fields whose values differ between `before` and
// `after` (two messages of the same type), in the order the .proto declares
// them; empty when they are equal. A repeated field differs when its elements
// or their order do. For a reload's log line ("target, allow_plugin_install
// changed"). Pure; thread-safe.
std::vector<std::string> ChangedFields(const google::protobuf::Message& before,
                                       const google::protobuf::Message& after);

}  // namespace bowden::config

#endif  // BOWDEN_CONFIG_CHANGED_FIELDS_H_
