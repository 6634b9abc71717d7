#include "config/changed_fields.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/config.pb.h"

namespace bowden::config {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(ChangedFieldsTest, EqualConfigsChangeNothing) {
  bowden::v1::AgentConfig config;
  config.set_relay("relay.farm.example:7443");
  config.add_target("octoprint=127.0.0.1:5000");
  EXPECT_THAT(ChangedFields(config, config), IsEmpty());
}

TEST(ChangedFieldsTest, NamesEachChangedFieldInDeclarationOrder) {
  bowden::v1::AgentConfig before;
  before.set_relay("relay.farm.example:7443");
  before.add_target("octoprint=127.0.0.1:5000");
  bowden::v1::AgentConfig after = before;
  after.add_target("webcam=127.0.0.1:8080");
  after.set_allow_plugin_install(true);
  EXPECT_THAT(ChangedFields(before, after),
              ElementsAre("target", "allow_plugin_install"));
}

TEST(ChangedFieldsTest, AReorderedListIsAChange) {
  bowden::v1::AgentConfig before;
  before.add_target("a=127.0.0.1:1");
  before.add_target("b=127.0.0.1:2");
  bowden::v1::AgentConfig after;
  after.add_target("b=127.0.0.1:2");
  after.add_target("a=127.0.0.1:1");
  EXPECT_THAT(ChangedFields(before, after), ElementsAre("target"));
}

}  // namespace
}  // namespace bowden::config
