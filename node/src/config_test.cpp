#include "node/config.hpp"

#include <gtest/gtest.h>

namespace strop::node {
namespace {

TEST(Config, DefaultsWhenEmpty) {
  auto c = parse_config("");
  ASSERT_TRUE(c.ok()) << c.error().message;
  Config d;
  EXPECT_EQ(c->data_dir, "/var/lib/strop");
  EXPECT_EQ(c->listen, "127.0.0.1:7420");
  EXPECT_EQ(c->limits.max_body_bytes, d.limits.max_body_bytes);
  EXPECT_EQ(c->store.max_batch_ops, storage::StoreOptions{}.max_batch_ops);
  EXPECT_TRUE(validate(*c).ok());
}

TEST(Config, OverridesEveryKind) {
  auto c = parse_config(R"(
[node]
data_dir = "/srv/strop"
listen = "0.0.0.0:9000"
threads = 3
[api]
anonymous_check = false
max_messages = 10
idle_timeout_ms = 1500
[rate_limit]
ip_per_second = 5
reporter_burst = 2.5
[storage]
max_batch_delay_us = 200
expire_after_seconds = 3600
verdict_engines = "body,fuzzy"
threshold = 60
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->data_dir, "/srv/strop");
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->threads, 3u);
  EXPECT_FALSE(c->anonymous_check);
  EXPECT_EQ(c->limits.max_messages, 10u);
  EXPECT_EQ(c->idle_timeout, std::chrono::milliseconds(1500));
  EXPECT_DOUBLE_EQ(c->ip_limit.per_second, 5.0);
  EXPECT_DOUBLE_EQ(c->reporter_limit.burst, 2.5);
  EXPECT_EQ(c->store.max_batch_delay, std::chrono::microseconds(200));
  EXPECT_EQ(c->store.expire_after, std::chrono::seconds(3600));
  EXPECT_TRUE(c->store.verdict_engines.has(sigs::Engine::kFuzzy));
  EXPECT_FALSE(c->store.verdict_engines.has(sigs::Engine::kUrl));
  EXPECT_EQ(c->store.threshold, 60);
}

TEST(Config, RejectsUnknownKeysAndBadTypes) {
  auto unknown = parse_config("[api]\nmax_mesages = 3\n", "x.toml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("api.max_mesages"), std::string::npos)
      << unknown.error().message;
  EXPECT_NE(unknown.error().message.find("x.toml:2"), std::string::npos) << unknown.error().message;
  EXPECT_FALSE(parse_config("[nope]\na = 1\n").ok());
  EXPECT_FALSE(parse_config("toplevel = 1\n").ok());
  EXPECT_FALSE(parse_config("[node]\nthreads = \"two\"\n").ok());
  EXPECT_FALSE(parse_config("[node]\nthreads = -1\n").ok());
  EXPECT_FALSE(parse_config("[api]\nanonymous_check = 1\n").ok());
  EXPECT_FALSE(parse_config("[storage]\nverdict_engines = \"nope\"\n").ok());
  auto syntax = parse_config("[node\n");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().code, Errc::kInvalidArgument);
}

// One error format for every key: FILE:LINE:COL: section.key: message.
TEST(Config, ErrorsNamePositionAndKey) {
  EXPECT_EQ(parse_config("[api]\nmax_messages = 0\n", "x.toml").error().message,
            "x.toml:2:16: api.max_messages: 0 is outside 1..1000000");
  EXPECT_EQ(parse_config("[api]\nmax_mesages = 3\n", "x.toml").error().message,
            "x.toml:2:1: api.max_mesages: unknown key (did you mean \"max_messages\"?)");
  EXPECT_EQ(parse_config("[node]\nlog = \"file\"\n", "x.toml").error().message,
            "x.toml:2:7: node.log: unknown value \"file\" (stderr or syslog)");
  EXPECT_EQ(parse_config("[rate_limit]\nip_burst = -1\n", "x.toml").error().message,
            "x.toml:2:12: rate_limit.ip_burst: -1 is outside 0..1000000000");
  EXPECT_EQ(parse_config("[storage]\nverdict_engines = 3\n", "x.toml").error().message,
            "x.toml:2:19: storage.verdict_engines: expected a string");
}

// --print-config notes where each value came from; strings are escaped, so it stays TOML.
TEST(Config, PrintedConfigShowsSources) {
  config::Sources sources;
  auto c = parse_config("[node]\nthreads = 3\n", "n.toml", &sources);
  ASSERT_TRUE(c.ok()) << c.error().message;
  c->listen = "127.0.0.1:9";  // a flag
  c->public_url = "http://x/\x01\x7f";
  std::string text = to_toml(*c, &sources);
  EXPECT_NE(text.find("(from: file n.toml)\nthreads = 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(from: flag)\nlisten = \"127.0.0.1:9\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("(from: default)\ndata_dir = "), std::string::npos) << text;
  EXPECT_NE(text.find("public_url = \"http://x/\\u0001\\u007f\"\n"), std::string::npos) << text;
  // Without recorded sources, a value other than the default came from the file or a flag.
  EXPECT_NE(to_toml(*c).find("(from: file or flag)\nthreads = 3\n"), std::string::npos);
  auto back = parse_config(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->public_url, c->public_url);
}

TEST(Config, PrintedConfigParsesBackToTheSame) {
  Config c;
  c.data_dir = "/tmp/with \"quote\"";
  c.ip_limit = {12.5, 40};
  c.store.verdict_engines = sigs::EngineMask::native();
  auto text = to_toml(c);
  auto back = parse_config(text);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
  EXPECT_EQ(to_toml(*back), text);
  EXPECT_EQ(back->data_dir, c.data_dir);
  EXPECT_NE(text.find("[storage]"), std::string::npos);
}

TEST(Config, Validate) {
  Config c;
  c.tls_cert = "cert.pem";
  EXPECT_FALSE(validate(c).ok());
  c.tls_key = "key.pem";
  EXPECT_TRUE(validate(c).ok());
  c.listen = "nope";
  EXPECT_FALSE(validate(c).ok());
  c.listen = "127.0.0.1:1";
  c.log = "file";
  EXPECT_FALSE(validate(c).ok());
}

// One set of log levels in every Strop program (spdlog's names), one error text.
TEST(Config, LogLevelsAreTheSharedSet) {
  Config c;
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    c.log_level = level;
    EXPECT_TRUE(validate(c).ok()) << level;
  }
  c.log_level = "loud";
  auto r = validate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "node.log_level: unknown log level \"loud\" (trace, debug, info, warn, error, critical "
            "or off)");
}

TEST(Config, ParseListenAndBaseUrl) {
  auto a = parse_listen("127.0.0.1:0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 0);
  auto v6 = parse_listen("[::1]:7420");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7420);
  EXPECT_FALSE(parse_listen("127.0.0.1").ok());
  EXPECT_FALSE(parse_listen("127.0.0.1:70000").ok());
  EXPECT_FALSE(parse_listen(":80").ok());
  Config c;
  EXPECT_EQ(base_url(c), "http://127.0.0.1:7420");
  EXPECT_EQ(base_url(c, 9999), "http://127.0.0.1:9999");
  c.tls_cert = "x";
  c.listen = "0.0.0.0:443";
  EXPECT_EQ(base_url(c), "https://127.0.0.1:443");
  c.public_url = "https://strop.example.org";
  EXPECT_EQ(base_url(c), "https://strop.example.org");
}

}  // namespace
}  // namespace strop::node

