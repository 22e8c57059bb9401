#include "node/limiter.hpp"

#include <gtest/gtest.h>

#include <string>

#include "node/metrics.hpp"

namespace strop::node {
namespace {

constexpr std::int64_t kSec = 1'000'000'000;

TEST(RateLimiter, BurstThenRefill) {
  RateLimiter l(2, 3, 1000);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.take("a", 0).allowed) << i;
  auto d = l.take("a", 0);
  EXPECT_FALSE(d.allowed);
  EXPECT_NEAR(d.retry_after_seconds, 0.5, 1e-9);
  EXPECT_FALSE(l.take("a", kSec / 4).allowed);
  EXPECT_TRUE(l.take("a", kSec / 2).allowed);
  // Refill never exceeds the burst.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(l.take("a", 100 * kSec).allowed);
  EXPECT_FALSE(l.take("a", 100 * kSec).allowed);
}

TEST(RateLimiter, KeysAreIndependentAndDisabledAllowsAll) {
  RateLimiter l(1, 1, 1000);
  EXPECT_TRUE(l.take("a", 0).allowed);
  EXPECT_FALSE(l.take("a", 0).allowed);
  EXPECT_TRUE(l.take("b", 0).allowed);
  RateLimiter off(0, 0, 10);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(off.take("x", 0).allowed);
  EXPECT_EQ(off.size(), 0u);
}

TEST(RateLimiter, NewRateTakesEffectAtOnce) {
  RateLimiter l(1, 2, 1000);
  EXPECT_TRUE(l.take("a", 0).allowed);
  EXPECT_TRUE(l.take("a", 0).allowed);
  EXPECT_FALSE(l.take("a", 0).allowed);
  // A reload to 10/s, bucket 5: the spent bucket refills at the new rate...
  l.set_rate(10, 5);
  EXPECT_FALSE(l.take("a", kSec / 20).allowed);
  EXPECT_TRUE(l.take("a", kSec / 10).allowed);
  // ...up to the new size.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(l.take("a", 100 * kSec).allowed) << i;
  EXPECT_FALSE(l.take("a", 100 * kSec).allowed);
  // Turned off, everything passes; turned on again, limits apply again.
  l.set_rate(0, 0);
  EXPECT_FALSE(l.enabled());
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(l.take("a", 100 * kSec).allowed);
  l.set_rate(1, 1);
  EXPECT_TRUE(l.take("b", 200 * kSec).allowed);
  EXPECT_FALSE(l.take("b", 200 * kSec).allowed);
}

TEST(RateLimiter, BoundedKeys) {
  RateLimiter l(1, 1, 32);  // 2 per shard
  for (int i = 0; i < 1000; ++i) (void)l.take("k" + std::to_string(i), 0);
  EXPECT_LE(l.size(), 32u);
  // Idle buckets are evicted to make room later.
  for (int i = 0; i < 1000; ++i) (void)l.take("z" + std::to_string(i), 10 * kSec);
  EXPECT_LE(l.size(), 32u);
}

TEST(NonceCache, DetectsReplayUntilExpiry) {
  NonceCache c(1000, 100);
  EXPECT_EQ(c.insert("alice", "n1", 100, 400), NonceCache::Outcome::kFresh);
  EXPECT_EQ(c.insert("alice", "n1", 200, 500), NonceCache::Outcome::kReplay);
  EXPECT_EQ(c.insert("bob", "n1", 200, 500), NonceCache::Outcome::kFresh);  // per reporter
  EXPECT_EQ(c.insert("alice", "n2", 401, 700), NonceCache::Outcome::kFresh);
  // n1 expired at 400 and was pruned.
  EXPECT_EQ(c.insert("alice", "n1", 401, 700), NonceCache::Outcome::kFresh);
}

TEST(NonceCache, FullPartitionRefusesOnlyItsReporter) {
  // The observed exhaustion: a few identities filled the one shared cache and every
  // reporter got 503. A reporter's full partition now refuses that reporter only.
  NonceCache c(100000, 50);
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(c.insert("flooder", "n" + std::to_string(i), 0, 100), NonceCache::Outcome::kFresh);
  }
  EXPECT_EQ(c.insert("flooder", "more", 0, 100), NonceCache::Outcome::kFull);
  EXPECT_EQ(c.insert("flooder", "n3", 0, 100), NonceCache::Outcome::kReplay);  // still detected
  EXPECT_EQ(c.insert("honest", "h1", 0, 100), NonceCache::Outcome::kFresh);
  EXPECT_EQ(c.insert("honest", "h1", 0, 100), NonceCache::Outcome::kReplay);
  // After expiry the flooder has room again.
  EXPECT_EQ(c.insert("flooder", "late", 101, 200), NonceCache::Outcome::kFresh);
}

TEST(NonceCache, WholeCacheFullIsUntrackedNotRefused) {
  NonceCache c(16, 1000);  // one entry per shard
  int untracked = 0;
  for (int i = 0; i < 200; ++i) {
    auto o = c.insert("r" + std::to_string(i), "n", 0, 100);
    EXPECT_NE(o, NonceCache::Outcome::kFull);
    if (o == NonceCache::Outcome::kUntracked) ++untracked;
  }
  EXPECT_GT(untracked, 0);
  EXPECT_LE(c.size(), 16u);
  // Expired entries make room again.
  EXPECT_EQ(c.insert("r0", "late", 101, 200), NonceCache::Outcome::kFresh);
}

TEST(Metrics, HistogramBuckets) {
  Histogram h;
  h.observe(std::chrono::microseconds(10));
  h.observe(std::chrono::microseconds(30));
  h.observe(std::chrono::seconds(10));
  std::string out;
  h.render(&out, "x", "op=\"a\"");
  EXPECT_NE(out.find("x_bucket{op=\"a\",le=\"0.000025\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{op=\"a\",le=\"0.00005\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{op=\"a\",le=\"5\"} 2\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_bucket{op=\"a\",le=\"+Inf\"} 3\n"), std::string::npos) << out;
  EXPECT_NE(out.find("x_count{op=\"a\"} 3\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace strop::node
