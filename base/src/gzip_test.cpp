// base/gzip.hpp: round trip, and refusals of untrusted bytes (truncated, trailing, a bomb).
#include "base/gzip.hpp"

#include <gtest/gtest.h>

namespace strop {
namespace {

TEST(Gzip, RoundTripsAndShrinksRepetitiveData) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += "entry " + std::to_string(i % 17) + " mail.example.edu\n";
  auto z = gzip_compress(data);
  EXPECT_LT(z.size(), data.size() / 4);
  auto back = gzip_decompress(z, data.size());
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, data);
  auto empty = gzip_decompress(gzip_compress(""), 0);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
}

TEST(Gzip, RefusesABombAtTheLimit) {
  const std::string zeros(8 << 20, '\0');  // 8 MiB of zeros: about 8 KB of gzip
  auto z = gzip_compress(zeros, 9);
  EXPECT_LT(z.size(), 16u * 1024);
  auto r = gzip_decompress(z, 4 << 20);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kLimitExceeded);
  // Exactly at the limit is fine.
  EXPECT_TRUE(gzip_decompress(gzip_compress(std::string(1000, 'a')), 1000));
  EXPECT_FALSE(gzip_decompress(gzip_compress(std::string(1001, 'a')), 1000));
}

TEST(Gzip, RefusesWhatIsNotOneWholeMember) {
  auto z = gzip_compress("hello, peers");
  EXPECT_EQ(gzip_decompress("not gzip at all", 100).error().code, Errc::kMalformed);
  EXPECT_EQ(gzip_decompress(z.substr(0, z.size() - 3), 100).error().code, Errc::kMalformed);
  EXPECT_EQ(gzip_decompress(z + "x", 100).error().code, Errc::kMalformed);
  auto bad_crc = z;
  bad_crc[bad_crc.size() - 6] ^= 1;
  EXPECT_EQ(gzip_decompress(bad_crc, 100).error().code, Errc::kMalformed);
  EXPECT_EQ(gzip_decompress("", 100).error().code, Errc::kMalformed);
}

}  // namespace
}  // namespace strop
