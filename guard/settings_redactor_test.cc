#include "guard/settings_redactor.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace bowden::guard {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;
using google::protobuf::util::MessageDifferencer;
using ::testing::UnorderedElementsAre;

// Shaped like OctoPrint 1.10.3's GET /api/settings for an OctoPrint admin
// (shortened), with secrets of bundled and third-party plugins.
constexpr char kSettings[] = R"json({
  "api": {"key": "5E2A9B0C3D4F4A1B8C7D6E5F4A3B2C1D", "allowCrossOrigin": false},
  "appearance": {"name": "Prusa", "color": "default", "showFahrenheitAlso": false},
  "feature": {"keyboardControl": true, "sdSupport": true, "temperatureGraph": true,
              "autoUppercaseBlacklist": ["M117", "M118"]},
  "serial": {"port": "VIRTUAL", "baudrate": 115200, "timeoutConnection": 2.0,
             "timeoutTemperatureAutoreport": 0.1, "ackMax": 1, "portOptions": ["VIRTUAL"]},
  "temperature": {"profiles": [{"name": "ABS", "extruder": 210, "bed": 100, "chamber": null},
                               {"name": "PLA", "extruder": 180, "bed": 60.5, "chamber": null}],
                  "cutoff": 30},
  "gcodeAnalysis": {"runAt": "idle", "bedZ": 0.0},
  "system": {"actions": [{"action": "notify", "name": "Notify",
                          "command": "curl -H 'Authorization: Bearer abc' https://ntfy.example/x"}],
             "events": null},
  "webcam": {"webcamEnabled": true, "timelapseEnabled": true},
  "plugins": {
    "classicwebcam": {"streamUrl": "/webcam/?action=stream", "snapshot": "http://127.0.0.1:8080/?action=snapshot",
                      "streamRatio": "16:9", "streamTimeout": 5, "flipH": false},
    "softwareupdate": {"credentials": {"github": "ghp_secret", "bitbucket_user": "me",
                                       "bitbucket_password": "pw"},
                       "check_overlay_url": "https://plugins.octoprint.org/update_check_overlay.json"},
    "tracking": {"enabled": true, "unique_id": "b3c1f1e0-0000-4000-8000-000000000000"},
    "telegram": {"token": "123:ABC", "tracking_token": "t", "chats": {"42": {"notify": true}}},
    "octoautoremote": {"autoremotekey": "k"},
    "bambu": {"host": "printer.lan", "access_code": "12345678", "mqtt_port": 8883},
    "discordremote": {"webhook_url": "https://discord.com/api/webhooks/1/x"},
    "meross": {"arrSmartplugs": [{"ip": "10.0.0.7", "label": "plug",
                                  "login": {"user": "me", "password": "hunter2"}}]},
    "eventmanager": {"subscriptions": [{"event": "PrintDone", "command": "notify.sh s3cr3t",
                                        "type": "system", "enabled": true}]},
    "cam": {"url": "http://admin:pw@192.168.1.9/stream"},
    "action_command_prompt": {"command": "M876", "enable": "detected"}
  }
})json";

Struct Parse(const std::string& json) {
  Struct parsed;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &parsed).ok()) << json;
  return parsed;
}

const Value& At(const Struct& root, std::initializer_list<const char*> path) {
  const Struct* object = &root;
  const Value* value = nullptr;
  for (const char* name : path) {
    auto it = object->fields().find(name);
    EXPECT_NE(it, object->fields().end()) << name;
    if (it == object->fields().end()) return Value::default_instance();
    value = &it->second;
    object = &value->struct_value();
  }
  return *value;
}

TEST(SettingsRedactorTest, NullsTheApiKeyAndKeepsTheMember) {
  absl::StatusOr<RedactedSettings> redacted = RedactSettings(kSettings);
  ASSERT_TRUE(redacted.ok()) << redacted.status();
  const Struct out = Parse(redacted->json);
  EXPECT_TRUE(At(out, {"api", "key"}).has_null_value());
  EXPECT_EQ(redacted->json.find("5E2A9B0C"), std::string::npos);
  EXPECT_FALSE(At(out, {"api", "allowCrossOrigin"}).bool_value());
}

