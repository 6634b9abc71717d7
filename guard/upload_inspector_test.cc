#include "guard/upload_inspector.h"

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gcode/checker.h"
#include "gtest/gtest.h"

namespace bowden::guard {
namespace {

constexpr char kType[] = "multipart/form-data; boundary=XyZ";

const gcode::Checker& DefaultChecker() {
  static const auto* checker = new gcode::Checker(*gcode::Checker::Create(gcode::Ceiling()));
  return *checker;
}

std::string Field(absl::string_view name, absl::string_view value) {
  return absl::StrCat("--XyZ\r\nContent-Disposition: form-data; name=\"", name, "\"\r\n\r\n",
                      value, "\r\n");
}

std::string File(absl::string_view filename, absl::string_view content) {
  return absl::StrCat("--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"",
                      filename, "\"\r\nContent-Type: application/octet-stream\r\n\r\n", content,
                      "\r\n");
}

// Feeds a whole body; returns the status of the first failing step.
absl::Status Judge(const std::string& body, std::unique_ptr<UploadInspector>* kept = nullptr) {
  auto inspector = UploadInspector::Create(kType, [] {
    return std::make_unique<gcode::StreamScanner>(DefaultChecker());
  });
  if (!inspector.ok()) return inspector.status();
  absl::Status status = (*inspector)->Feed(body + "--XyZ--\r\n");
  if (status.ok()) status = (*inspector)->Finish();
  if (kept != nullptr) *kept = *std::move(inspector);
  return status;
}

// A binary STL: not G-code, so it passes only unscanned.
const std::string kModel = std::string("solid part\x01\x02\x03\nM997\n", 20);

TEST(UploadInspectorTest, AModelPassesUnscannedUnderAModelName) {
  std::unique_ptr<UploadInspector> inspector;
  EXPECT_TRUE(Judge(File("part.stl", kModel), &inspector).ok());
  EXPECT_EQ(inspector->fields().at("scan"), "not scanned (model)");
  EXPECT_TRUE(Judge(Field("filename", "other.STL") + File("part.stl", kModel)).ok());
  EXPECT_TRUE(Judge(File("part.stl", kModel) + Field("filename", "renamed.stl")).ok());
}

TEST(UploadInspectorTest, AModelStoredUnderAPrintableNameIsRefused) {
  // The review's bypass: -F filename=evil.gcode -F print=true.
  absl::Status before = Judge(Field("filename", "evil.gcode") + File("part.stl", kModel) +
                              Field("print", "true"));
  EXPECT_FALSE(before.ok());
  absl::Status after = Judge(File("part.stl", kModel) + Field("filename", "evil.gcode") +
                             Field("print", "true"));
  EXPECT_EQ(after.code(), absl::StatusCode::kPermissionDenied) << after;
  EXPECT_TRUE(absl::StrContains(after.message(), "evil.gcode")) << after;
}

TEST(UploadInspectorTest, TheUisRenameOnUploadIsScannedAndPasses) {
  // What OctoPrint's UI sends to keep both files ("rename" on a clash).
  const std::string body = Field("filename", "rec-admin_1.gcode") + Field("noOverwrite", "true") +
                           File("rec-admin.gcode", "G28\nG1 X10 Y10\n");
  std::unique_ptr<UploadInspector> inspector;
  EXPECT_TRUE(Judge(body, &inspector).ok());
  EXPECT_EQ(inspector->fields().at("scan"), "passed");
  EXPECT_FALSE(Judge(Field("filename", "a.gcode") + File("a.gcode", "G28\nM997\n")).ok());
}

TEST(UploadInspectorTest, AnOverlongStoredNameIsMalformed) {
  absl::Status status = Judge(Field("filename", std::string(2000, 'a')) + File("a.stl", kModel));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
}

}  // namespace
}  // namespace bowden::guard
