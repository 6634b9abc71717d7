#include "cli/output_format.h"

#include "gtest/gtest.h"

namespace bowden::cli {
namespace {

TEST(OutputFormatTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(12u << 20), "12.0 MiB");
  EXPECT_EQ(HumanBytes(UINT64_MAX), "16.0 EiB");
}

TEST(OutputFormatTest, HumanDuration) {
  EXPECT_EQ(HumanDuration(absl::Seconds(45)), "45s");
  EXPECT_EQ(HumanDuration(absl::Seconds(192)), "3m12s");
  EXPECT_EQ(HumanDuration(absl::Minutes(60)), "1h");
  EXPECT_EQ(HumanDuration(absl::Minutes(125) + absl::Seconds(59)), "2h5m");
  EXPECT_EQ(HumanDuration(absl::Hours(76)), "3d4h");
  EXPECT_EQ(HumanDuration(-absl::Seconds(3)), "0s");
}

TEST(OutputFormatTest, JsonObjectWritesOneEscapedObject) {
  JsonObject object;
  object.String("id", "a\"\x1b")
      .Int("bytes", 5)
      .Bool("online", false)
      .UnixTime("last_seen", 0)
      .UnixTime("expires", 1796610300)
      .Strings("targets", {"octoprint", "webcam"});
  EXPECT_EQ(object.Json(),
            "{\"id\":\"a\\\"\\u001b\",\"bytes\":5,\"online\":false,\"last_"
            "seen\":null,"
            "\"expires\":\"2026-12-07T02:25:00Z\",\"targets\":[\"octoprint\","
            "\"webcam\"]}");
  EXPECT_EQ(JsonArray({}), "[]");
}

}  // namespace
}  // namespace bowden::cli
