#include "guard/body_inspector.h"

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace bowden::guard {
namespace {

class BodyInspectorTest : public ::testing::Test {
 protected:
  std::string Inspect(guard::Inspect what, absl::string_view body) {
    return InspectBody(checker_, ceiling_, what, body);
  }
  gcode::Checker checker_ = *gcode::Checker::Create(gcode::Ceiling());
  LocalCeiling ceiling_;
};

TEST_F(BodyInspectorTest, PrinterCommands) {
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand, R"({"command":"G28"})"), "");
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand, R"({"commands":["G28","M104 S200"]})"), "");
  std::string refused = Inspect(Inspect::kPrinterCommand, R"({"commands":["G28","m997"]})");
  EXPECT_TRUE(absl::StrContains(refused, "line 1")) << refused;
  EXPECT_TRUE(absl::StrContains(refused, "m997")) << refused;
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"command":"G28\nM500"})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"command":"M104 S300"})"), "");
  // Parameters are substituted before judging; unresolved ones are refused.
  EXPECT_NE(Inspect(Inspect::kPrinterCommand,
                    R"({"command":"M104 S{t}","parameters":{"t":300}})"),
            "");
  EXPECT_EQ(Inspect(Inspect::kPrinterCommand,
                    R"({"command":"M104 S{t}","parameters":{"t":200}})"),
            "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"command":"M{x}97"})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"script":"beforePrintStarted"})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, R"({"command":42})"), "");
  EXPECT_NE(Inspect(Inspect::kPrinterCommand, "not json"), "");
}

TEST_F(BodyInspectorTest, HeaterSetPoints) {
  EXPECT_EQ(Inspect(Inspect::kToolTarget,
                    R"({"command":"target","targets":{"tool0":220,"tool1":280}})"),
            "");
  EXPECT_NE(Inspect(Inspect::kToolTarget,
                    R"({"command":"target","targets":{"tool0":220,"tool1":281}})"),
            "");
  EXPECT_EQ(Inspect(Inspect::kBedTarget, R"({"command":"target","target":120})"), "");
  EXPECT_NE(Inspect(Inspect::kBedTarget, R"({"command":"target","target":121})"), "");
  EXPECT_NE(Inspect(Inspect::kChamberTarget, R"({"command":"target","target":71})"), "");
  EXPECT_NE(Inspect(Inspect::kBedTarget, R"({"command":"offset","offset":30})"), "");
  EXPECT_EQ(Inspect(Inspect::kBedTarget, R"({"command":"offset","offset":-5})"), "");
  EXPECT_NE(Inspect(Inspect::kToolTarget, R"({"command":"target","targets":{"tool0":"hot"}})"),
            "");
}

TEST_F(BodyInspectorTest, ConnectsPassButSavingConnectionSettingsDoesNot) {
  EXPECT_EQ(Inspect(Inspect::kConnection,
                    R"({"command":"connect","port":"/dev/ttyACM0","baudrate":115200})"),
            "");
  EXPECT_EQ(Inspect(Inspect::kConnection, R"({"command":"disconnect"})"), "");
  for (const char* body : {R"({"command":"connect","save":true})",
                           R"({"command":"connect","save":false})",
                           R"({"command":"connect","autoconnect":true})"}) {
    std::string refused = Inspect(Inspect::kConnection, body);
    EXPECT_TRUE(absl::StrContains(refused, "needs role admin")) << body << ": " << refused;
  }
  EXPECT_NE(Inspect(Inspect::kConnection, "command=connect&save=true"), "");
}

TEST_F(BodyInspectorTest, UploadsAreNotJudgedAsBufferedBodies) {
  // HttpGuard streams them through UploadInspector; here they fail closed.
  EXPECT_TRUE(absl::StrContains(Inspect(Inspect::kUpload, "--x\r\n"), "as it streams"));
}

}  // namespace
}  // namespace bowden::guard