namespace strop::node {
namespace {

TEST(Config, LogFormatAdminListenAndUdpAuto) {
  auto c = parse_config("[node]\nlog_format = \"json\"\n[admin]\nlisten = \"127.0.0.1:9470\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->log_format, "json");
  EXPECT_EQ(c->admin.listen, "127.0.0.1:9470");
  EXPECT_TRUE(validate(*c).ok());
  EXPECT_FALSE(parse_config("[node]\nlog_format = \"xml\"\n").ok());
  c->admin.listen = "nonsense";
  auto v = validate(*c);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.error().message.rfind("admin.listen: ", 0), 0u) << v.error().message;

  // udp.listen = "auto" (the default): the API's address and bound port, on UDP.
  Config d;
  EXPECT_EQ(d.udp.listen, "auto");
  EXPECT_EQ(d.admin.listen, "off");
  EXPECT_EQ(udp_listen_address(d, 0), "127.0.0.1:7420");
  d.listen = "[::1]:0";
  EXPECT_EQ(udp_listen_address(d, 41000), "[::1]:41000");
  d.anonymous_check = false;  // signed checks only: auto is off, and valid
  EXPECT_EQ(udp_listen_address(d, 41000), "off");
  EXPECT_TRUE(validate(d).ok());
  d.udp.listen = "127.0.0.1:7421";  // explicit: still refused
  EXPECT_FALSE(validate(d).ok());
}

}  // namespace
}  // namespace strop::node
