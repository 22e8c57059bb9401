#include "ttl_cache.hpp"

#include <gtest/gtest.h>

namespace strop::agent::detail {
namespace {

using namespace std::chrono_literals;

struct ManualClock {
  TtlCache<int>::Clock::time_point t{};
  TtlCache<int>::Now fn() {
    return [this] { return t; };
  }
};

TEST(TtlCache, HitsUntilExpiry) {
  ManualClock clock;
  TtlCache<int> cache(1000ms, 10, clock.fn());
  cache.put("a", 1);
  EXPECT_EQ(cache.get("a"), 1);
  clock.t += 999ms;
  EXPECT_EQ(cache.get("a"), 1);
  clock.t += 1ms;
  EXPECT_EQ(cache.get("a"), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.hits(), 2u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(TtlCache, EvictsLeastRecentlyUsed) {
  ManualClock clock;
  TtlCache<int> cache(1000ms, 2, clock.fn());
  cache.put("a", 1);
  cache.put("b", 2);
  EXPECT_EQ(cache.get("a"), 1);  // b is now least recent
  cache.put("c", 3);
  EXPECT_EQ(cache.get("b"), std::nullopt);
  EXPECT_EQ(cache.get("a"), 1);
  EXPECT_EQ(cache.get("c"), 3);
}

TEST(TtlCache, PutRefreshesValueAndExpiry) {
  ManualClock clock;
  TtlCache<int> cache(1000ms, 2, clock.fn());
  cache.put("a", 1);
  clock.t += 800ms;
  cache.put("a", 5);
  clock.t += 800ms;
  EXPECT_EQ(cache.get("a"), 5);
}

TEST(TtlCache, ZeroTtlOrCapacityDisables) {
  TtlCache<int> a(0ms, 10);
  a.put("k", 1);
  EXPECT_EQ(a.get("k"), std::nullopt);
  TtlCache<int> b(1000ms, 0);
  b.put("k", 1);
  EXPECT_EQ(b.get("k"), std::nullopt);
}

TEST(TtlCache, ClearEmpties) {
  TtlCache<int> cache(1000ms, 10);
  cache.put("a", 1);
  cache.clear();
  EXPECT_EQ(cache.get("a"), std::nullopt);
}

}  // namespace
}  // namespace strop::agent::detail
