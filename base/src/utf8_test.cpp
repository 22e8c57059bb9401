#include "base/utf8.hpp"

#include <gtest/gtest.h>

namespace strop {
namespace {

TEST(Utf8, Append) {
  std::string s;
  append_utf8(&s, 'A');
  append_utf8(&s, 0xE9);
  append_utf8(&s, 0x20AC);
  append_utf8(&s, 0x1F600);
  EXPECT_EQ(s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  s.clear();
  append_utf8(&s, 0xD800);
  append_utf8(&s, 0x110000);
  EXPECT_EQ(s, "\xef\xbf\xbd\xef\xbf\xbd");
}

TEST(Utf8, DecodeAndValidate) {
  std::string_view s = "a\xc3\xa9\xc0\x80";
  std::size_t i = 0;
  EXPECT_EQ(next_utf8(s, &i), 'a');
  EXPECT_EQ(next_utf8(s, &i), 0xE9u);
  EXPECT_EQ(next_utf8(s, &i), kReplacementChar);  // overlong
  EXPECT_EQ(i, 4u);
  EXPECT_TRUE(valid_utf8("a\xc3\xa9"));
  EXPECT_FALSE(valid_utf8("a\xc3"));
  EXPECT_TRUE(valid_utf8("\xef\xbf\xbd"));
}

}  // namespace
}  // namespace strop
