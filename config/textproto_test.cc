#include "config/textproto.h"

#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"
#include "proto/config.pb.h"

namespace bowden::config {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(LoadTextProtoTest, ParsesAGoodFile) {
  std::string path = WriteTemp("good.textproto",
                               "listen: \"127.0.0.1:7000\"\nallow: \"a=b\"\n");
  v1::RelayConfig config;
  ASSERT_TRUE(LoadTextProto(path, &config).ok());
  EXPECT_EQ(config.listen(), "127.0.0.1:7000");
  ASSERT_EQ(config.allow_size(), 1);
}

TEST(LoadTextProtoTest, NamesLineAndColumnAndKeepsTheOldValue) {
  std::string path = WriteTemp("bad.textproto",
                               "listen: \"x:1\"\nlisten_typo: \"y\"\n");
  v1::RelayConfig config;
  config.set_listen("old");
  absl::Status status = LoadTextProto(path, &config);
  ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("bad.textproto:2:"), std::string::npos)
      << status;
  EXPECT_NE(status.message().find("listen_typo"), std::string::npos) << status;
  EXPECT_EQ(config.listen(), "old");
}

TEST(LoadTextProtoTest, HalfWrittenFileIsAnError) {
  std::string path = WriteTemp("half.textproto", "listen: \"127.0.0");
  v1::RelayConfig config;
  EXPECT_EQ(LoadTextProto(path, &config).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(LoadTextProtoTest, MissingFileIsNotFound) {
  v1::RelayConfig config;
  EXPECT_EQ(LoadTextProto("/nonexistent/x.textproto", &config).code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace bowden::config
