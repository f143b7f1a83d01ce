// Text from a hostile domain, made safe for the user's terminal: nothing in the output acts on the terminal or
// reorders the screen, nothing starts a line of its own, the output is valid UTF-8 and bounded.
#include "common/sanitize.h"

#include <gtest/gtest.h>

#include <string>

namespace side {
namespace {

constexpr size_t kBig = 4096;

// True if `s` holds no byte a terminal acts on: no C0 control, DEL, or C1 (raw or UTF-8 encoded), and no bidi
// control, and it is well-formed UTF-8 (checked by sanitizing it again: clean text is a fixed point).
bool terminal_safe(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return false;
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f) return false;
  }
  return s.find("\xe2\x80\xae") == std::string::npos && s.find("\xe2\x81\xa6") == std::string::npos;
}

TEST(Sanitize, PrintableTextAndUtf8AreKept) {
  EXPECT_EQ(sanitize_text("e1000 0000:00:03.0: eth0: NIC Link is Up 1000 Mbps", kBig),
            "e1000 0000:00:03.0: eth0: NIC Link is Up 1000 Mbps");
  EXPECT_EQ(sanitize_text("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", kBig),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(Sanitize, CsiAndOscSequencesAreEscaped) {
  const std::string csi = sanitize_text("\x1b[2J\x1b[1;1Hred \x1b[31mtext", kBig);
  EXPECT_EQ(csi, "\\x1b[2J\\x1b[1;1Hred \\x1b[31mtext");
  const std::string osc = sanitize_text("\x1b]0;owned title\x07 after", kBig);
  EXPECT_EQ(osc, "\\x1b]0;owned title\\x07 after");
  EXPECT_TRUE(terminal_safe(csi) && terminal_safe(osc));
}

TEST(Sanitize, EightBitAndUtf8EncodedC1ControlsAreEscaped) {
  // Raw 8-bit CSI (0x9b) is not UTF-8; U+009B encoded in UTF-8 (c2 9b) is, and some terminals act on it.
  EXPECT_EQ(sanitize_text("a\x9b"
                          "31mb",
                          kBig),
            "a\\x9b31mb");
  EXPECT_EQ(sanitize_text("a\xc2\x9b"
                          "31mb",
                          kBig),
            "a\\u009b31mb");
  EXPECT_EQ(sanitize_text("\xc2\x9d"
                          "0;t\xc2\x9c",
                          kBig),
            "\\u009d0;t\\u009c");                                 // OSC ... ST
  EXPECT_EQ(sanitize_text("\xc2\x85next", kBig), "\\u0085next");  // NEL
  EXPECT_EQ(sanitize_text("\xc2\xa0", kBig), "\xc2\xa0");         // U+00A0 is printable
}

TEST(Sanitize, BidiOverridesAndIsolatesAreEscaped) {
  for (char32_t cp : {0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069}) {
    std::string utf8 = {static_cast<char>(0xe0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3f)),
                        static_cast<char>(0x80 | (cp & 0x3f))};
    char expected[16];
    std::snprintf(expected, sizeof expected, "x\\u%04xy", static_cast<unsigned>(cp));
    EXPECT_EQ(sanitize_text("x" + utf8 + "y", kBig), expected);
  }
  EXPECT_EQ(sanitize_text("\xe2\x80\xa8", kBig), "\\u2028");  // line separator
}

TEST(Sanitize, NewlinesAndCarriageReturnsCannotStartAForgedLine) {
  const std::string s = sanitize_text("link up\nside: supervisor compromised\r\x1b[Kside: all good", kBig);
  EXPECT_EQ(s, "link up\\x0aside: supervisor compromised\\x0d\\x1b[Kside: all good");
  EXPECT_EQ(s.find('\n'), std::string::npos);
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_EQ(sanitize_text("a\tb", kBig), "a b");
  EXPECT_EQ(sanitize_text(std::string("a\0b", 3), kBig), "a\\x00b");
}

TEST(Sanitize, InvalidUtf8IsEscapedByteByByte) {
  EXPECT_EQ(sanitize_text("\xc0\xaf", kBig), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(sanitize_text("\xe0\x80\x80", kBig), "\\xe0\\x80\\x80");           // overlong NUL
  EXPECT_EQ(sanitize_text("\xed\xa0\x80", kBig), "\\xed\\xa0\\x80");           // surrogate
  EXPECT_EQ(sanitize_text("\xf4\x90\x80\x80", kBig), "\\xf4\\x90\\x80\\x80");  // beyond U+10FFFF
  EXPECT_EQ(sanitize_text("ab\xe2\x82", kBig), "ab\\xe2\\x82");                // truncated
  EXPECT_EQ(sanitize_text("\xff\xfe", kBig), "\\xff\\xfe");
}

TEST(Sanitize, BackslashesAreEscapedSoEveryEscapeIsTheSanitizers) {
  EXPECT_EQ(sanitize_text("\\x1b", kBig), "\\\\x1b");
}

TEST(Sanitize, OutputIsBoundedAndCutOnACharacterBoundary) {
  const std::string flood(1 << 20, '\x1b');  // each byte becomes 4
  const std::string s = sanitize_text(flood, 100);
  EXPECT_LE(s.size(), 100u);
  EXPECT_EQ(s.substr(s.size() - 3), "...");
  EXPECT_EQ(s.substr(0, 8), "\\x1b\\x1b");
  EXPECT_EQ((s.size() - 3) % 4, 0u);  // no escape cut in half
  const std::string euro = sanitize_text("\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac", 8);
  EXPECT_EQ(euro, "\xe2\x82\xac...");
  EXPECT_EQ(sanitize_text("exactly10!", 10), "exactly10!");
}

TEST(Sanitize, FieldsAreSanitizedInPlaceAndStayTerminated) {
  char name[16] = {'e', 't', 'h', '\x1b', '[', '2', 'J', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};  // no NUL
  sanitize_field(name, sizeof name);
  EXPECT_EQ(name[15], '\0');
  EXPECT_TRUE(terminal_safe(name));
  EXPECT_EQ(std::string(name).substr(0, 7), "eth\\x1b");
}

}  // namespace
}  // namespace side
