// The puller's pure core (federation.hpp): a feed response is taken only when its signature
// verifies, and becomes the batch to apply after the cursor.
#include "node/federation.hpp"

#include <gtest/gtest.h>

#include "base/gzip.hpp"
#include "protocol/feed.hpp"

namespace strop::node {
namespace {

constexpr storage::TimePoint kNow{std::chrono::seconds(1'700'000'000)};

storage::Peer a_peer() {
  storage::Peer p;
  p.reporter.id = 7;
  p.reporter.name = "a.test";
  p.reporter.secret = "peering-secret-0123";
  p.cursor = 3;
  return p;
}

FeedResponse signed_response(const std::string& nonce, std::uint64_t first_seq = 4) {
  protocol::FeedBatch b;
  b.head = 9;
  protocol::FeedWireEntry e;
  e.seq = first_seq;
  e.listed = true;
  e.sig = {sigs::Engine::kBody, "0123456789abcdef0123456789abcdef"};
  e.version = 2;
  e.origin = "a.test";
  b.entries.push_back(e);
  FeedResponse r;
  r.status = 200;
  r.body = *protocol::encode_feed(b);
  r.signature = protocol::sign_feed_response("peering-secret-0123", 200, nonce, r.body);
  return r;
}

TEST(FederationPuller, AcceptsASignedBatchAfterTheCursor) {
  std::uint64_t head = 0;
  auto b = accept_feed_response(a_peer(), 3, 100, "nonce-0123456789",
                                signed_response("nonce-0123456789"), kNow, &head);
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ(b->peer, 7u);
  EXPECT_EQ(b->after, 3u);
  EXPECT_EQ(b->cursor, 4u);
  ASSERT_EQ(b->entries.size(), 1u);
  EXPECT_EQ(b->entries[0].origin, "a.test");
  EXPECT_EQ(head, 9u);
}

TEST(FederationPuller, RefusesTamperedReplayedAndMisplacedBatches) {
  auto r = signed_response("nonce-0123456789");
  r.body[r.body.size() - 1] ^= 1;  // one bit of the body changed on the way
  auto b = accept_feed_response(a_peer(), 3, 100, "nonce-0123456789", r, kNow);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::kUnauthorized);
  // An old response replayed to a new request (another nonce).
  b = accept_feed_response(a_peer(), 3, 100, "nonce-fresh-000000",
                           signed_response("nonce-0123456789"), kNow);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::kUnauthorized);
  // Entries at or before the cursor.
  b = accept_feed_response(a_peer(), 3, 100, "nonce-0123456789",
                           signed_response("nonce-0123456789", 3), kNow);
  ASSERT_FALSE(b);
  // More entries than asked for.
  b = accept_feed_response(a_peer(), 3, 0, "nonce-0123456789", signed_response("nonce-0123456789"),
                           kNow);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::kLimitExceeded);
  // An error status: nothing to apply.
  FeedResponse err;
  err.status = 403;
  err.body = R"({"error":"forbidden"})";
  b = accept_feed_response(a_peer(), 3, 100, "nonce-0123456789", err, kNow);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, Errc::kUnavailable);
}

TEST(FederationPuller, LagInSecondsIsTheTimeSinceTheLastPullThatReachedTheHead) {
  PeerStats s;
  EXPECT_EQ(lag_seconds(s, 1000), 0);  // never pulled: nothing to be late on
  // First pull at 1000 gets a full batch: 5 of 9 entries, behind since the first attempt.
  record_pull_success(s, 5, 9, 5, 1000);
  EXPECT_EQ(s.lag_entries, 4u);
  EXPECT_EQ(lag_seconds(s, 1003), 3);
  // The pull at 1004 reaches the head: caught up, 0 however long nothing happens.
  record_pull_success(s, 9, 9, 4, 1004);
  EXPECT_EQ(lag_seconds(s, 1004), 0);
  EXPECT_EQ(lag_seconds(s, 1100), 0);
  EXPECT_EQ(s.applied, 9u);
  // The peer goes down at 1110: the lag counts from 1004, the last time everything was held.
  record_pull_failure(s, "connect: refused", 1110);
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(lag_seconds(s, 1110), 106);
  EXPECT_EQ(lag_seconds(s, 1200), 196);
  // Back at 1201 with a backlog: still counted from 1004 until a pull reaches the head.
  record_pull_success(s, 20, 30, 11, 1201);
  EXPECT_EQ(lag_seconds(s, 1202), 198);
  EXPECT_TRUE(s.last_error.empty());
  record_pull_success(s, 30, 30, 10, 1202);
  EXPECT_EQ(lag_seconds(s, 1203), 0);
}

TEST(FederationPuller, LagInSecondsOfAPeerNeverReachedCountsFromTheFirstAttempt) {
  PeerStats s;
  record_pull_failure(s, "connect: refused", 500);
  record_pull_failure(s, "connect: refused", 510);
  EXPECT_EQ(lag_seconds(s, 530), 30);
  EXPECT_EQ(s.errors, 2u);
}

TEST(FederationPuller, GzipResponsesAreVerifiedAsSentThenDecompressedWithALimit) {
  auto plain = signed_response("nonce-0123456789");
  FeedResponse r;
  r.status = 200;
  r.content_encoding = "gzip";
  r.body = gzip_compress(plain.body);
  r.signature =
      protocol::sign_feed_response("peering-secret-0123", 200, "nonce-0123456789", r.body);
  auto b = accept_feed_response(a_peer(), 3, 100, "nonce-0123456789", r, kNow);
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_EQ(b->entries.size(), 1u);
  // Signed over the decompressed bytes instead: refused before anything is inflated.
  auto wrong = r;
  wrong.signature = plain.signature;
  EXPECT_EQ(accept_feed_response(a_peer(), 3, 100, "nonce-0123456789", wrong, kNow).error().code,
            Errc::kUnauthorized);
  // A signed bomb: refused at kMaxFeedBody.
  FeedResponse bomb;
  bomb.status = 200;
  bomb.content_encoding = "gzip";
  bomb.body = gzip_compress(std::string(protocol::kMaxFeedBody + 1, 'x'), 9);
  bomb.signature =
      protocol::sign_feed_response("peering-secret-0123", 200, "nonce-0123456789", bomb.body);
  EXPECT_EQ(accept_feed_response(a_peer(), 3, 100, "nonce-0123456789", bomb, kNow).error().code,
            Errc::kLimitExceeded);
}

}  // namespace
}  // namespace strop::node
