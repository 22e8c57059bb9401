#include "base/base64.hpp"

#include <gtest/gtest.h>

namespace strop {
namespace {

TEST(Base64, EncodeRfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo", kBase64Url, Base64Padding::kNone), "Zm8");
  EXPECT_EQ(base64_encode("\xfb\xff", kBase64Standard), "+/8=");
  EXPECT_EQ(base64_encode("\xfb\xff", kBase64Url, Base64Padding::kNone), "-_8");
}

TEST(Base64, StrictDecode) {
  EXPECT_EQ(*base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(*base64_decode("-_8", kBase64Url), "\xfb\xff");
  EXPECT_FALSE(base64_decode("Zm8=").has_value());
  EXPECT_FALSE(base64_decode("-_8").has_value());
  std::string bytes(32, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7);
  auto text = base64_encode(bytes, kBase64Url, Base64Padding::kNone);
  EXPECT_EQ(text.size(), 43u);
  EXPECT_EQ(*base64_decode(text, kBase64Url), bytes);
}

TEST(Base64, LenientDecode) {
  EXPECT_EQ(base64_decode_lenient("Zm9v\r\nYmFy"), "foobar");
  EXPECT_EQ(base64_decode_lenient("Zm8=Zm8="), "fofo");
  EXPECT_EQ(base64_decode_lenient("-_8"), "\xfb\xff");
  EXPECT_EQ(base64_decode_lenient("!!"), "");
}

}  // namespace
}  // namespace strop
