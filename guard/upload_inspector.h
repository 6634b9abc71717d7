#ifndef BOWDEN_GUARD_UPLOAD_INSPECTOR_H_
#define BOWDEN_GUARD_UPLOAD_INSPECTOR_H_

#include <openssl/evp.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gcode/stream_scanner.h"
#include "guard/multipart.h"

namespace bowden::guard {

// Judges one multipart upload to OctoPrint as its decoded body streams past:
// reads it with MultipartReader, scans file parts with the agent's G-code
// ceiling, and takes each file's size and SHA-256 for the audit log.
//
// Which parts are scanned: every part that carries a file name, and the
// part named `file` (the one OctoPrint stores) even without one, whatever
// the extension; only files whose every file name ends in ".stl" (models,
// which OctoPrint can slice but never print) pass unscanned, and only while
// the name OctoPrint stores the upload under also ends in ".stl": the form
// field `filename` replaces the file's own name, so a model stored as
// "evil.gcode" is refused (it would be printable without being scanned). Scanning by
// G-code extension alone would miss machine-code types that plugins
// register and any name OctoPrint's sanitising turns into a printable one;
// a non-G-code file that is not an STL is refused as unparseable G-code.
//
// Also refused: form fields named "*.path" or "*.name", which OctoPrint's
// upload handler sets itself from the spooled file (a client-supplied one
// was the file-exfiltration vector of CVE-2025-48067).
//
// Feed and Finish return kInvalidArgument for a malformed body (answer
// 400) and kPermissionDenied for a refused one (answer 403, with
// refusal_json()). Memory: MultipartReader's bound plus one StreamScanner
// line and a SHA-256 state. Thread-compatible.
class UploadInspector final : private MultipartReader::Handler {
 public:
  using ScannerFactory = std::function<std::unique_ptr<gcode::StreamScanner>()>;

  // kInvalidArgument when `content_type` is not multipart/form-data with a
  // valid boundary. `new_scanner` must not be empty.
  static absl::StatusOr<std::unique_ptr<UploadInspector>> Create(
      absl::string_view content_type, ScannerFactory new_scanner);

  absl::Status Feed(absl::string_view body);
  absl::Status Finish();

  // For the audit log. For the part named `file`: "file" (its file name),
  // "size", "sha256" (hex) and "scan" ("passed", "not scanned (model)",
  // "refused"), plus "line" and "command" when refused; other file parts
  // use the same keys prefixed with "<part name>.". Size and SHA-256 are
  // set once a part is complete.
  const std::map<std::string, std::string>& fields() const { return fields_; }
  // After a G-code refusal: JSON members naming it, each led by a comma,
  // e.g. ,"file":"a.gcode","line":3,"command":"M997".
  const std::string& refusal_json() const { return refusal_json_; }

 private:
  UploadInspector(MultipartReader reader, ScannerFactory new_scanner);

  absl::Status OnPart(const MultipartPart& part) override;
  absl::Status OnData(absl::string_view data) override;
  absl::Status OnPartEnd() override;
  absl::Status Refuse(const gcode::Verdict& verdict);
  // The `filename` field is complete: judge the models already passed.
  absl::Status OnStoredName();

  MultipartReader reader_;
  ScannerFactory new_scanner_;
  // The file part being read, if any.
  bool in_file_ = false;
  std::string prefix_;  // "" or "<part name>."
  std::string file_name_;
  uint64_t size_ = 0;
  std::unique_ptr<gcode::StreamScanner> scanner_;  // null: not scanned
  struct DigestFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, DigestFree> digest_;
  std::map<std::string, std::string> fields_;
  // The form field `filename` (the name OctoPrint stores the upload under).
  bool in_stored_name_ = false;
  bool stored_name_seen_ = false;
  std::string stored_name_;
  std::string unscanned_model_;  // the first model passed unscanned, if any
  std::string refusal_json_;
};

}  // namespace bowden::guard

#endif  // BOWDEN_GUARD_UPLOAD_INSPECTOR_H_
