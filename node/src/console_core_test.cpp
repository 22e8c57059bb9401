// console_core_test.cpp: the web console's pure parts (console_core.hpp, console_users.hpp).
#include "console_core.hpp"

#include <gtest/gtest.h>

#include "console_users.hpp"

namespace strop::node::console {
namespace {

// Small scrypt parameters: the tests check the encoding, not the cost.
constexpr KdfParams kFast{1024, 8, 1};
constexpr std::int64_t kSecond = 1'000'000'000;

TEST(ConsolePassword, HashVerifiesOnlyItsPassword) {
  auto h = hash_password("correct horse", kFast);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_TRUE(h->starts_with("scrypt$1024$8$1$"));
  EXPECT_TRUE(verify_password("correct horse", *h));
  EXPECT_FALSE(verify_password("correct horsf", *h));
  EXPECT_FALSE(verify_password("", *h));
}

TEST(ConsolePassword, SaltIsPerHash) {
  auto a = hash_password("same", kFast);
  auto b = hash_password("same", kFast);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verify_password("same", *a));
  EXPECT_TRUE(verify_password("same", *b));
}

TEST(ConsolePassword, RefusesMalformedAndOverLimitHashes) {
  auto h = hash_password("pw", kFast);
  ASSERT_TRUE(h);
  EXPECT_FALSE(verify_password("pw", "scrypt$1024$8$1$abc"));
  EXPECT_FALSE(verify_password("pw", "md5$x$y$z$a$b"));
  EXPECT_FALSE(verify_password("pw", ""));
  // A tampered N over the limit is refused without running the KDF.
  std::string big = *h;
  big.replace(7, 4, "4194304");
  EXPECT_FALSE(verify_password("pw", big));
  EXPECT_FALSE(hash_password("", kFast));
  EXPECT_FALSE(hash_password(std::string(kMaxPasswordBytes + 1, 'x'), kFast));
}

TEST(ConsoleSessions, IdleExpiryAndRefresh) {
  SessionTable t(100 * kSecond, 10);
  Session s = t.create("ann", Role::kAdmin, 0);
  EXPECT_EQ(s.id.size(), 64u);
  EXPECT_EQ(s.csrf.size(), 64u);
  EXPECT_NE(s.id, s.csrf);
  ASSERT_TRUE(t.find(s.id, 90 * kSecond));    // used: idle restarts at 90 s
  ASSERT_TRUE(t.find(s.id, 180 * kSecond));   // 90 s idle
  EXPECT_FALSE(t.find(s.id, 281 * kSecond));  // 101 s idle: gone
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.find("nope", 0));
}

TEST(ConsoleSessions, BoundedLeastRecentlyUsedGoesFirst) {
  SessionTable t(1000 * kSecond, 2);
  Session a = t.create("a", Role::kAdmin, 1);
  Session b = t.create("b", Role::kReadOnly, 2);
  ASSERT_TRUE(t.find(a.id, 3));  // a used after b
  Session c = t.create("c", Role::kAdmin, 4);
  EXPECT_TRUE(t.find(a.id, 5));
  EXPECT_FALSE(t.find(b.id, 5));
  EXPECT_TRUE(t.find(c.id, 5));
  t.remove_user("a");
  EXPECT_FALSE(t.find(a.id, 6));
  t.remove(c.id);
  EXPECT_EQ(t.size(), 0u);
}

TEST(ConsoleSessions, CsrfAndCookie) {
  SessionTable t(kSecond, 4);
  Session s = t.create("ann", Role::kAdmin, 0);
  EXPECT_TRUE(csrf_ok(s, s.csrf));
  EXPECT_FALSE(csrf_ok(s, ""));
  EXPECT_FALSE(csrf_ok(s, s.id));
  EXPECT_FALSE(csrf_ok(s, s.csrf.substr(1)));
  EXPECT_EQ(cookie_value("a=1; strop_console=abc; b=2", "strop_console"), "abc");
  EXPECT_EQ(cookie_value("strop_console=x", "strop_console"), "x");
  EXPECT_EQ(cookie_value("xstrop_console=x", "strop_console"), "");
  EXPECT_EQ(cookie_value("", "strop_console"), "");
}

