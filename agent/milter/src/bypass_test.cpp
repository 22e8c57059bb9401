#include "milter/bypass.hpp"

#include <gtest/gtest.h>

namespace strop::milter {
namespace {

TEST(Bypass, CidrMatching) {
  auto c = parse_cidr("10.1.0.0/16");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->contains(*parse_ip("10.1.200.3")));
  EXPECT_FALSE(c->contains(*parse_ip("10.2.0.1")));
  EXPECT_FALSE(c->contains(*parse_ip("::1")));
  auto odd = parse_cidr("192.168.1.128/25");
  EXPECT_TRUE(odd->contains(*parse_ip("192.168.1.200")));
  EXPECT_FALSE(odd->contains(*parse_ip("192.168.1.127")));
  auto v6 = parse_cidr("2001:db8::/32");
  EXPECT_TRUE(v6->contains(*parse_ip("2001:db8:1::5")));
  EXPECT_FALSE(v6->contains(*parse_ip("2001:db9::5")));
  // IPv4-mapped clients match IPv4 networks; a bare address is a /32.
  EXPECT_TRUE(parse_cidr("127.0.0.1")->contains(*parse_ip("::ffff:127.0.0.1")));
  EXPECT_TRUE(parse_cidr("0.0.0.0/0")->contains(*parse_ip("8.8.8.8")));
  EXPECT_FALSE(parse_cidr("10.0.0.0/33").ok());
  EXPECT_FALSE(parse_cidr("nonsense/8").ok());
  EXPECT_FALSE(parse_ip("300.1.1.1"));
  EXPECT_TRUE(parse_ip("[IPv6:::1]"));
}

TEST(Bypass, Glob) {
  EXPECT_TRUE(glob_match("*@example.org", "alice@EXAMPLE.org"));
  EXPECT_FALSE(glob_match("*@example.org", "alice@example.org.evil"));
  EXPECT_TRUE(glob_match("postmaster@*", "postmaster@x"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*a*b*c*", "xxaxxbxxcxx"));
  EXPECT_FALSE(glob_match("*a*b*c*d", std::string(5000, 'a') + "bc"));
}

TEST(Bypass, BareAddress) {
  EXPECT_EQ(bare_address("<Alice@Example.ORG>"), "alice@example.org");
  EXPECT_EQ(bare_address(" bob@x "), "bob@x");
  EXPECT_EQ(bare_address("<>"), "");
}

TEST(Bypass, Decisions) {
  BypassOptions o;
  o.networks = {"192.0.2.0/24"};
  o.senders = {"*@partner.example"};
  o.recipients = {"abuse@*", "postmaster@*"};
  auto b = Bypass::create(o);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->client("192.0.2.7"), "trusted network 192.0.2.0/24");
  EXPECT_FALSE(b->client("198.51.100.1"));
  EXPECT_FALSE(b->client("not an ip"));
  EXPECT_EQ(b->sender("alice", "<x@y>"), "authenticated as alice");
  EXPECT_EQ(b->sender("", "<Bob@Partner.Example>"), "sender matches *@partner.example");
  EXPECT_FALSE(b->sender("", "<bob@other.example>"));
  EXPECT_TRUE(b->recipients({"<abuse@test.local>", "<postmaster@test.local>"}));
  EXPECT_FALSE(b->recipients({"<abuse@test.local>", "<user@test.local>"}));
  EXPECT_FALSE(b->recipients({}));
  o.authenticated = false;
  EXPECT_FALSE(Bypass::create(o)->sender("alice", "<x@y>"));
  o.networks = {"bad"};
  EXPECT_FALSE(Bypass::create(o).ok());
}

}  // namespace
}  // namespace strop::milter
