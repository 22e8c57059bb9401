#include "milter/net.hpp"

#include <gtest/gtest.h>

namespace strop::milter {
namespace {

TEST(Net, ParseEndpointForms) {
  EXPECT_EQ(parse_endpoint("unix:/run/x.sock")->text(), "unix:/run/x.sock");
  EXPECT_EQ(parse_endpoint("/run/x.sock")->text(), "unix:/run/x.sock");
  EXPECT_EQ(parse_endpoint("inet:8891@127.0.0.1")->text(), "127.0.0.1:8891");
  EXPECT_EQ(parse_endpoint("inet:8891")->text(), "127.0.0.1:8891");
  EXPECT_EQ(parse_endpoint("tcp:127.0.0.1:3310")->text(), "127.0.0.1:3310");
  EXPECT_EQ(parse_endpoint("127.0.0.1:3310")->text(), "127.0.0.1:3310");
  EXPECT_EQ(parse_endpoint("[::1]:783")->text(), "[::1]:783");
  EXPECT_EQ(parse_endpoint("inet6:783@::1")->host, "::1");
  EXPECT_FALSE(parse_endpoint("unix:relative").ok());
  EXPECT_FALSE(parse_endpoint("host").ok());
  EXPECT_FALSE(parse_endpoint("host:0").ok());
  EXPECT_TRUE(parse_endpoint("127.0.0.1:0", /*listening=*/true).ok());
  EXPECT_FALSE(parse_endpoint("host:99999").ok());
  EXPECT_FALSE(parse_endpoint("unix:/" + std::string(200, 'a')).ok());
}

TEST(Net, ConnectRefusedIsUnavailable) {
  auto s = connect_to(*parse_endpoint("127.0.0.1:1"), Deadline::after(std::chrono::seconds(2)));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, Errc::kUnavailable);
}

TEST(Net, RecvTimesOut) {
  auto l = listen_tcp(*parse_endpoint("127.0.0.1:0", true), 4);
  ASSERT_TRUE(l.ok());
  Endpoint ep = *parse_endpoint("127.0.0.1:" + std::to_string(local_port(*l)));
  auto c = connect_to(ep, Deadline::after(std::chrono::seconds(2)));
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  char buf[4];
  auto n = recv_some(*c, buf, sizeof buf, Deadline::after(std::chrono::milliseconds(50)));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().code, Errc::kTimeout);
}

TEST(Deadline, MinAndRemaining) {
  auto never = Deadline::never();
  EXPECT_FALSE(never.expired());
  EXPECT_EQ(never.poll_ms(), -1);
  auto soon = Deadline::after(std::chrono::milliseconds(100));
  EXPECT_TRUE(soon.finite());
  EXPECT_EQ(never.min(soon).at(), soon.at());
  EXPECT_EQ(soon.min(never).at(), soon.at());
  EXPECT_LE(soon.remaining().count(), 100);
  EXPECT_TRUE(Deadline(Clock::now() - std::chrono::seconds(1)).expired());
  EXPECT_EQ(Deadline(Clock::now() - std::chrono::seconds(1)).poll_ms(), 0);
}

}  // namespace
}  // namespace strop::milter