TEST(ConsoleThrottle, FailuresPerAddressPerWindow) {
  LoginThrottle t(3, 60 * kSecond, 2);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(t.allowed("1.2.3.4", i));
    t.failed("1.2.3.4", i);
  }
  EXPECT_FALSE(t.allowed("1.2.3.4", 10 * kSecond));
  EXPECT_TRUE(t.allowed("5.6.7.8", 10 * kSecond));
  EXPECT_TRUE(t.allowed("1.2.3.4", 61 * kSecond));  // the window passed
  t.failed("1.2.3.4", 62 * kSecond);
  t.succeeded("1.2.3.4");
  EXPECT_TRUE(t.allowed("1.2.3.4", 62 * kSecond));
  // Bounded: a third address pushes the oldest out.
  t.failed("a", 1);
  t.failed("b", 2);
  t.failed("c", 3);
  EXPECT_TRUE(t.allowed("a", 4));
}

TEST(ConsoleSeries, RingKeepsTheLastSamplesInOrder) {
  SeriesRing r(3);
  for (int i = 1; i <= 5; ++i) r.push({i, {static_cast<double>(i)}});
  auto s = r.snapshot();
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].unix_seconds, 3);
  EXPECT_EQ(s[2].unix_seconds, 5);
}

TEST(ConsoleTopK, SpaceSavingKeepsFrequentKeys) {
  TopK k(2);
  for (int i = 0; i < 5; ++i) k.add("body:a");
  for (int i = 0; i < 3; ++i) k.add("url:b");
  k.add("fuzzy:c");  // replaces url:b's counter (3) and inherits it as error
  auto t = k.top(10);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].key, "body:a");
  EXPECT_EQ(t[0].count, 5u);
  EXPECT_EQ(t[1].key, "fuzzy:c");
  EXPECT_EQ(t[1].count, 4u);
  EXPECT_EQ(t[1].error, 3u);
  EXPECT_EQ(k.total(), 9u);
  EXPECT_EQ(k.top(1).size(), 1u);
}

TEST(ConsoleFigures, BucketQuantile) {
  std::vector<double> bounds = {0.001, 0.01, 0.1};
  EXPECT_EQ(bucket_quantile(0.99, bounds, {0, 0, 0, 0}), 0);
  EXPECT_EQ(bucket_quantile(0.99, bounds, {100, 0, 0, 0}), 0.001);
  EXPECT_EQ(bucket_quantile(0.99, bounds, {98, 1, 1, 0}), 0.01);
  EXPECT_EQ(bucket_quantile(0.99, bounds, {98, 0, 1, 1}), 0.1);
  EXPECT_EQ(bucket_quantile(0.99, bounds, {0, 0, 0, 5}), 0.1);  // +Inf: last bound
}

TEST(ConsoleUsers, ParseFormatRoundTripAndLimits) {
  std::vector<User> users = {{"ann", Role::kAdmin, "scrypt$1$1$1$a$b"},
                             {"bob.ro", Role::kReadOnly, "scrypt$2$1$1$c$d"}};
  auto back = parse_users(format_users(users));
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_EQ(back->size(), 2u);
  EXPECT_EQ((*back)[1].name, "bob.ro");
  EXPECT_EQ((*back)[1].role, Role::kReadOnly);
  EXPECT_EQ((*back)[0].hash, "scrypt$1$1$1$a$b");
  EXPECT_FALSE(parse_users("Ann admin h\n"));
  EXPECT_FALSE(parse_users("ann root h\n"));
  EXPECT_FALSE(parse_users("ann admin\n"));
  EXPECT_FALSE(parse_users(std::string(kMaxUsersFileBytes + 1, '#')));
  EXPECT_FALSE(valid_user_name(std::string(kMaxUserName + 1, 'a')));
  EXPECT_TRUE(valid_user_name("ops-1_a.b"));
}

}  // namespace
}  // namespace strop::node::console
