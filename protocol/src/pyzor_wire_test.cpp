#include "protocol/pyzor_wire.hpp"

#include <gtest/gtest.h>

namespace strop::protocol::pyzor {
namespace {

// Produced by pyzor 1.0 (Debian 1:1.0.0-6): CheckRequest with Thread 24542, user alice,
// key "0123456789ABCDEFabcdef0123456789abcdef01", Time 1700000000.
constexpr std::string_view kSignedCheck =
    "Op: check\nOp-Digest: f3ec0000000000000000000000000000000004cf\nThread: 24542\nPV: 2.1\n"
    "User: alice\nTime: 1700000000\nSig: 5ef4e091a19804b2584b62de439f2fbd5a5c8786\n\n";

TEST(PyzorWire, ParsesARequest) {
  auto m = parse_message(kSignedCheck);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->fields.size(), 7u);
  ASSERT_NE(m->find("op"), nullptr);
  EXPECT_EQ(*m->find("op"), "check");
  EXPECT_EQ(*m->find("THREAD"), "24542");
  EXPECT_EQ(*m->find("Sig"), "5ef4e091a19804b2584b62de439f2fbd5a5c8786");
  EXPECT_EQ(m->find("Count"), nullptr);
}

TEST(PyzorWire, SignatureMatchesThePythonClient) {
  EXPECT_EQ(hash_key("0123456789ABCDEFabcdef0123456789abcdef01", "alice"),
            "2bb9f7e3581f607450c6f0814e7c1971dbe16d71");
  auto m = parse_message(kSignedCheck);
  ASSERT_TRUE(m.ok());
  std::string text = signed_text(*m);
  EXPECT_EQ(
      text,
      "Op: check\nOp-Digest: f3ec0000000000000000000000000000000004cf\nThread: 24542\nPV: 2.1\n"
      "User: alice\nTime: 1700000000");
  EXPECT_EQ(sign("2bb9f7e3581f607450c6f0814e7c1971dbe16d71", 1700000000, text),
            "5ef4e091a19804b2584b62de439f2fbd5a5c8786");
  EXPECT_NE(sign("2bb9f7e3581f607450c6f0814e7c1971dbe16d71", 1700000001, text),
            "5ef4e091a19804b2584b62de439f2fbd5a5c8786");
}

TEST(PyzorWire, MultipleDigestsAndCaseInsensitiveNames) {
  auto m = parse_message(
      "Op: report\nOp-Digest: aa\nop-digest: bb\nOP-DIGEST:cc\nThread: 1100\nPV: 2.1\n\n");
  ASSERT_TRUE(m.ok());
  auto all = m->find_all("Op-Digest");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], "aa");
  EXPECT_EQ(all[2], "cc");
}

TEST(PyzorWire, DoubleNewlinesAreCollapsedAsPyzordDoes) {
  // "Op: check\n\nThread: 5\n" -> "Op: check\nThread: 5\n": one block.
  auto m = parse_message("Op: check\n\nThread: 5000\n\nPV: 2.1");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->fields.size(), 3u);
  ASSERT_NE(m->find("PV"), nullptr);
  EXPECT_EQ(*m->find("PV"), "2.1");
}

TEST(PyzorWire, GarbageYieldsNoFields) {
  for (std::string_view g : {"xx", "", "\n", ":::", "no colon here\nOp: ping\n", "\x01\x02\x03"}) {
    auto m = parse_message(g);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->find("Op"), nullptr) << g;
  }
}

TEST(PyzorWire, FeedparserLineRules) {
  // A unix-from line first is skipped; continuation lines join the value; a leading
  // continuation is dropped; CR alone is a line end; a line without ':' ends the block.
  auto m = parse_message(
      "From someone\n  lost\nOp: ping\nThread: 1\rPV:\t 2.1\r\nX: a\n b\nbody\nY: z\n");
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->fields.size(), 4u);
  EXPECT_EQ(*m->find("Thread"), "1");
  EXPECT_EQ(*m->find("X"), "a\n b");
  EXPECT_EQ(m->find("Y"), nullptr);
}

TEST(PyzorWire, Limits) {
  Limits l;
  l.max_fields = 3;
  EXPECT_FALSE(parse_message("A: 1\nB: 2\nC: 3\nD: 4\n", l).ok());
  EXPECT_TRUE(parse_message("A: 1\nB: 2\nC: 3\n", l).ok());
  EXPECT_FALSE(parse_message(std::string(9000, 'a'), Limits{}).ok());
}

TEST(PyzorWire, NumbersAsPythonReadsThem) {
  EXPECT_EQ(parse_time(" 1700000000 "), 1700000000);
  EXPECT_EQ(parse_time("-5"), -5);
  EXPECT_FALSE(parse_time("12a").has_value());
  EXPECT_FALSE(parse_time("").has_value());
  EXPECT_EQ(parse_pv_major("2.1"), 2);
  EXPECT_EQ(parse_pv_major("2.9"), 2);
  EXPECT_EQ(parse_pv_major("3.0"), 3);
  EXPECT_EQ(parse_pv_major("2"), 2);
  EXPECT_FALSE(parse_pv_major("x").has_value());
  EXPECT_FALSE(parse_pv_major("nan").has_value());
  EXPECT_FALSE(parse_pv_major("0x2p0").has_value());
}

TEST(PyzorWire, EncodeReplyLikeAsString) {
  std::vector<Field> f = {{"Code", "200"},     {"Diag", "OK"}, {"PV", "2.1"},
                          {"Thread", "24542"}, {"Count", "2"}, {"WL-Count", "0"}};
  EXPECT_EQ(encode_message(f),
            "Code: 200\nDiag: OK\nPV: 2.1\nThread: 24542\nCount: 2\nWL-Count: 0\n\n");
}

}  // namespace
}  // namespace strop::protocol::pyzor
