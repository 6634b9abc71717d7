#include "audit/redact.h"

#include "gtest/gtest.h"

namespace bowden::audit {
namespace {

TEST(RedactTest, ApiKeyHeaderInARealRequest) {
  EXPECT_EQ(RedactSecrets("GET /api/job HTTP/1.1\r\n"
                          "Host: 127.0.0.1:5000\r\n"
                          "X-Api-Key: 0123456789ABCDEF0123456789ABCDEF\r\n"
                          "Accept: application/json\r\n\r\n"),
            "GET /api/job HTTP/1.1\r\n"
            "Host: 127.0.0.1:5000\r\n"
            "X-Api-Key: [redacted]\r\n"
            "Accept: application/json\r\n\r\n");
}

TEST(RedactTest, BrowserSessionCookiesAndCsrfKeepTheirNames) {
  EXPECT_EQ(
      RedactSecrets(
          "POST /api/printer/command HTTP/1.1\r\n"
          "Host: printer.example:8443\r\n"
          "Cookie: session_P8443=.eJwlzj0OwjAM; csrf_token_P8443=IjBhYzE5; "
          "remember_token_P8443_R|p1=alice|9f86d08\r\n"
          "X-CSRF-Token: IjBhYzE5ZjE0\r\n"
          "Content-Type: application/json\r\n\r\n"
          "{\"commands\":[\"G28\",\"M104 S200\"]}"),
      "POST /api/printer/command HTTP/1.1\r\n"
      "Host: printer.example:8443\r\n"
      "Cookie: session_P8443=[redacted]; csrf_token_P8443=[redacted]; "
      "remember_token_P8443_R|p1=[redacted]\r\n"
      "X-CSRF-Token: [redacted]\r\n"
      "Content-Type: application/json\r\n\r\n"
      "{\"commands\":[\"G28\",\"M104 S200\"]}");
}

TEST(RedactTest, LoginBodiesJsonAndForm) {
  EXPECT_EQ(RedactSecrets("POST /api/login HTTP/1.1\r\n\r\n"
                          "{\"user\":\"alice\",\"pass\":\"hunter2\","
                          "\"remember\":true}"),
            "POST /api/login HTTP/1.1\r\n\r\n"
            "{\"user\":\"alice\",\"pass\":\"[redacted]\",\"remember\":true}");
  EXPECT_EQ(RedactSecrets("POST /api/login HTTP/1.1\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\n"
                          "\r\nuser=alice&pass=hunter2&remember=true"),
            "POST /api/login HTTP/1.1\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            "\r\nuser=alice&pass=[redacted]&remember=true");
  // Passive login carries no secret; its reply carries two.
  EXPECT_EQ(RedactSecrets("{\"passive\": true}"), "{\"passive\": true}");
  EXPECT_EQ(RedactJson("{\"name\": \"alice\", \"session\": \"abc123\", "
                       "\"apikey\": \"K3Y\", \"active\": true}"),
            "{\"name\": \"alice\", \"session\": \"[redacted]\", "
            "\"apikey\": \"[redacted]\", \"active\": true}");
}

TEST(RedactTest, PasswordChangeAndUserCreation) {
  EXPECT_EQ(
      RedactJson("{\n  \"password\" :\n  \"n3w\",\n  \"current\": \"0ld\"\n}"),
      "{\n  \"password\" :\n  \"[redacted]\",\n  \"current\": "
      "\"[redacted]\"\n}");
  EXPECT_EQ(RedactJson("{\"name\":\"bob\",\"password\":\"pw\",\"active\":true,"
                       "\"groups\":[\"users\"]}"),
            "{\"name\":\"bob\",\"password\":\"[redacted]\",\"active\":true,"
            "\"groups\":[\"users\"]}");
  EXPECT_EQ(
      RedactJson(
          "{\"api\": {\"key\": \"GLOBALKEY\", \"allowCrossOrigin\": false}}"),
      "{\"api\": {\"key\": \"[redacted]\", \"allowCrossOrigin\": false}}");
}

TEST(RedactTest, JsonEdgeCases) {
  // Escaped quotes and backslashes inside the secret.
  EXPECT_EQ(RedactJson(R"({"password": "a\"b\\", "x": 1})"),
            R"({"password": "[redacted]", "x": 1})");
  // Cut off mid-value: the rest is treated as secret.
  EXPECT_EQ(RedactJson(R"({"pass": "abc)"), R"({"pass": "[redacted])");
  // Key names are matched case-insensitively; non-string values stay.
  EXPECT_EQ(RedactJson(R"({"PassWord":"x","current":12,"password":null})"),
            R"({"PassWord":"[redacted]","current":12,"password":null})");
  // A secret word as a value is not a key.
  EXPECT_EQ(RedactJson(R"({"label": "password", "v": "pass"})"),
            R"({"label": "password", "v": "pass"})");
}

TEST(RedactTest, ApiKeyQueryParameters) {
  EXPECT_EQ(RedactQuery("/api/files?apikey=S3CR3T&recursive=true"),
            "/api/files?apikey=[redacted]&recursive=true");
  EXPECT_EQ(
      RedactSecrets("GET /downloads/files/local/benchy.gcode?APIKEY=S3CR3T "
                    "HTTP/1.1\r\nReferer: http://p/?x=1&api_key=K2\r\n"),
      "GET /downloads/files/local/benchy.gcode?APIKEY=[redacted] "
      "HTTP/1.1\r\nReferer: http://p/?x=1&api_key=[redacted]\r\n");
  // A URL inside JSON keeps its closing quote.
  EXPECT_EQ(RedactSecrets(R"({"url":"http://cam/?apikey=abc"})"),
            R"({"url":"http://cam/?apikey=[redacted]"})");
  // Names that merely end in a secret word are left alone.
  EXPECT_EQ(RedactQuery("/x?bypass=1&compass=2&passive=true"),
            "/x?bypass=1&compass=2&passive=true");
}

TEST(RedactTest, HeaderValues) {
  EXPECT_EQ(RedactHeaderValue("Authorization", "Bearer 0123456789ABCDEF"),
            "Bearer [redacted]");
  EXPECT_EQ(RedactHeaderValue("authorization", "Basic YWxpY2U6aHVudGVyMg=="),
            "Basic [redacted]");
  EXPECT_EQ(RedactHeaderValue("Authorization", "opaque"), "[redacted]");
  EXPECT_EQ(
      RedactHeaderValue("Set-Cookie",
                        "session_P5000=abc; Path=/; HttpOnly; SameSite=Lax"),
      "session_P5000=[redacted]; Path=/; HttpOnly; SameSite=Lax");
  EXPECT_EQ(RedactHeaderValue("X_API_KEY", "K"), "[redacted]");
  EXPECT_EQ(RedactHeaderValue("x-csrf-token", "T"), "[redacted]");
  EXPECT_EQ(RedactHeaderValue("User-Agent", "curl/7.88.1"), "curl/7.88.1");
  EXPECT_TRUE(IsSecretHeader(" Proxy-Authorization "));
  EXPECT_FALSE(IsSecretHeader("X-Api-Version"));
  // Header spelled with underscores in a raw request, OWS preserved.
  EXPECT_EQ(RedactSecrets("x_api_key:\tK\r\nX-Real-IP: 10.0.0.1"),
            "x_api_key:\t[redacted]\r\nX-Real-IP: 10.0.0.1");
}

TEST(RedactTest, GcodeAndOrdinaryTextPassUnchanged) {
  const char* text =
      "POST /api/printer/command HTTP/1.1\r\nContent-Length: 31\r\n\r\n"
      "{\"command\": \"M104 S215 ; pass\"}";
  EXPECT_EQ(RedactSecrets(text), text);
}

TEST(RedactTest, EscapeInvalidUtf8) {
  EXPECT_EQ(EscapeInvalidUtf8("plain ascii"), "plain ascii");
  EXPECT_EQ(EscapeInvalidUtf8("215 \xC2\xB0"
                              "C \xE2\x9C\x93 \xF0\x9F\x99\x82"),
            "215 \xC2\xB0"
            "C \xE2\x9C\x93 \xF0\x9F\x99\x82");
  EXPECT_EQ(EscapeInvalidUtf8("a\xFF"
                              "b"),
            "a\\xff"
            "b");
  EXPECT_EQ(EscapeInvalidUtf8("\xC0\xAF"), "\\xc0\\xaf");           // overlong
  EXPECT_EQ(EscapeInvalidUtf8("\xED\xA0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(EscapeInvalidUtf8("\xE2\x82"), "\\xe2\\x82");           // cut short
  EXPECT_EQ(EscapeInvalidUtf8("\xF4\x90\x80\x80"),  // > U+10FFFF
            "\\xf4\\x90\\x80\\x80");
  EXPECT_EQ(EscapeInvalidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
}

}  // namespace
}  // namespace bowden::audit
