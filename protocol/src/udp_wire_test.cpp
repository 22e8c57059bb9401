#include "protocol/udp_wire.hpp"

#include <gtest/gtest.h>

namespace strop::protocol::udp {
namespace {

sigs::Signature sig(std::string_view text) {
  auto s = sigs::parse_signature(text);
  EXPECT_TRUE(s.ok()) << text;
  return *s;
}

const std::string kBody = "body/1:00112233445566778899aabbccddeeff";
const std::string kUrl = "url/1:ffeeddccbbaa99887766554433221100";
const std::string kPyzor = "pyzor:0123456789abcdef0123456789abcdef01234567";
const std::string kE4 = "razor-e4:AbCdEfGhIjKlMnOpQrStUvWxYz0-";
const std::string kE8 = "razor-e8:abcdefghij_9";

std::string fuzzy_text() {
  std::string v = "fuzzy/1:";
  for (int i = 0; i < 32; ++i) {
    static const char* d = "0123456789abcdef";
    for (int j = 0; j < 8; ++j) v += d[(i * 7 + j * 3) & 15];
  }
  return v;
}

CheckRequest full_request() {
  CheckRequest r;
  r.request_id = 0xdeadbeef;
  r.messages.push_back({sig(kBody), sig(fuzzy_text()), sig(kUrl), sig(kUrl), sig(kUrl)});
  r.messages.push_back(
      {sig(kPyzor), sig(kE4), sig(kE8), sig("attach/1:0000000000000000000000000000000f")});
  return r;
}

TEST(UdpWire, ValueSizes) {
  EXPECT_EQ(value_bytes(sigs::Engine::kBody), 16u);
  EXPECT_EQ(value_bytes(sigs::Engine::kFuzzy), 128u);
  EXPECT_EQ(value_bytes(sigs::Engine::kUrl), 16u);
  EXPECT_EQ(value_bytes(sigs::Engine::kAttach), 16u);
  EXPECT_EQ(value_bytes(sigs::Engine::kRazorE4), 28u);
  EXPECT_EQ(value_bytes(sigs::Engine::kRazorE8), 12u);
  EXPECT_EQ(value_bytes(sigs::Engine::kPyzor), 20u);
}

TEST(UdpWire, RequestRoundTrip) {
  auto req = full_request();
  auto bytes = encode_request(req);
  ASSERT_TRUE(bytes.ok()) << bytes.error().to_string();
  // Header 10 + message 1 (1 + 17 + 129 + 3*17) + message 2 (1 + 21 + 29 + 13 + 17).
  EXPECT_EQ(bytes->size(), 10u + 198u + 81u);
  auto back = decode_request(*bytes);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->request_id, 0xdeadbeefu);
  EXPECT_EQ(back->messages, req.messages);
}

TEST(UdpWire, RequestBytesAreAsDocumented) {
  CheckRequest r;
  r.request_id = 0x01020304;
  r.messages.push_back({sig(kBody)});
  auto bytes = encode_request(r);
  ASSERT_TRUE(bytes.ok());
  const std::string want(
      "ST\x01\x01\x01\x02\x03\x04\x00\x01\x01\x01"
      "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff",
      28);
  EXPECT_EQ(*bytes, want);
}

TEST(UdpWire, RejectsMalformedRequests) {
  auto good = *encode_request(full_request());
  auto expect = [](std::string_view d, Errc code) {
    auto r = decode_request(d);
    ASSERT_FALSE(r.ok()) << "accepted " << d.size() << " bytes";
    EXPECT_EQ(r.error().code, code) << r.error().message;
  };
  expect("", Errc::kMalformed);
  expect("ST\x01", Errc::kMalformed);
  std::string bad = good;
  bad[0] = 'X';
  expect(bad, Errc::kMalformed);
  bad = good;
  bad[2] = 2;  // version
  expect(bad, Errc::kMalformed);
  bad = good;
  bad[3] = static_cast<char>(kOpCheckReply);  // a reply is never a request
  expect(bad, Errc::kMalformed);
  for (std::size_t n = 0; n < good.size(); ++n)
    expect(std::string_view(good).substr(0, n), Errc::kMalformed);
  expect(good + "x", Errc::kMalformed);
  bad = good;
  bad[10] = 0;  // first message with no signatures
  expect(bad, Errc::kMalformed);
  bad = good;
  bad[11] = 9;  // unknown engine
  expect(bad, Errc::kMalformed);
  // Zero messages.
  expect(std::string("ST\x01\x01\0\0\0\0\0\0", 10), Errc::kMalformed);
  // A razor value outside the razor alphabet.
  CheckRequest r;
  r.messages.push_back({sig(kE8)});
  auto e8 = *encode_request(r);
  e8[12] = '!';
  expect(e8, Errc::kMalformed);
}

TEST(UdpWire, EnforcesLimits) {
  auto good = *encode_request(full_request());
  Limits small;
  small.max_datagram_bytes = good.size() - 1;
  EXPECT_EQ(decode_request(good, small).error().code, Errc::kLimitExceeded);
  small = Limits{};
  small.max_messages = 1;
  EXPECT_EQ(decode_request(good, small).error().code, Errc::kLimitExceeded);
  small = Limits{};
  small.max_sigs_per_message = 4;
  EXPECT_EQ(decode_request(good, small).error().code, Errc::kLimitExceeded);
  // A huge message count with a short body fails fast.
  std::string huge("ST\x01\x01\0\0\0\0\xff\xff", 10);
  Limits many;
  many.max_messages = 70000;
  EXPECT_EQ(decode_request(huge, many).error().code, Errc::kMalformed);
}

TEST(UdpWire, EncodeRequestRejectsBadValues) {
  CheckRequest r;
  EXPECT_FALSE(encode_request(r).ok());
  r.messages.push_back({});
  EXPECT_FALSE(encode_request(r).ok());
  r.messages[0].push_back(sigs::Signature{sigs::Engine::kBody, "XYZ"});
  EXPECT_EQ(encode_request(r).error().code, Errc::kInvalidArgument);
}

CheckReply sample_reply() {
  CheckReply rep;
  rep.request_id = 77;
  MessageResult a;
  a.spam = true;
  a.confidence = 87;
  a.matches = {{sigs::Engine::kFuzzy, 84, 3, 0}, {sigs::Engine::kBody, 100, 1, 2}};
  MessageResult b;
  rep.results = {a, b};
  return rep;
}

TEST(UdpWire, ReplyRoundTrip) {
  auto rep = sample_reply();
  auto bytes = encode_reply(rep, 1000);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), 12u + 3 + 12 + 3);
  EXPECT_TRUE(looks_like_reply(*bytes));
  auto back = decode_reply(*bytes);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->request_id, 77u);
  EXPECT_EQ(back->status, Status::kOk);
  EXPECT_EQ(back->flags, 0);
  EXPECT_EQ(back->results, rep.results);
}

