// Replay keys (store.hpp ReplayKey): consumed in the same commit as the votes, refused again
// after the store is closed and reopened, swept once expired.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "storage/store.hpp"
#include "test_util.hpp"

namespace strop::storage {
namespace {

using testing::body;
using testing::TempDir;

struct ClockBox {
  std::atomic<std::int64_t> now{1'700'000'000};
  Clock clock() {
    return [this] { return TimePoint{std::chrono::seconds{now.load()}}; };
  }
};

Result<VoteOutcome> vote(Store& s, VoteRequest req) {
  std::promise<Result<VoteOutcome>> p;
  auto f = p.get_future();
  s.vote(std::move(req), [&p](Result<VoteOutcome> r) { p.set_value(std::move(r)); });
  return f.get();
}

VoteRequest request(ReporterId who, bool revoke, std::vector<sigs::Signature> sigs,
                    std::string nonce, TimePoint now) {
  VoteRequest r;
  r.reporter = who;
  r.revoke = revoke;
  r.sigs = std::move(sigs);
  r.replay = ReplayKey{std::move(nonce), now + std::chrono::seconds(300)};
  r.now = now;
  return r;
}

TEST(ReplayKeys, RefusedAgainAfterReopen) {
  // The observed replay: a captured signed revoke accepted again after a restart unlisted a
  // re-reported spam (confidence 80 -> 0).
  TempDir dir;
  ClockBox cb;
  StoreOptions o;
  o.dir = dir.path();
  o.clock = cb.clock();
  ReporterId admin = 0;
  VoteRequest captured;
  {
    auto s = Store::open(o);
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    auto rep = (*s)->add_reporter({"postmaster", "secret", 1.0, true, false});
    ASSERT_TRUE(rep.ok());
    admin = rep->id;
    auto now = (*s)->now();
    ASSERT_TRUE(vote(**s, request(admin, false, {body(1)}, "n-report-1", now)).ok());
    captured = request(admin, true, {body(1)}, "n-revoke", now);
    ASSERT_TRUE(vote(**s, captured).ok());
    ASSERT_TRUE(vote(**s, request(admin, false, {body(1)}, "n-report-2", now)).ok());
    auto c = (*s)->check(std::vector<sigs::Signature>{body(1)});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->confidence, 80);
    // Within the same process too.
    auto again = vote(**s, captured);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, Errc::kReplayed);
  }
  cb.now += 100;
  auto s = Store::open(o);
  ASSERT_TRUE(s.ok()) << s.error().to_string();
  auto again = vote(**s, captured);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, Errc::kReplayed);
  auto c = (*s)->check(std::vector<sigs::Signature>{body(1)});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->confidence, 80);  // nothing of the replay was applied
  // The same nonce is per reporter: another reporter may use it.
  auto other = (*s)->add_reporter({"other", "secret2", 1.0, true, false});
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(vote(**s, request(other->id, false, {body(2)}, "n-revoke", (*s)->now())).ok());
}

TEST(ReplayKeys, OneBatchCannotCarryTheSameKeyTwice) {
  TempDir dir;
  StoreOptions o;
  o.dir = dir.path();
  auto s = Store::open(o);
  ASSERT_TRUE(s.ok());
  auto rep = (*s)->add_reporter({"r", "secret", 1.0, true, false});
  ASSERT_TRUE(rep.ok());
  auto now = (*s)->now();
  // Queued together, likely committed in one transaction: exactly one is applied.
  std::promise<Result<VoteOutcome>> p1, p2;
  (*s)->vote(request(rep->id, false, {body(3)}, "dup", now),
             [&](Result<VoteOutcome> r) { p1.set_value(std::move(r)); });
  (*s)->vote(request(rep->id, false, {body(4)}, "dup", now),
             [&](Result<VoteOutcome> r) { p2.set_value(std::move(r)); });
  auto r1 = p1.get_future().get();
  auto r2 = p2.get_future().get();
  EXPECT_TRUE(r1.ok());
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().code, Errc::kReplayed);
  auto c = (*s)->check(std::vector<sigs::Signature>{body(4)});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->matches.empty());
}

TEST(ReplayKeys, ExpiredKeysAreSweptAndBadKeysRefused) {
  TempDir dir;
  ClockBox cb;
  StoreOptions o;
  o.dir = dir.path();
  o.clock = cb.clock();
  auto s = Store::open(o);
  ASSERT_TRUE(s.ok());
  auto rep = (*s)->add_reporter({"r", "secret", 1.0, true, false});
  ASSERT_TRUE(rep.ok());
  for (std::uint64_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        vote(**s, request(rep->id, false, {body(100 + i)}, "old-" + std::to_string(i), (*s)->now()))
            .ok());
  }
  auto before = (*s)->stats().used_bytes;
  cb.now += 1000;  // every key above has expired
  for (std::uint64_t i = 0; i < 50; ++i) {
    ASSERT_TRUE(
        vote(**s, request(rep->id, false, {body(100 + i)}, "new-" + std::to_string(i), (*s)->now()))
            .ok());
  }
  // Each consumed key swept up to two expired ones: the old keys are gone, so an old nonce
  // is accepted again (its request would be refused as stale by the node's window check).
  EXPECT_TRUE(vote(**s, request(rep->id, false, {body(1)}, "old-7", (*s)->now())).ok());
  EXPECT_LE((*s)->stats().used_bytes, before + 64 * 1024);

  auto empty = request(rep->id, false, {body(1)}, "", (*s)->now());
  EXPECT_EQ(vote(**s, empty).error().code, Errc::kInvalidArgument);
  auto huge =
      request(rep->id, false, {body(1)}, std::string(kMaxReplayNonce + 1, 'n'), (*s)->now());
  EXPECT_EQ(vote(**s, huge).error().code, Errc::kInvalidArgument);
  VoteRequest sizes = request(rep->id, false, {body(1), body(2)}, "sizes", (*s)->now());
  sizes.message_sizes = {1};
  EXPECT_EQ(vote(**s, sizes).error().code, Errc::kInvalidArgument);
}

}  // namespace
}  // namespace strop::storage
