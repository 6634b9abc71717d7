#include "config/changed_fields.h"

#include <memory>

#include "google/protobuf/descriptor.h"

namespace bowden::config {
namespace {

// `message` with every top-level field but `field` cleared, serialized. Equal
// strings mean equal values: config messages hold no maps, whose order the
// wire format would not fix.
std::string OnlyField(const google::protobuf::Message& message,
                      const google::protobuf::FieldDescriptor* field) {
  std::unique_ptr<google::protobuf::Message> copy(message.New());
  copy->CopyFrom(message);
  const google::protobuf::Descriptor* descriptor = copy->GetDescriptor();
  const google::protobuf::Reflection* reflection = copy->GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    if (descriptor->field(i) != field)
      reflection->ClearField(copy.get(), descriptor->field(i));
  }
  return copy->SerializeAsString();
}

}  // namespace

std::vector<std::string> ChangedFields(const google::protobuf::Message& before,
                                       const google::protobuf::Message& after) {
  std::vector<std::string> changed;
  const google::protobuf::Descriptor* descriptor = before.GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (OnlyField(before, field) != OnlyField(after, field))
      changed.push_back(field->name());
  }
  return changed;
}

}  // namespace bowden::config
