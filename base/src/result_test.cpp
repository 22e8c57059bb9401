#include "base/result.hpp"

#include <gtest/gtest.h>

namespace strop {
namespace {

Result<int> half(int x) {
  if (x % 2 != 0) return make_error(Errc::kInvalidArgument, "odd");
  return x / 2;
}

Result<int> quarter(int x) {
  auto h = half(x);
  STROP_TRY(h);
  return half(*h);
}

Result<void> check_even(int x) {
  STROP_TRY(half(x));
  return {};
}

TEST(Result, ValueAndError) {
  auto r = half(4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 2);
  auto e = half(3);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(e.error().to_string(), "invalid_argument: odd");
}

TEST(Result, TryPropagatesTheError) {
  EXPECT_EQ(*quarter(8), 2);
  EXPECT_EQ(quarter(6).error().message, "odd");
  EXPECT_TRUE(check_even(2).ok());
  EXPECT_EQ(check_even(1).error().code, Errc::kInvalidArgument);
}

TEST(Result, ErrcNumberingIsStable) {
  EXPECT_EQ(static_cast<int>(Errc::kUnauthorized), 9);
  EXPECT_EQ(static_cast<int>(Errc::kRateLimited), 11);
  EXPECT_EQ(static_cast<int>(Errc::kReplayed), 14);
  EXPECT_STREQ(errc_name(Errc::kReplayed), "replayed");
  EXPECT_STREQ(errc_name(Errc::kNotMail), "not_mail");
}

}  // namespace
}  // namespace strop
