#include "base/hex.hpp"

#include <gtest/gtest.h>

namespace strop {
namespace {

TEST(Hex, EncodesLowerCaseByDefault) {
  EXPECT_EQ(hex_encode(std::string_view("\x01\xab\xff", 3)), "01abff");
  EXPECT_EQ(hex_encode(std::string_view("\x01\xab\xff", 3), HexCase::kUpper), "01ABFF");
  EXPECT_EQ(hex_encode(""), "");
  std::string s = "%";
  append_hex(&s, 0x2f, HexCase::kUpper);
  EXPECT_EQ(s, "%2F");
}

TEST(Hex, DecodeValidates) {
  EXPECT_EQ(*hex_decode("01abFF"), std::string("\x01\xab\xff", 3));
  EXPECT_EQ(hex_decode("abc").error().code, Errc::kMalformed);
  EXPECT_EQ(hex_decode("zz").error().code, Errc::kMalformed);
  EXPECT_TRUE(hex_decode("")->empty());
}

TEST(Hex, DigitsAndLowerCheck) {
  EXPECT_EQ(hex_digit_value('0'), 0);
  EXPECT_EQ(hex_digit_value('f'), 15);
  EXPECT_EQ(hex_digit_value('F'), 15);
  EXPECT_EQ(hex_digit_value('g'), -1);
  EXPECT_TRUE(is_lower_hex("0123456789abcdef"));
  EXPECT_FALSE(is_lower_hex("ABCDEF"));
}

TEST(Percent, DecodesEscapesOfEitherCaseAndKeepsStrayPercents) {
  EXPECT_EQ(percent_decode("a%20b%2Fc%2f"), "a b/c/");
  EXPECT_EQ(percent_decode("%00%ff"), std::string("\x00\xff", 2));
  // A '%' without two hex digits stays, and so does what follows it.
  EXPECT_EQ(percent_decode("100%"), "100%");
  EXPECT_EQ(percent_decode("%4"), "%4");
  EXPECT_EQ(percent_decode("%zz%41"), "%zzA");
  EXPECT_EQ(percent_decode("%%41"), "%A");
  EXPECT_EQ(percent_decode(""), "");
}

TEST(Percent, StrictRefusesStrayPercents) {
  EXPECT_EQ(*percent_decode_strict("body%2F1:ab"), "body/1:ab");
  EXPECT_EQ(*percent_decode_strict("plain"), "plain");
  EXPECT_EQ(percent_decode_strict("100%").error().code, Errc::kMalformed);
  EXPECT_EQ(percent_decode_strict("%4").error().code, Errc::kMalformed);
  EXPECT_EQ(percent_decode_strict("%zz").error().code, Errc::kMalformed);
  EXPECT_EQ(percent_decode_strict("%%41").error().code, Errc::kMalformed);
}

}  // namespace
}  // namespace strop
