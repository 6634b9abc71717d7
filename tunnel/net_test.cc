#include "tunnel/net.h"

#include "gtest/gtest.h"

namespace bowden::tunnel {
namespace {

TEST(ParseHostPortTest, AcceptsNamesV4AndBracketedV6) {
  auto a = ParseHostPort("127.0.0.1:5000");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 5000);
  auto b = ParseHostPort("[::1]:0");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->ToString(), "[::1]:0");
  auto c = ParseHostPort("relay.farm.example:8443");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host, "relay.farm.example");
}

TEST(ParseHostPortTest, RejectsWithTheOffendingText) {
  for (const char* bad : {"", "5000", ":5000", "host:", "host:65536",
                          "host:-1", "::1:5000", "[::1:5000", "host:12ab",
                          "[[x]:80", "ho st:1", "a/b:1", "user@host:1"}) {
    auto parsed = ParseHostPort(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_NE(parsed.status().message().find(std::string("'") + bad + "'"),
              std::string::npos)
        << parsed.status();
  }
}

TEST(ListenTcpTest, PicksAnEphemeralPort) {
  auto fd = ListenTcp({"127.0.0.1", 0});
  ASSERT_TRUE(fd.ok()) << fd.status();
  auto port = LocalPort(fd->get());
  ASSERT_TRUE(port.ok());
  EXPECT_GT(*port, 0);
}

}  // namespace
}  // namespace bowden::tunnel
