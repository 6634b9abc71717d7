#include "guard/python_format.h"

#include <string>

#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace bowden::guard {
namespace {

google::protobuf::Struct Mapping(const std::string& json) {
  google::protobuf::Struct mapping;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &mapping).ok()) << json;
  return mapping;
}

std::string Format(absl::string_view format, const std::string& json) {
  absl::StatusOr<std::string> out = PythonPercentFormat(format, Mapping(json));
  return out.ok() ? *out : "ERROR: " + std::string(out.status().message());
}

bool Refused(absl::string_view format, const std::string& json) {
  return !PythonPercentFormat(format, Mapping(json)).ok();
}

// Expected values are what CPython 3 prints for `format % mapping`.
TEST(PythonFormatTest, RendersWhatPythonRenders) {
  EXPECT_EQ(Format("M104 S%(t)s", R"({"t":200})"), "M104 S200");
  EXPECT_EQ(Format("M104 S%(t)s", R"({"t":200.5})"), "M104 S200.5");
  EXPECT_EQ(Format("M104 S%(t)s", R"({"t":0.1})"), "M104 S0.1");
  EXPECT_EQ(Format("M117 %(a)s and %(a)s", R"({"a":"hi"})"), "M117 hi and hi");
  EXPECT_EQ(Format("M117 100%%", R"({"a":1})"), "M117 100%");
  EXPECT_EQ(Format("no conversions", R"({"a":1})"), "no conversions");
  EXPECT_EQ(Format("G1 X%(x)d", R"({"x":3.7})"), "G1 X3");
  EXPECT_EQ(Format("G1 X%(x)d", R"({"x":-3.7})"), "G1 X-3");
  EXPECT_EQ(Format("G1 X%(x).2f", R"({"x":1.005})"), "G1 X1.00");
  EXPECT_EQ(Format("G1 X%(x)05.1f", R"({"x":2.25})"), "G1 X002.2");
  EXPECT_EQ(Format("G1 X%(x)+d", R"({"x":5})"), "G1 X+5");
  EXPECT_EQ(Format("[%(a)5s|%(a)-5s|%(a).1s]", R"({"a":"ab"})"), "[   ab|ab   |a]");
  EXPECT_EQ(Format("%(x)ld %(x)#d", R"({"x":7})"), "7 7");
  EXPECT_EQ(Format("%(x).3d", R"({"x":5})"), "005");
}

TEST(PythonFormatTest, RefusesWhatCouldCarryAnotherCommand) {
  EXPECT_TRUE(Refused("M117 %(a)s", R"({"a":"hi\nM997"})"));
  EXPECT_TRUE(Refused("M117 %(a)s", R"({"a":"hi\rM997"})"));
  EXPECT_TRUE(Refused("M117 %(a)s", R"({"a":"caf\u00e9"})"));
  EXPECT_TRUE(Refused("M117 %(nl)c", R"({"nl":10})"));
  EXPECT_TRUE(Refused("M117 %(a)r", R"({"a":"x"})"));
  EXPECT_TRUE(Refused("M104 S%(t)e", R"({"t":300})"));
  EXPECT_TRUE(Refused("M104 S%(t)g", R"({"t":300})"));
  EXPECT_TRUE(Refused("M104 S%(t)x", R"({"t":300})"));
  EXPECT_TRUE(Refused("M104 S%s", R"({"t":300})"));
  EXPECT_TRUE(Refused("M104 S%(t)*d", R"({"t":300})"));
  EXPECT_TRUE(Refused("M104 S%(missing)s", R"({"t":300})"));
  EXPECT_TRUE(Refused("M104 S%(t", R"({"t":300})"));
  EXPECT_TRUE(Refused("M104 S%(t)", R"({"t":300})"));
  EXPECT_TRUE(Refused("M117 100%", R"({"t":300})"));
  EXPECT_TRUE(Refused("M104 S%(t)s", R"({"t":true})"));
  EXPECT_TRUE(Refused("M104 S%(t)s", R"({"t":null})"));
  EXPECT_TRUE(Refused("M104 S%(t)s", R"({"t":[1]})"));
  EXPECT_TRUE(Refused("M104 S%(t)d", R"({"t":"300"})"));
  EXPECT_TRUE(Refused("G1 X%(x)s", R"({"x":0.00001})"));
  EXPECT_TRUE(Refused("G1 X%(x)s", R"({"x":1e16})"));
  EXPECT_TRUE(Refused("G1 X%(x)100s", R"({"x":1})"));
  EXPECT_TRUE(Refused("G1 X%(x).50f", R"({"x":1})"));
  EXPECT_TRUE(Refused("%(a(b))s", R"({"a(b":1})"));
}

}  // namespace
}  // namespace bowden::guard
