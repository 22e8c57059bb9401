#include "base/ascii.hpp"

#include <gtest/gtest.h>

namespace strop {
namespace {

TEST(Ascii, CaseFolding) {
  EXPECT_EQ(to_lower("Content-TYPE: \xc3\x89"), "content-type: \xc3\x89");
  EXPECT_TRUE(iequals("Subject", "sUBJECT"));
  EXPECT_FALSE(iequals("Subject", "Subjects"));
  EXPECT_TRUE(istarts_with("Content-Type: x", "content-"));
  EXPECT_FALSE(istarts_with("Con", "content-"));
}

TEST(Ascii, Trim) {
  EXPECT_EQ(trim(" \t\v\fx y\r\n"), "x y");
  EXPECT_EQ(trim("\vx\v", " \t\r\n"), "\vx\v");
  EXPECT_EQ(trim("   "), "");
}

TEST(Ascii, Ifind) {
  EXPECT_EQ(ifind("Hello WORLD", "world"), 6u);
  EXPECT_EQ(ifind("abcabc", "ABC", 1), 3u);
  EXPECT_EQ(ifind("abc", "x"), std::string_view::npos);
  EXPECT_EQ(ifind("abc", ""), 0u);
}

}  // namespace
}  // namespace strop
