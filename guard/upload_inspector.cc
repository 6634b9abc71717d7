#include "guard/upload_inspector.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "guard/forwarding.h"

namespace bowden::guard {
namespace {

// The longest `filename` field value the guard reads (OctoPrint's names are
// far shorter).
constexpr size_t kMaxStoredName = 1024;

bool IsModelName(absl::string_view name) { return absl::EndsWithIgnoreCase(name, ".stl"); }

bool IsModel(const MultipartPart& part) {
  auto stl = [](const std::string& name) { return IsModelName(name); };
  // Both spellings must say STL: OctoPrint prefers `filename*`, others may not.
  return !part.filename.empty() && stl(part.filename) &&
         (part.filename_ext.empty() || stl(part.filename_ext));
}

}  // namespace

absl::StatusOr<std::unique_ptr<UploadInspector>> UploadInspector::Create(
    absl::string_view content_type, ScannerFactory new_scanner) {
  absl::StatusOr<MultipartReader> reader = MultipartReader::Create(content_type);
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<UploadInspector>(
      new UploadInspector(*std::move(reader), std::move(new_scanner)));
}

UploadInspector::UploadInspector(MultipartReader reader, ScannerFactory new_scanner)
    : reader_(std::move(reader)),
      new_scanner_(std::move(new_scanner)),
      digest_(EVP_MD_CTX_new()) {}

absl::Status UploadInspector::Feed(absl::string_view body) {
  return reader_.Feed(body, this);
}

absl::Status UploadInspector::Finish() { return reader_.Finish(); }

absl::Status UploadInspector::OnPart(const MultipartPart& part) {
  if (absl::EndsWith(part.name, ".path") || absl::EndsWith(part.name, ".name")) {
    return absl::PermissionDeniedError(
        absl::StrCat("the form field \"", absl::CHexEscape(part.name),
                     "\" is reserved for OctoPrint's own upload handler"));
  }
  in_file_ = part.has_filename || part.name == "file";
  in_stored_name_ = !in_file_ && part.name == "filename";
  if (in_stored_name_) {
    stored_name_seen_ = true;
    stored_name_.clear();
  }
  if (!in_file_) return absl::OkStatus();
  prefix_ = part.name == "file" ? "" : absl::StrCat(part.name, ".");
  file_name_ = part.filename.empty() ? part.filename_ext : part.filename;
  size_ = 0;
  fields_[prefix_ + "file"] = file_name_;
  scanner_.reset();
  const bool unscanned =
      IsModel(part) && (!stored_name_seen_ || IsModelName(stored_name_));
  if (unscanned && unscanned_model_.empty()) unscanned_model_ = file_name_;
  if (!unscanned) {
    scanner_ = new_scanner_();
    if (scanner_ == nullptr) return absl::InternalError("the agent has no G-code scanner");
  }
  if (digest_ == nullptr || EVP_DigestInit_ex(digest_.get(), EVP_sha256(), nullptr) != 1) {
    return absl::InternalError("SHA-256 is unavailable");
  }
  return absl::OkStatus();
}

absl::Status UploadInspector::OnData(absl::string_view data) {
  if (in_stored_name_) {
    if (stored_name_.size() + data.size() > kMaxStoredName) {
      return absl::InvalidArgumentError("the form field `filename` is too long");
    }
    stored_name_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  if (!in_file_) return absl::OkStatus();
  size_ += data.size();
  EVP_DigestUpdate(digest_.get(), data.data(), data.size());
  if (scanner_ != nullptr) {
    gcode::Verdict verdict = scanner_->Feed(data);
    if (!verdict.allowed()) return Refuse(verdict);
  }
  return absl::OkStatus();
}

absl::Status UploadInspector::OnPartEnd() {
  if (in_stored_name_) {
    in_stored_name_ = false;
    return OnStoredName();
  }
  if (!in_file_) return absl::OkStatus();
  in_file_ = false;
  if (scanner_ != nullptr) {
    gcode::Verdict verdict = scanner_->Finish();
    if (!verdict.allowed()) return Refuse(verdict);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(digest_.get(), digest, &length);
  fields_[prefix_ + "size"] = absl::StrCat(size_);
  fields_[prefix_ + "sha256"] = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), length));
  fields_[prefix_ + "scan"] = scanner_ != nullptr ? "passed" : "not scanned (model)";
  scanner_.reset();
  return absl::OkStatus();
}

absl::Status UploadInspector::OnStoredName() {
  if (unscanned_model_.empty() || IsModelName(stored_name_)) return absl::OkStatus();
  fields_["scan"] = "refused";
  refusal_json_ = absl::StrCat(",\"file\":\"", JsonEscape(unscanned_model_),
                               "\",\"stored_as\":\"", JsonEscape(stored_name_), "\"");
  return absl::PermissionDeniedError(absl::StrCat(
      "the model ", unscanned_model_, " would be stored as \"", absl::CHexEscape(stored_name_),
      "\", a printable name, without being scanned; upload sliced G-code instead"));
}

absl::Status UploadInspector::Refuse(const gcode::Verdict& verdict) {
  fields_[prefix_ + "scan"] = "refused";
  fields_[prefix_ + "line"] = absl::StrCat(verdict.line);
  fields_[prefix_ + "command"] = verdict.command;
  refusal_json_ = absl::StrCat(",\"file\":\"", JsonEscape(file_name_), "\",\"line\":",
                               verdict.line, ",\"command\":\"", JsonEscape(verdict.command),
                               "\"");
  return absl::PermissionDeniedError(absl::StrCat(
      "refused by the agent's G-code ceiling: ", file_name_, " ", verdict.ToString()));
}

}  // namespace bowden::guard
