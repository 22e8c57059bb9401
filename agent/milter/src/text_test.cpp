#include "milter/text.hpp"

#include <gtest/gtest.h>

namespace strop::milter {
namespace {

TEST(Text, SanitizeNeverCutsInsideAWord) {
  std::string err =
      "error: unavailable: connect unix:/run/clamav/clamd.ctl: No such file or directory";
  EXPECT_EQ(sanitize(err, 200), err);
  // The old 80-byte cut gave "... No such file or director".
  EXPECT_EQ(sanitize(err, 80),
            "error: unavailable: connect unix:/run/clamav/clamd.ctl: No such file or...");
  EXPECT_EQ(sanitize("abcdefghij", 4), "abcd...");  // one long word: cut at the limit
  EXPECT_EQ(sanitize("a\x01"
                     "b\xc3\xa9",
                     10),
            "a?b??");
}

}  // namespace
}  // namespace strop::milter
