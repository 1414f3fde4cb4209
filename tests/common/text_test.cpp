#include <gtest/gtest.h>

#include "common/text.hpp"

namespace {

using provhil::is_valid_utf8;
using provhil::json_escape;
using provhil::safe_file_name;
using provhil::sanitize_text;

TEST(SanitizeText, KeepsPrintableTextTabsAndLineEnds) {
  EXPECT_EQ(sanitize_text("[123] INIT => WAIT_CONFIG\r\n\tx"), "[123] INIT => WAIT_CONFIG\r\n\tx");
}

TEST(SanitizeText, KeepsValidUtf8) {
  std::string token_line = " Token:     Rps1 - \xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2\xE2\x80\xA2";
  EXPECT_EQ(sanitize_text(token_line), token_line);
}

TEST(SanitizeText, MakesControlsAndBadBytesVisible) {
  EXPECT_EQ(sanitize_text("\x1B[32mok\x1B[0m"), "\\x1B[32mok\\x1B[0m");
  EXPECT_EQ(sanitize_text(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(sanitize_text("\x7F"), "\\x7F");
  EXPECT_EQ(sanitize_text("\xFF\xFE"), "\\xFF\\xFE");
  EXPECT_EQ(sanitize_text("\xC0\xAF"), "\\xC0\\xAF");           // overlong '/'
  EXPECT_EQ(sanitize_text("\xED\xA0\x80"), "\\xED\\xA0\\x80");  // surrogate
  EXPECT_EQ(sanitize_text("\xE2\x80"), "\\xE2\\x80");           // truncated
}

TEST(SanitizeText, OutputIsAlwaysValidUtf8) {
  std::string garbage;
  for (int i = 0; i < 256; ++i)
    garbage += static_cast<char>(i);
  EXPECT_FALSE(is_valid_utf8(garbage));
  EXPECT_TRUE(is_valid_utf8(sanitize_text(garbage)));
}

TEST(SafeFileName, KeepsReadableNamesAndNeutralisesTheRest) {
  EXPECT_EQ(safe_file_name("esp32-1_a.b+c@d"), "esp32-1_a.b+c@d");
  EXPECT_TRUE(safe_file_name("a/b c\\d").starts_with("a_b_c_d~")) << safe_file_name("a/b c\\d");
  EXPECT_NE(safe_file_name("x/y"), safe_file_name("x_y"));
  EXPECT_EQ(safe_file_name("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_TRUE(safe_file_name("").starts_with("_~"));
  EXPECT_TRUE(safe_file_name(".").starts_with("_.~"));
  EXPECT_TRUE(safe_file_name("..").starts_with("_..~"));
}

TEST(JsonEscape, EscapesAsBoostJsonWrites) {
  EXPECT_EQ(json_escape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(json_escape("l1\nl2\t"), "l1\\nl2\\t");
  EXPECT_EQ(json_escape(std::string("\x01", 1)), "\\u0001");
  EXPECT_EQ(json_escape("plain"), "plain");
}

}  // namespace
