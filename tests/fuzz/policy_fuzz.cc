// Fuzz target: policy files (textproto -> validation -> decisions) and the
// --allow flag. Nothing may crash, and an accepted policy answers queries.
#include <cstddef>
#include <cstdint>
#include <string>

#include "google/protobuf/text_format.h"
#include "policy/policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  bowden::policy::Policy::ParseAllowFlag(input).IgnoreError();
  bowden::v1::Policy proto;
  google::protobuf::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  // Keep protobuf's parser quiet: errors are expected here.
  google::protobuf::io::ErrorCollector* silent = nullptr;
  parser.RecordErrorsTo(silent);
  if (!parser.ParseFromString(input, &proto)) return 0;
  auto policy = bowden::policy::Policy::FromProto(proto);
  if (!policy.ok()) return 0;
  for (const auto& grant : proto.grant()) {
    for (const auto& printer : grant.printers()) {
      policy->MayReachTarget(grant.user(), printer, "octoprint");
    }
  }
  policy->MayReachPrinter("alice", "prusa-01");
  return 0;
}
