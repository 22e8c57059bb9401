#include "agent/node_url.hpp"

#include <gtest/gtest.h>

namespace strop::agent {
namespace {

TEST(NodeUrl, ParsesHttpWithPort) {
  auto u = parse_node_url("http://127.0.0.1:7713");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "7713");
  EXPECT_EQ(u->base_path, "");
  EXPECT_EQ(u->text, "http://127.0.0.1:7713");
}

TEST(NodeUrl, DefaultsPortBySchemeAndKeepsPrefix) {
  auto u = parse_node_url("HTTPS://strop.example.org/api/");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->base_path, "/api");
  EXPECT_EQ(u->text, "https://strop.example.org:443/api");
  auto plain = parse_node_url("node.example:8080");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "node.example");
}

TEST(NodeUrl, Ipv6Literal) {
  auto u = parse_node_url("http://[::1]:9000");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->host_header(), "[::1]:9000");
}

TEST(NodeUrl, RejectsBadInput) {
  for (const char* bad :
       {"", "ftp://x", "http://", "http://:80", "http://h:0", "http://h:70000", "http://h:8x",
        "http://h/?q=1", "http://u@h", "http://::1:80", "http://[::1", "http://h:"}) {
    auto u = parse_node_url(bad);
    EXPECT_FALSE(u.ok()) << bad;
    if (!u.ok()) {
      EXPECT_EQ(u.error().code, Errc::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace strop::agent