TEST(UdpWire, ReplyBytesAreAsDocumented) {
  CheckReply rep;
  rep.request_id = 0x01020304;
  MessageResult m;
  m.spam = true;
  m.confidence = 61;
  m.matches = {{sigs::Engine::kBody, 100, 1, 0}};
  rep.results = {m};
  auto bytes = encode_reply(rep, 100);
  ASSERT_TRUE(bytes.ok());
  const std::string want(
      "ST\x01\x81\x01\x02\x03\x04\x00\x00\x00\x01\x01\x3d\x01\x01\x64\x00\x01\x00\x00", 21);
  EXPECT_EQ(*bytes, want);
}

TEST(UdpWire, ReplyIsTruncatedToTheBudget) {
  auto rep = sample_reply();
  // Room for the header, both verdicts and one record.
  auto bytes = encode_reply(rep, 12 + 6 + 6 + 5);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), 12u + 6 + 6);
  auto back = decode_reply(*bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->flags & kFlagTruncated, kFlagTruncated);
  ASSERT_EQ(back->results.size(), 2u);
  EXPECT_TRUE(back->results[0].spam);
  EXPECT_EQ(back->results[0].confidence, 87);
  ASSERT_EQ(back->results[0].matches.size(), 1u);
  EXPECT_EQ(back->results[0].matches[0].engine, sigs::Engine::kFuzzy);
  // Not even the verdicts fit.
  EXPECT_EQ(encode_reply(rep, 12 + 5).error().code, Errc::kLimitExceeded);
}

TEST(UdpWire, ErrorRepliesCarryNoResults) {
  CheckReply rep = sample_reply();
  rep.status = Status::kRateLimited;
  auto bytes = encode_reply(rep, 12);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(bytes->size(), kReplyHeaderBytes);
  auto back = decode_reply(*bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->status, Status::kRateLimited);
  EXPECT_TRUE(back->results.empty());
}

TEST(UdpWire, AReplyToAValidRequestNeverExceedsIt) {
  // Worst case per message: one signature of the smallest engine, matched.
  CheckRequest req;
  for (int i = 0; i < 64; ++i) req.messages.push_back({sig(kE8)});
  auto bytes = *encode_request(req);
  CheckReply rep;
  for (int i = 0; i < 64; ++i) {
    MessageResult m;
    m.spam = true;
    m.confidence = 100;
    m.matches = {{sigs::Engine::kRazorE8, 100, 5, 5}};
    rep.results.push_back(m);
  }
  auto out = encode_reply(rep, bytes.size());
  ASSERT_TRUE(out.ok());
  EXPECT_LE(out->size(), bytes.size());
  EXPECT_EQ(decode_reply(*out)->flags, 0);
}

TEST(UdpWire, DecodeReplyRejectsGarbage) {
  auto good = *encode_reply(sample_reply(), 1000);
  for (std::size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(decode_reply(good.substr(0, n)).ok()) << n;
  EXPECT_FALSE(decode_reply(good + "z").ok());
  auto req = *encode_request(full_request());
  EXPECT_FALSE(decode_reply(req).ok());
  EXPECT_FALSE(looks_like_reply(req));
}

TEST(UdpWire, SimilarityPercent) {
  EXPECT_EQ(similarity_percent(1.0), 100);
  EXPECT_EQ(similarity_percent(0.84375), 84);
  EXPECT_EQ(similarity_percent(0.3125), 31);
  EXPECT_EQ(similarity_percent(-1), 0);
  EXPECT_EQ(similarity_percent(7), 100);
}

}  // namespace
}  // namespace strop::protocol::udp
