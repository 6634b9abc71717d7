#include "guard/canonical_path.h"

#include <string>

#include "gtest/gtest.h"

namespace bowden::guard {
namespace {

struct Good {
  const char* target;
  const char* path;
  const char* query;
};

TEST(CanonicalizeTest, AcceptedTargets) {
  const Good kCases[] = {
      {"/", "/", ""},
      {"/api/files?recursive=true", "/api/files", "recursive=true"},
      {"/api/printer?history=true&limit=2", "/api/printer",
       "history=true&limit=2"},
      {"/api/job?", "/api/job", ""},
      // The query is kept raw: only the path is decoded.
      {"/?action=stream&x=%2F%41", "/", "action=stream&x=%2F%41"},
      {"/a?b?c", "/a", "b?c"},
      // Absolute-form: scheme and authority dropped.
      {"http://printer.local/api/version", "/api/version", ""},
      {"HTTPS://user@printer:5000/api/job?x=1", "/api/job", "x=1"},
      {"http://printer.local", "/", ""},
      {"http://printer.local?action=snapshot", "/", "action=snapshot"},
      {"http://printer.local\\api\\job", "/api/job", ""},
      // Percent-decoding, any hex case, %2F and %5C as separators.
      {"/api/%70rinter/command", "/api/printer/command", ""},
      {"/api/printer%2Fcommand", "/api/printer/command", ""},
      {"/api/printer%2fcommand", "/api/printer/command", ""},
      {"/api/printer%5Ccommand", "/api/printer/command", ""},
      {"/api/printer%5ccommand", "/api/printer/command", ""},
      {"/%41%42%43", "/ABC", ""},
      {"/api/files/local/My%20Print.gcode", "/api/files/local/My Print.gcode",
       ""},
      {"/api/files/local/100%25.gcode", "/api/files/local/100%.gcode", ""},
      {"/api/files/local/a%3Fb", "/api/files/local/a?b", ""},
      // Backslashes, duplicate slashes, dot segments.
      {"\\api\\printer\\command", "/api/printer/command", ""},
      {"//api/printer/command", "/api/printer/command", ""},
      {"/api//printer///command", "/api/printer/command", ""},
      {"/api/./printer/./command", "/api/printer/command", ""},
      {"/static/../api/system/commands", "/api/system/commands", ""},
      {"/api/files/../printer/command", "/api/printer/command", ""},
      {"/api/files/%2e%2e/printer/command", "/api/printer/command", ""},
      {"/api/files/%2E%2E%2Fprinter%2Fcommand", "/api/printer/command", ""},
      {"/api/files/.%2e/printer/command", "/api/printer/command", ""},
      {"/api/files/..%5Cprinter/command", "/api/printer/command", ""},
      {"/a/b/..", "/a/", ""},
      {"/a/..", "/", ""},
      {"/a/.", "/a/", ""},
      {"/.", "/", ""},
      {"/a/b/../../c", "/c", ""},
      // Trailing slashes and dots are kept: they name other resources.
      {"/api/printer/command/", "/api/printer/command/", ""},
      {"/api/printer/command.", "/api/printer/command.", ""},
      {"/api/printer/command...", "/api/printer/command...", ""},
      {"/a/...", "/a/...", ""},
      {"/api/printer/command;x", "/api/printer/command;x", ""},
      // Case is kept: OctoPrint's routes are case-sensitive.
      {"/API/printer/command", "/API/printer/command", ""},
      // Well-formed UTF-8 (percent-encoded) is allowed.
      {"/api/files/local/W%C3%BCrfel.gcode",
       "/api/files/local/W\xC3\xBCrfel.gcode", ""},
      {"/%F0%9F%96%A8", "/\xF0\x9F\x96\xA8", ""},
  };
  for (const Good& c : kCases) {
    absl::StatusOr<CanonicalTarget> got = Canonicalize(c.target);
    ASSERT_TRUE(got.ok()) << c.target << ": " << got.status();
    EXPECT_EQ(got->path, c.path) << c.target;
    EXPECT_EQ(got->query, c.query) << c.target;
    // The forwarded form means the same thing to the guard.
    absl::StatusOr<CanonicalTarget> again = Canonicalize(OriginForm(*got));
    ASSERT_TRUE(again.ok()) << OriginForm(*got) << ": " << again.status();
    EXPECT_EQ(*again, *got) << OriginForm(*got);
  }
}

struct Bad {
  std::string target;
  const char* message_part;
};

TEST(CanonicalizeTest, RefusedTargets) {
  const Bad kCases[] = {
      {"", "empty"},
      {"*", "asterisk-form"},
      {"api/version", "origin-form"},
      {"printer.local:443", "origin-form"},
      {"ftp://printer/api/version", "origin-form"},
      {"http:///api/version", "without a host"},
      {"http://", "without a host"},
      // Fragments are not part of a request-target.
      {"/api/version#frag", "fragment"},
      {"/api/version#/../../api/printer/command", "fragment"},
      // ".." above the root is an attack, not something to clamp.
      {"/..", "above the root"},
      {"/../api/printer/command", "above the root"},
      {"/api/../../etc/passwd", "above the root"},
      {"/%2e%2e/api/printer/command", "above the root"},
      {"/api/%2E%2E%2F%2E%2E%2Fetc", "above the root"},
      // Invalid escapes.
      {"/api/%", "invalid percent escape"},
      {"/api/%2", "invalid percent escape"},
      {"/api/%zz", "invalid percent escape"},
      {"/api/%%32%46", "invalid percent escape"},
      {"/api?x=%g1", "invalid percent escape"},
      {"/api?x=%", "invalid percent escape"},
      // Double encoding.
      {"/api/printer%252Fcommand", "double percent-encoding"},
      {"/api/files/%252e%252e/printer/command", "double percent-encoding"},
      {"/%2541", "double percent-encoding"},
      {"/%25%34%31", "double percent-encoding"},
      // Control characters, raw and encoded; spaces; raw non-ASCII.
      {std::string("/api\0/x", 7), "control character"},
      {"/api/%00", "control character"},
      {"/api/%0a", "control character"},
      {"/api/%0D%0AX-Injected:%201", "control character"},
      {"/api/%7F", "control character"},
      {"/api/ x", "control character"},
      {"/api/\tx", "control character"},
      {"/api/x?a=\x01", "control character"},
      {"/api/\xC3\xBC", "non-ASCII"},
      // Malformed UTF-8: overlong '/' and '.', surrogates, stray bytes,
      // C1 controls.
      {"/api%C0%AFprinter", "UTF-8"},
      {"/api/%C0%AE%C0%AE/x", "UTF-8"},
      {"/api/%E0%80%AF", "UTF-8"},
      {"/api/%ED%A0%80", "UTF-8"},
      {"/api/%80", "UTF-8"},
      {"/api/%C3", "UTF-8"},
      {"/api/%F4%90%80%80", "UTF-8"},
      {"/api/%C2%85", "UTF-8"},
      {"/api/%FF", "UTF-8"},
      // Too long.
      {"/" + std::string(kMaxRequestTargetBytes, 'a'), "limit"},
  };
  for (const Bad& c : kCases) {
    absl::StatusOr<CanonicalTarget> got = Canonicalize(c.target);
    ASSERT_FALSE(got.ok()) << c.target << " gave " << got->path;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find(c.message_part), std::string::npos)
        << c.target << ": " << got.status();
  }
}

TEST(CanonicalizeTest, LengthLimitIsInclusive) {
  std::string target = "/" + std::string(kMaxRequestTargetBytes - 1, 'a');
  EXPECT_TRUE(Canonicalize(target).ok());
  EXPECT_FALSE(Canonicalize(target + "a").ok());
}

TEST(CanonicalizeTest, OriginFormEncodesWhatWouldChangeMeaning) {
  CanonicalTarget target{"/files/a b?c#d%e\\f\"g\xC3\xBC;h:i@j", "x=1"};
  EXPECT_EQ(OriginForm(target),
            "/files/a%20b%3Fc%23d%25e%5Cf%22g%C3%BC;h:i@j?x=1");
  EXPECT_EQ(OriginForm(CanonicalTarget{"/api/job", ""}), "/api/job");
}

TEST(CanonicalizeTest, IdempotentOnPlainPaths) {
  for (const char* target :
       {"/api/files/local/x.gcode", "/a/", "/", "/API/printer/command;x"}) {
    absl::StatusOr<CanonicalTarget> once = Canonicalize(target);
    ASSERT_TRUE(once.ok());
    absl::StatusOr<CanonicalTarget> twice = Canonicalize(once->path);
    ASSERT_TRUE(twice.ok());
    EXPECT_EQ(twice->path, once->path);
  }
}

TEST(CanonicalizeHeaderNameTest, FoldsCaseAndUnderscores) {
  EXPECT_EQ(CanonicalizeHeaderName("X_Script_Name"), "x-script-name");
  EXPECT_EQ(CanonicalizeHeaderName("X-Script-Name"), "x-script-name");
  EXPECT_EQ(CanonicalizeHeaderName("REMOTE_USER"), "remote-user");
  EXPECT_EQ(CanonicalizeHeaderName("Remote-User"), "remote-user");
  EXPECT_EQ(CanonicalizeHeaderName("x-forwarded_FOR"), "x-forwarded-for");
  EXPECT_EQ(CanonicalizeHeaderName(""), "");
}

}  // namespace
}  // namespace bowden::guard
