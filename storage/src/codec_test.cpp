#include "codec.hpp"

#include <gtest/gtest.h>

namespace strop::storage::codec {
namespace {

TEST(Codec, KeysAreBigEndianSoByteOrderIsNumericOrder) {
  EXPECT_LT(sv(sig_id_key(1)), sv(sig_id_key(256)));
  EXPECT_LT(sv(activity_key(5, 999)), sv(activity_key(6, 1)));
  EXPECT_LT(sv(vote_key(1, 0xffffffffu)), sv(vote_key(2, 0)));
  auto k = sig_id_key(0x01020304);
  EXPECT_EQ(std::string(k.data(), 4), std::string("\x01\x02\x03\x04", 4));
}

TEST(Codec, ExactKeyDependsOnEngineAndValue) {
  auto a = exact_key64(sigs::Engine::kBody, "abc");
  EXPECT_NE(a, exact_key64(sigs::Engine::kUrl, "abc"));
  EXPECT_NE(a, exact_key64(sigs::Engine::kBody, "abd"));
  EXPECT_EQ(a, exact_key64(sigs::Engine::kBody, "abc"));
}

TEST(Codec, FastFuzzyDecodeAgreesWithSigs) {
  sigs::FuzzyHashes h{};
  for (std::size_t i = 0; i < h.size(); ++i) h[i] = static_cast<std::uint32_t>(i * 0x9e3779b9u);
  std::string text = sigs::encode_fuzzy(h);
  EXPECT_EQ(decode_fuzzy(text), sigs::decode_fuzzy(text));
  EXPECT_EQ(*decode_fuzzy(text), h);
  for (char bad : {'A', 'g', ' ', '\0', '/', ':'}) {
    std::string t = text;
    t[100] = bad;
    EXPECT_FALSE(decode_fuzzy(t)) << int(bad);
    EXPECT_FALSE(sigs::decode_fuzzy(t)) << int(bad);
  }
  EXPECT_FALSE(decode_fuzzy(text.substr(1)));
  auto h2 = h;
  h2[3] ^= 1;
  h2[31] ^= 1;
  EXPECT_EQ(fuzzy_equal_positions_text(text, sigs::encode_fuzzy(h2)), 30);
  EXPECT_EQ(fuzzy_equal_positions_text(text, "x"), -1);
}

TEST(Codec, SigRecordRoundTrip) {
  SigRecord r;
  r.engine = sigs::Engine::kFuzzy;
  r.first_seen = 1700000000;
  r.last_vote = 1700000100;
  r.last_hit = 1700000200;
  r.reports = 7;
  r.revokes = 2;
  r.value = "0123abcd";
  auto e = encode_sig(r);
  EXPECT_EQ(e.size(), kSigHeader + 8);
  EXPECT_EQ(static_cast<std::uint8_t>(e[0]), kValueVersion);
  auto d = decode_sig(e);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->engine, r.engine);
  EXPECT_EQ(d->first_seen, r.first_seen);
  EXPECT_EQ(d->last_vote, r.last_vote);
  EXPECT_EQ(d->last_hit, r.last_hit);
  EXPECT_EQ(d->reports, 7u);
  EXPECT_EQ(d->revokes, 2u);
  EXPECT_EQ(d->value, r.value);
  EXPECT_EQ(d->activity(), 1700000200u);
  auto p = peek_sig(e);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->value, "0123abcd");
  e[0] = 9;  // unknown version
  EXPECT_FALSE(decode_sig(e));
  EXPECT_FALSE(decode_sig(std::string_view(e).substr(0, kSigHeader)));
}

TEST(Codec, VoteRecordRoundTrip) {
  VoteRecord v{.kind = VoteKind::kRevoke, .flags = kVoteCredited | kVotePeer, .hop = 3, .time = 42};
  auto e = encode_vote(v);
  EXPECT_EQ(e.size(), kVoteSize);
  EXPECT_EQ(e[3], 3);  // the hop sits in the formerly reserved byte
  auto d = decode_vote(e);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->kind, VoteKind::kRevoke);
  EXPECT_EQ(d->flags, kVoteCredited | kVotePeer);
  EXPECT_EQ(d->hop, 3);
  EXPECT_EQ(d->time, 42u);
  e[1] = 7;
  EXPECT_FALSE(decode_vote(e));
}

TEST(Codec, ReporterRecordRoundTrip) {
  ReporterRecord r;
  r.flags = kReporterPinned | kReporterAdmin;
  r.trust = 900;
  r.base = 1000;
  r.created = 1;
  r.last_active = 2;
  r.reports = 3;
  r.revokes = 4;
  r.good = 5;
  r.bad = 6;
  r.corroborated = 7;
  r.contradicted = 8;
  r.name = "alice@example.org";
  r.secret = std::string("\0\x01\xff secret", 10);
  auto d = decode_reporter(encode_reporter(r));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->flags, r.flags);
  EXPECT_EQ(d->trust, 900);
  EXPECT_EQ(d->base, 1000);
  EXPECT_EQ(d->good, 5u);
  EXPECT_EQ(d->bad, 6u);
  EXPECT_EQ(d->corroborated, 7u);
  EXPECT_EQ(d->contradicted, 8u);
  EXPECT_EQ(d->name, r.name);
  EXPECT_EQ(d->secret, r.secret);
  auto e = encode_reporter(r);
  EXPECT_FALSE(decode_reporter(e.substr(0, e.size() - 1)));
  EXPECT_FALSE(decode_reporter(e + "x"));
}

TEST(Codec, CountsAndMetaValues) {
  Counts c;
  c.by_engine[2] = 5;
  c.by_engine[1] = 3;
  c.votes = 9;
  c.reporters = 2;
  auto d = decode_counts(encode_counts(c));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->signatures(), 8u);
  EXPECT_EQ(d->votes, 9u);
  EXPECT_EQ(decode_u32(encode_u32(77)), 77u);
  EXPECT_EQ(decode_u64(encode_u64(1ull << 40)), 1ull << 40);
  EXPECT_FALSE(decode_u32("abc"));
}

}  // namespace
}  // namespace strop::storage::codec
