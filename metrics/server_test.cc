#include "metrics/server.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace bowden::metrics {
namespace {

TEST(ParseListenTest, TakesHostPortAndRejectsTheRest) {
  EXPECT_TRUE(ParseListen("127.0.0.1:9470").ok());
  EXPECT_TRUE(ParseListen("[::1]:0").ok());
  for (const char* bad : {"", "9470", "127.0.0.1", "127.0.0.1:x",
                          "127.0.0.1:70000", ":9470", "[]:1", "[::1:1"}) {
    absl::StatusOr<std::string> parsed = ParseListen(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ServerTest, APortAlreadyTakenIsAnErrorNotACrash) {
  auto registry = std::make_shared<Registry>();
  absl::StatusOr<std::unique_ptr<Server>> first =
      Server::Start("127.0.0.1:0", registry);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_NE((*first)->port(), 0);
  absl::StatusOr<std::unique_ptr<Server>> second =
      Server::Start(absl::StrCat("127.0.0.1:", (*first)->port()), registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable)
      << second.status();
  EXPECT_EQ(ServeOrWarn("test", absl::StrCat("127.0.0.1:", (*first)->port()),
                        registry),
            nullptr);
}

TEST(ServerTest, OffServesNothing) {
  EXPECT_EQ(ServeOrWarn("test", "off", std::make_shared<Registry>()), nullptr);
}

}  // namespace
}  // namespace bowden::metrics
