// The federation feed codec and response signature (feed.hpp, docs/federation.md).
#include "protocol/feed.hpp"

#include <gtest/gtest.h>

#include "base/gzip.hpp"
#include "protocol/signing.hpp"

namespace strop::protocol {
namespace {

FeedWireEntry entry(std::uint64_t seq, bool listed, std::string origin = "a.test") {
  FeedWireEntry e;
  e.seq = seq;
  e.listed = listed;
  e.sig = {sigs::Engine::kBody, "0123456789abcdef0123456789abcdef"};
  e.hop = 1;
  e.confidence = 78;
  e.version = seq;
  e.origin = std::move(origin);
  return e;
}

TEST(Feed, RoundTripsByteForByte) {
  FeedBatch b;
  b.head = 9;
  b.oldest = 2;
  b.entries = {entry(3, true), entry(9, false, "b.example.org")};
  auto bytes = encode_feed(b);
  ASSERT_TRUE(bytes);
  // magic, head, oldest, count, then 8+1+1+1+1+8 + 1+6 + 2+32 bytes for the first entry
  EXPECT_EQ(bytes->substr(0, 4), "SFD1");
  EXPECT_EQ(bytes->size(), 4u + 8 + 8 + 4 + (20 + 7 + 34) + (20 + 14 + 34));
  auto back = decode_feed(*bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, b);
}

TEST(Feed, RefusesWholeBatchesThatBreakARule) {
  FeedBatch b;
  b.entries = {entry(3, true), entry(4, true)};
  std::string good = *encode_feed(b);
  EXPECT_EQ(decode_feed(good.substr(0, good.size() - 1)).error().code, Errc::kMalformed);
  EXPECT_EQ(decode_feed(good + "x").error().code, Errc::kMalformed);
  EXPECT_EQ(decode_feed("XFD1" + good.substr(4)).error().code, Errc::kMalformed);
  EXPECT_EQ(decode_feed(good, 1).error().code, Errc::kLimitExceeded);  // more than asked
  b.entries[1].seq = 3;                                                // not increasing
  EXPECT_FALSE(encode_feed(b));
  b.entries[1].seq = 4;
  b.entries[1].origin = "Upper.Case";
  EXPECT_EQ(encode_feed(b).error().code, Errc::kInvalidArgument);
  b.entries[1].origin = "a.test";
  b.entries[1].hop = kMaxFeedHop + 1;
  EXPECT_FALSE(encode_feed(b));
  // A hand-made body with an unknown state byte.
  std::string bad = good;
  bad[4 + 8 + 8 + 4 + 8] = 3;
  EXPECT_EQ(decode_feed(bad).error().code, Errc::kMalformed);
}

TEST(Feed, QueryIsStrict) {
  auto q = parse_feed_query(feed_target(42, 100));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->after, 42u);
  EXPECT_EQ(q->limit, 100u);
  EXPECT_EQ(parse_feed_query("/v1/peer/feed?after=7")->limit, kDefaultFeedLimit);
  EXPECT_EQ(parse_feed_query("/v1/peer/feed?after=7")->wait, 0u);
  q = parse_feed_query(feed_target(42, 100, 30));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->wait, 30u);
  EXPECT_EQ(feed_target(1, 2, 0), "/v1/peer/feed?after=1&limit=2");
  for (const char* bad :
       {"/v1/peer/feed?after=1&wait=31", "/v1/peer/feed?after=1&wait=1&wait=2",
        "/v1/peer/feed?wait=1", "/v1/peer/feed", "/v1/peer/feed?limit=5", "/v1/peer/feed?after=-1",
        "/v1/peer/feed?after=1&after=2", "/v1/peer/feed?after=1&limit=0",
        "/v1/peer/feed?after=1&limit=10001", "/v1/peer/feed?after=1&x=2",
        "/v1/peer/feed?after=99999999999999999999999", "/v1/peer/feed?after="}) {
    EXPECT_FALSE(parse_feed_query(bad)) << bad;
  }
}

TEST(Feed, ResponseSignatureBindsStatusNonceAndBody) {
  const std::string sig = sign_feed_response("secret", 200, "nonce-0123456789", "body");
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_TRUE(verify_feed_response("secret", 200, "nonce-0123456789", "body", sig));
  EXPECT_FALSE(verify_feed_response("secret", 200, "nonce-0123456789", "bodY", sig));
  EXPECT_FALSE(verify_feed_response("secret", 200, "nonce-another-one", "body", sig));
  EXPECT_FALSE(verify_feed_response("secret", 410, "nonce-0123456789", "body", sig));
  EXPECT_FALSE(verify_feed_response("other", 200, "nonce-0123456789", "body", sig));
  EXPECT_FALSE(verify_feed_response("secret", 200, "nonce-0123456789", "body", ""));
}

TEST(Feed, PeerRequestsAreSignedUnderTheirOwnScheme) {
  auto reporter = sign_request("a.test", "k", "GET", "/v1/peer/feed?after=0", "", 1700000000,
                               "0123456789abcdef");
  auto peer = sign_request("a.test", "k", "GET", "/v1/peer/feed?after=0", "", 1700000000,
                           "0123456789abcdef", kPeerSigningScheme);
  EXPECT_NE(reporter.signature, peer.signature);
  EXPECT_EQ(verify_request(peer, "k", "GET", "/v1/peer/feed?after=0", "", 1700000000, 300,
                           kPeerSigningScheme),
            AuthStatus::kOk);
  EXPECT_EQ(verify_request(peer, "k", "GET", "/v1/peer/feed?after=0", "", 1700000000, 300),
            AuthStatus::kBadSignature);
}

TEST(Feed, AcceptEncodingGzipUnlessWeighedZero) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(accepts_gzip("br, x-gzip"));
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("identity, deflate"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip; q=0.000"));
  EXPECT_FALSE(accepts_gzip("gzipped"));
}

TEST(Feed, GzipBodiesDecodeUnderTheBodyLimit) {
  FeedBatch b;
  b.head = 40;
  for (std::uint64_t s = 1; s <= 40; ++s) b.entries.push_back(entry(s, true));
  auto bytes = encode_feed(b);
  ASSERT_TRUE(bytes);
  auto z = gzip_compress(*bytes);
  auto back = decode_feed_body(z, "gzip", 100);
  ASSERT_TRUE(back) << back.error().to_string();
  EXPECT_EQ(*back, b);
  EXPECT_EQ(*decode_feed_body(*bytes, "", 100), b);
  EXPECT_EQ(*decode_feed_body(*bytes, "identity", 100), b);
  EXPECT_EQ(decode_feed_body(z, "br", 100).error().code, Errc::kMalformed);
  EXPECT_EQ(decode_feed_body(*bytes, "gzip", 100).error().code, Errc::kMalformed);
  // A bomb: 5 MiB of zeros compress to a few KB and are refused at kMaxFeedBody.
  auto bomb = gzip_compress(std::string(kMaxFeedBody + (1 << 20), '\0'), 9);
  EXPECT_LT(bomb.size(), 8u * 1024);
  EXPECT_EQ(decode_feed_body(bomb, "gzip").error().code, Errc::kLimitExceeded);
}

}  // namespace
}  // namespace strop::protocol