TEST(SettingsRedactorTest, NullsPluginSecretsWhereverTheyAre) {
  absl::StatusOr<RedactedSettings> redacted = RedactSettings(kSettings);
  ASSERT_TRUE(redacted.ok()) << redacted.status();
  const Struct out = Parse(redacted->json);
  EXPECT_TRUE(At(out, {"plugins", "softwareupdate", "credentials"}).has_null_value());
  EXPECT_TRUE(At(out, {"plugins", "telegram", "token"}).has_null_value());
  EXPECT_TRUE(At(out, {"plugins", "telegram", "tracking_token"}).has_null_value());
  EXPECT_TRUE(At(out, {"plugins", "telegram", "chats"}).has_null_value());
  EXPECT_TRUE(At(out, {"plugins", "octoautoremote", "autoremotekey"}).has_null_value());
  EXPECT_TRUE(At(out, {"plugins", "bambu", "access_code"}).has_null_value());
  EXPECT_TRUE(At(out, {"plugins", "discordremote", "webhook_url"}).has_null_value());
  EXPECT_TRUE(At(out, {"plugins", "tracking", "unique_id"}).has_null_value());
  EXPECT_TRUE(At(out, {"plugins", "cam", "url"}).has_null_value());
  for (const char* secret : {"ghp_secret", "123:ABC", "12345678", "hunter2", "s3cr3t", "webhooks/1",
                             "Bearer abc", "admin:pw", "b3c1f1e0"}) {
    EXPECT_EQ(redacted->json.find(secret), std::string::npos) << secret;
  }
  EXPECT_THAT(
      redacted->paths,
      UnorderedElementsAre("api.key", "system.actions.0.command",
                           "plugins.softwareupdate.credentials", "plugins.tracking.unique_id",
                           "plugins.telegram.token", "plugins.telegram.tracking_token",
                           "plugins.telegram.chats", "plugins.octoautoremote.autoremotekey",
                           "plugins.bambu.access_code", "plugins.discordremote.webhook_url",
                           "plugins.meross.arrSmartplugs.0.login.password",
                           "plugins.eventmanager.subscriptions.0.command", "plugins.cam.url"));
}

TEST(SettingsRedactorTest, NestedSecretsInArraysAndObjects) {
  absl::StatusOr<RedactedSettings> redacted = RedactSettings(R"({"plugins": {"p": {
      "servers": [[{"name": "a", "api-key": "x"}], {"deep": {"Bot_Token": "y", "n": 1}}],
      "keys": ["k1", "k2"]}}})");
  ASSERT_TRUE(redacted.ok()) << redacted.status();
  EXPECT_THAT(redacted->paths,
              UnorderedElementsAre("plugins.p.servers.0.0.api-key",
                                   "plugins.p.servers.1.deep.Bot_Token", "plugins.p.keys"));
  const Struct out = Parse(redacted->json);
  const Value& servers = At(out, {"plugins", "p", "servers"});
  ASSERT_EQ(servers.list_value().values_size(), 2);
  const Value& first = servers.list_value().values(0).list_value().values(0);
  EXPECT_TRUE(first.struct_value().fields().at("api-key").has_null_value());
  EXPECT_EQ(first.struct_value().fields().at("name").string_value(), "a");
  EXPECT_EQ(At(out, {"plugins", "p", "servers"})
                .list_value()
                .values(1)
                .struct_value()
                .fields()
                .at("deep")
                .struct_value()
                .fields()
                .at("n")
                .number_value(),
            1);
}

