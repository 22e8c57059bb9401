#include "node/conn_guard.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace strop::node {
namespace {

AddressKey key(const char* ip) { return address_key(boost::asio::ip::make_address(ip)); }

ConnLimits limits(std::size_t max, std::size_t per_address, std::size_t reserved,
                  std::size_t held = 1000) {
  ConnLimits l;
  l.max_connections = max;
  l.max_per_address = per_address;
  l.reserved = reserved;
  l.max_held_bytes_per_address = held;
  return l;
}

TEST(AddressKey, Ipv4AndMappedIpv6AreOneKey) {
  EXPECT_EQ(key("192.0.2.7"), key("::ffff:192.0.2.7"));
  EXPECT_NE(key("192.0.2.7"), key("192.0.2.8"));
  EXPECT_EQ(key("::ffff:192.0.2.7").to_string(), "192.0.2.7");
}

TEST(AddressKey, Ipv6IsAggregatedPer64) {
  EXPECT_EQ(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
  EXPECT_NE(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
  EXPECT_EQ(key("2001:db8:1:2:aaaa::1").to_string(), "2001:db8:1:2::/64");
  // Not to be confused with an IPv4 address whose bytes end the same way.
  EXPECT_NE(key("::c000:207"), key("192.0.2.7"));
}

TEST(ConnGuard, PerAddressCap) {
  // The observed exhaustion: one address took every slot. Now it gets max_per_address.
  ConnGuard g(limits(1024, 64, 0));
  std::vector<ConnGuard::Slot> held;
  for (int i = 0; i < 2000; ++i) {
    auto s = g.admit(key("198.51.100.1"));
    if (s) held.push_back(std::move(*s));
  }
  EXPECT_EQ(held.size(), 64u);
  auto refused = g.admit(key("198.51.100.1"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kLimitExceeded);
  EXPECT_TRUE(g.admit(key("198.51.100.2")));
  EXPECT_EQ(g.connections(key("198.51.100.1")), 64u);
}

TEST(ConnGuard, Ipv6HostsOfOne64ShareTheCap) {
  ConnGuard g(limits(100, 3, 0));
  std::vector<ConnGuard::Slot> held;
  for (int i = 1; i <= 3; ++i) {
    auto s = g.admit(key(("2001:db8::" + std::to_string(i)).c_str()));
    ASSERT_TRUE(s) << i;
    held.push_back(std::move(*s));
  }
  EXPECT_FALSE(g.admit(key("2001:db8::ffff:1")));
  EXPECT_TRUE(g.admit(key("2001:db8:0:1::1")));  // the next /64
}

TEST(ConnGuard, MappedIpv4SharesTheIpv4Cap) {
  ConnGuard g(limits(100, 2, 0));
  auto a = g.admit(key("203.0.113.5"));
  auto b = g.admit(key("::ffff:203.0.113.5"));
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_FALSE(g.admit(key("::ffff:203.0.113.5")));
  EXPECT_FALSE(g.admit(key("203.0.113.5")));
}

TEST(ConnGuard, ReservedSlotsGoToAddressesNotYetConnected) {
  // 20 slots, 5 reserved: many attacker addresses with 2+ connections each fill 15, then
  // only an address holding nothing gets in, one slot each, until all 20 are taken.
  ConnGuard g(limits(20, 10, 5));
  std::vector<ConnGuard::Slot> held;
  for (int i = 0; i < 15; ++i) {
    auto s = g.admit(key(i < 8 ? "10.0.0.1" : "10.0.0.2"));
    ASSERT_TRUE(s) << i;
    held.push_back(std::move(*s));
  }
  auto r = g.admit(key("10.0.0.1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kLimitExceeded);
  for (int i = 0; i < 5; ++i) {
    auto fresh = "10.1.0." + std::to_string(i);
    auto s = g.admit(key(fresh.c_str()));
    ASSERT_TRUE(s) << fresh;
    EXPECT_FALSE(g.admit(key(fresh.c_str()))) << "second slot for " << fresh;
    held.push_back(std::move(*s));
  }
  auto full = g.admit(key("10.2.0.1"));
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, Errc::kUnavailable);
  held.pop_back();
  EXPECT_TRUE(g.admit(key("10.2.0.1")));
}

TEST(ConnGuard, ReservedIsCappedAtAQuarter) {
  ConnGuard g(limits(3, 10, 128));
  EXPECT_EQ(g.limits().reserved, 0u);
  auto a = g.admit(key("127.0.0.1"));
  auto b = g.admit(key("127.0.0.1"));
  auto c = g.admit(key("127.0.0.1"));
  EXPECT_TRUE(a && b && c);
  EXPECT_EQ(ConnGuard(limits(1024, 64, 1000)).limits().reserved, 256u);
}

TEST(ConnGuard, SlotsAreReleasedOnDestructionAndMove) {
  ConnGuard g(limits(2, 2, 0));
  {
    auto a = g.admit(key("192.0.2.1"));
    ASSERT_TRUE(a);
    ConnGuard::Slot moved = std::move(*a);
    EXPECT_TRUE(moved.hold(100));
    EXPECT_EQ(g.connections(), 1u);
    EXPECT_EQ(g.held_bytes(), 100u);
    ConnGuard::Slot other;
    other = std::move(moved);
    EXPECT_EQ(other.held(), 100u);
    EXPECT_EQ(g.connections(), 1u);
  }
  EXPECT_EQ(g.connections(), 0u);
  EXPECT_EQ(g.held_bytes(), 0u);
  EXPECT_EQ(g.addresses(), 0u);
}

TEST(ConnGuard, HeldBytesBudgetPerAddress) {
  // The observed exhaustion: 1,000 connections each holding a 1 MiB unfinished body. Now
  // an address holds at most its budget (here 8 bodies of 1 MiB).
  constexpr std::size_t kMiB = 1 << 20;
  ConnGuard g(limits(2000, 2000, 0, 8 * kMiB));
  std::vector<ConnGuard::Slot> held;
  int accepted = 0;
  for (int i = 0; i < 1000; ++i) {
    auto s = g.admit(key("192.0.2.9"));
    ASSERT_TRUE(s);
    if (s->hold(kMiB)) ++accepted;
    held.push_back(std::move(*s));
  }
  EXPECT_EQ(accepted, 8);
  EXPECT_EQ(g.held_bytes(key("192.0.2.9")), 8 * kMiB);
  // Another address has its own budget.
  auto other = g.admit(key("192.0.2.10"));
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->hold(kMiB));
  // Shrinking always works and frees budget for the others.
  ASSERT_TRUE(held[0].hold(0));
  EXPECT_TRUE(held[8].hold(kMiB));  // refused before; held[0]'s share is free now
  EXPECT_FALSE(held[9].hold(kMiB));
}

TEST(ConnGuard, AnAddressHoldingNothingElseMayHoldOneLargeRequest) {
  ConnGuard g(limits(10, 10, 0, 100));
  auto a = g.admit(key("192.0.2.1"));
  auto b = g.admit(key("192.0.2.1"));
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->hold(500));  // alone: bounded by the listener's own request limit
  EXPECT_FALSE(b->hold(1));   // over budget while another connection holds bytes
  EXPECT_TRUE(a->hold(600));  // still alone
  ASSERT_TRUE(a->hold(0));
  EXPECT_TRUE(b->hold(60));
  EXPECT_TRUE(a->hold(40));
  EXPECT_FALSE(a->hold(41));
}

}  // namespace
}  // namespace strop::node
