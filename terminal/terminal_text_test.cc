#include "terminal/terminal_text.h"

#include "gtest/gtest.h"

namespace bowden::terminal {
namespace {

TEST(EscapeForTerminalTest, ControlCharactersAndEscapesAreShownNotObeyed) {
  EXPECT_EQ(EscapeForTerminal("GET /\x1b[2J\x1b]0;pwned\x07 x"),
            "GET /\\x1b[2J\\x1b]0;pwned\\x07 x");
  EXPECT_EQ(EscapeForTerminal("a\r\nb\tc\x7f"), "a\\x0d\\x0ab\\x09c\\x7f");
  EXPECT_EQ(EscapeForTerminal(std::string("nul\0end", 7)), "nul\\x00end");
  // CSI as a UTF-8 C1 control, and as a raw 8-bit byte.
  EXPECT_EQ(EscapeForTerminal("\xc2\x9b"
                              "31m"),
            "\\xc2\\x9b31m");
  EXPECT_EQ(EscapeForTerminal("\x9b"
                              "31m"),
            "\\x9b31m");
  // A right-to-left override that would make "txt.exe" read "exe.txt".
  EXPECT_EQ(EscapeForTerminal("a\xe2\x80\xae"
                              "b"),
            "a\\u{202e}b");
}

TEST(EscapeForTerminalTest, OrdinaryTextIsKept) {
  for (const char* text :
       {"/api/files/local", "cube.gcode", "Überhang 3D-Drucker ✓", "Tiskárna ř",
        "\\xff already escaped by the log", ""}) {
    EXPECT_EQ(EscapeForTerminal(text), text);
  }
}

TEST(EscapeJsonForTerminalTest, LeavesValidJsonWithoutRawControls) {
  EXPECT_EQ(EscapeJsonForTerminal("{\"d\":\"x\x7f\xc2\x9by\xe2\x81\xa6\"}"),
            "{\"d\":\"x\\u007f\\u009by\\u2066\"}");
  EXPECT_EQ(EscapeJsonForTerminal("{\"d\":\"caf\xc3\xa9\"}"),
            "{\"d\":\"caf\xc3\xa9\"}");
}

TEST(QuoteJsonTest, QuotesEscapesAndKeepsTheTextValidUtf8) {
  EXPECT_EQ(QuoteJson("prusa-01"), "\"prusa-01\"");
  EXPECT_EQ(QuoteJson("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(QuoteJson("x\x1b[2Jy\n"), "\"x\\u001b[2Jy\\u000a\"");
  EXPECT_EQ(QuoteJson("\xe2\x80\xae"
                      "evil"),
            "\"\\u202eevil\"");
  EXPECT_EQ(QuoteJson("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  // Not UTF-8: each byte as the Latin-1 character, so the output still is.
  EXPECT_EQ(QuoteJson("\xff\x9b"), "\"\\u00ff\\u009b\"");
}

}  // namespace
}  // namespace bowden::terminal