// Everything the UI needs to show the printer comes through with the same
// value: the feature flags, the webcam stream, temperature profiles,
// numbers of every kind.
TEST(SettingsRedactorTest, KeepsWhatTheUiNeedsUnchanged) {
  absl::StatusOr<RedactedSettings> redacted = RedactSettings(kSettings);
  ASSERT_TRUE(redacted.ok()) << redacted.status();
  const Struct in = Parse(kSettings);
  const Struct out = Parse(redacted->json);
  for (auto path : std::initializer_list<std::initializer_list<const char*>>{
           {"appearance"},
           {"feature"},
           {"serial"},
           {"temperature"},
           {"gcodeAnalysis"},
           {"webcam"},
           {"plugins", "classicwebcam"},
           {"plugins", "softwareupdate", "check_overlay_url"},
           {"plugins", "bambu", "mqtt_port"},
           {"plugins", "action_command_prompt"},
       }) {
    const Value& before = At(in, path);
    const Value& after = At(out, path);
    EXPECT_TRUE(MessageDifferencer::Equals(before, after))
        << *path.begin() << ": " << before.DebugString() << " vs " << after.DebugString();
  }
  // An event subscription keeps all but its command line.
  const auto& subscription =
      At(out, {"plugins", "eventmanager", "subscriptions"}).list_value().values(0).struct_value();
  EXPECT_EQ(subscription.fields().at("event").string_value(), "PrintDone");
  EXPECT_TRUE(subscription.fields().at("enabled").bool_value());
  EXPECT_EQ(At(out, {"serial", "timeoutTemperatureAutoreport"}).number_value(), 0.1);
  EXPECT_EQ(At(out, {"temperature", "cutoff"}).number_value(), 30);
}

TEST(SettingsRedactorTest, NumbersKeepTheirValue) {
  absl::StatusOr<RedactedSettings> redacted = RedactSettings(
      R"({"a": 115200, "b": 0.1, "c": -0.0, "d": 1e-7, "e": 123456789012, "f": 1.7976931348623157e308,
          "g": 9007199254740993, "h": 5e-324, "i": 2.5})");
  ASSERT_TRUE(redacted.ok()) << redacted.status();
  EXPECT_TRUE(redacted->paths.empty());
  const Struct out = Parse(redacted->json);
  // What a browser's JSON.parse reads: the nearest IEEE double.
  EXPECT_EQ(At(out, {"a"}).number_value(), 115200);
  EXPECT_EQ(At(out, {"b"}).number_value(), 0.1);
  EXPECT_EQ(At(out, {"d"}).number_value(), 1e-7);
  EXPECT_EQ(At(out, {"e"}).number_value(), 123456789012.0);
  EXPECT_EQ(At(out, {"f"}).number_value(), 1.7976931348623157e308);
  EXPECT_EQ(At(out, {"g"}).number_value(), 9007199254740992.0);
  EXPECT_EQ(At(out, {"h"}).number_value(), 5e-324);
  EXPECT_EQ(At(out, {"i"}).number_value(), 2.5);
  EXPECT_NE(redacted->json.find("115200"), std::string::npos) << redacted->json;
}

TEST(SettingsRedactorTest, AlreadyNullIsNotCounted) {
  // What OctoPrint sends a user who is not an OctoPrint admin.
  absl::StatusOr<RedactedSettings> redacted =
      RedactSettings(R"({"api": {"key": null, "allowCrossOrigin": false}})");
  ASSERT_TRUE(redacted.ok()) << redacted.status();
  EXPECT_TRUE(redacted->paths.empty());
  EXPECT_TRUE(At(Parse(redacted->json), {"api", "key"}).has_null_value());
}

TEST(SettingsRedactorTest, RefusesWhatIsNotAJsonObject) {
  for (const char* bad : {"", "[]", "[{\"api\": {\"key\": \"x\"}}]", "\"x\"", "42", "null",
                          "{\"api\": ", "{\"a\": 1} trailing", "<html>500</html>", "{\"a\": NaN}",
                          "\x1f\x8b\x08\x00"}) {
    absl::StatusOr<RedactedSettings> redacted = RedactSettings(bad);
    EXPECT_FALSE(redacted.ok()) << bad;
    EXPECT_EQ(redacted.status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(SettingsRedactorTest, SecretNames) {
  for (const char* name :
       {"key", "apikey", "api_key", "API-Key", "privateKey", "token", "bot_token", "accessTokens",
        "secret", "client_secret", "password", "shelly_password", "passwd", "passphrase",
        "credentials", "access_code", "webhook_url", "Authorization", "cookie"}) {
    EXPECT_TRUE(IsSecretName(name)) << name;
  }
  for (const char* name : {"keyboardControl", "streamUrl", "profiles", "name", "enabled",
                           "tokenExpiry", "snapshot", "host", "port", "command", "keyhole"}) {
    EXPECT_FALSE(IsSecretName(name)) << name;
  }
}

}  // namespace
}  // namespace bowden::guard
