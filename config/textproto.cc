#include "config/textproto.h"

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"

namespace bowden::config {
namespace {

// Keeps the first error with its position; protobuf reports 0-based lines.
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (!error_.empty()) return;
    error_ = absl::StrCat(line + 1, ":", column + 1, ": ", message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

}  // namespace

absl::Status LoadTextProto(const std::string& path,
                           google::protobuf::Message* message) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read config file '", path, "': check the path"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::unique_ptr<google::protobuf::Message> parsed(message->New());
  FirstError errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(text.str(), parsed.get())) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", errors.error()));
  }
  message->CopyFrom(*parsed);
  return absl::OkStatus();
}

}  // namespace bowden::config
