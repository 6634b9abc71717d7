#include "gcode/emergency.h"

#include <string>

#include "gtest/gtest.h"

namespace bowden::gcode {
namespace {

TEST(EmergencyTest, FindsTheStrongestEmergencyCommand) {
  const std::pair<std::string, Emergency> cases[] = {
      {"M112", Emergency::kM112},
      {"m112", Emergency::kM112},
      {"  M 0112  ", Emergency::kM112},
      {"N5 M112*23", Emergency::kM112},  // even with a wrong checksum
      {"M112;stop", Emergency::kM112},
      {"M112(stop)", Emergency::kM112},
      {"M108", Emergency::kM108},
      {"M410", Emergency::kM410},
      {"M108\nM410", Emergency::kM410},
      {"M410\r\nM108\rM112", Emergency::kM112},
      {"M997\nM112", Emergency::kM112},  // a denied batch still stops
      {"G28\nM117 \xff\nM108", Emergency::kM108},
      {"", Emergency::kNone},
      {"M11", Emergency::kNone},
      {"M1120", Emergency::kNone},
      {"M112.5", Emergency::kNone},
      {"M4100", Emergency::kNone},
      {"G1 M112", Emergency::kNone},    // M112 is a parameter here
      {"M117 M112", Emergency::kNone},  // and text here
      {"; M112", Emergency::kNone},
  };
  for (const auto& [text, want] : cases) {
    EXPECT_EQ(FindEmergency(text), want) << text;
    EXPECT_EQ(IsEmergency(text), want != Emergency::kNone) << text;
  }
}

TEST(EmergencyTest, CanonicalCommands) {
  EXPECT_EQ(EmergencyCommand(Emergency::kM112), "M112");
  EXPECT_EQ(EmergencyCommand(Emergency::kM108), "M108");
  EXPECT_EQ(EmergencyCommand(Emergency::kM410), "M410");
  EXPECT_EQ(EmergencyCommand(Emergency::kNone), "");
}

}  // namespace
}  // namespace bowden::gcode
