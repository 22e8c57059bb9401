#include "base/digest.hpp"

#include <gtest/gtest.h>

#include "base/hex.hpp"

namespace strop {
namespace {

TEST(Digest, KnownVectors) {
  EXPECT_EQ(sha1_hex("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha1_hex(""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(digest(DigestAlgorithm::kSha256, "abc").size(), 32u);
}

TEST(Digest, IncrementalMatchesOneShotAndResets) {
  Digest d(DigestAlgorithm::kSha1);
  d.update("a");
  d.update("");
  d.update("bc");
  EXPECT_EQ(d.finish_hex(), sha1_hex("abc"));
  d.update("abc");
  EXPECT_EQ(hex_encode(d.finish()), sha1_hex("abc"));
}

TEST(Digest, Hmac) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_hex(DigestAlgorithm::kSha256, "Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(hmac_hex(DigestAlgorithm::kSha256, "", ""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_EQ(hmac(DigestAlgorithm::kSha1, "key", "x").size(), 20u);
}

}  // namespace
}  // namespace strop
