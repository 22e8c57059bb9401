#include "milter/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>

namespace strop::milter {
namespace {

TEST(Config, DefaultsAreValidAndRoundTrip) {
  Config c;
  ASSERT_TRUE(validate(c).ok());
  std::string text = print_config(c);
  auto back = parse_config(text);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
  EXPECT_EQ(print_config(*back), text);
  // Defaults that pass mail when a stage is absent: clamd and the node fail open.
  EXPECT_EQ(c.pipeline.policy.clamd_failure, FailMode::kAccept);
  EXPECT_EQ(c.pipeline.policy.lookup_failure, FailMode::kAccept);
  EXPECT_TRUE(c.clamd_enabled);
  EXPECT_EQ(c.node_urls, std::vector<std::string>{"udp://127.0.0.1:7420"});
  EXPECT_EQ(c.log_format, "text");
  EXPECT_EQ(c.pipeline.policy.spamd_failure, FailMode::kAccept);
}

TEST(Config, LogFormat) {
  auto c = parse_config("[log]\nformat = \"json\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->log_format, "json");
  EXPECT_FALSE(parse_config("[log]\nformat = \"xml\"\n").ok());
}

TEST(Config, ReadsEverySection) {
  auto c = parse_config(R"(
[milter]
socket = "inet:8891@127.0.0.1"
socket_mode = "0666"
[log]
level = "debug"
[budget]
total_ms = 5000
[buffer]
memory_per_message = 4096
spool_dir = "/tmp"
[clamd]
addresses = ["unix:/tmp/clamd.sock", "127.0.0.1:3310"]
on_failure = "accept"
on_oversize = "reject"
timeout_ms = 3000
[node]
urls = ["http://127.0.0.1:7420"]
spam_traps = ["<Trap@Test.Local>"]
report_threshold = 30
[spamd]
enabled = true
address = "127.0.0.1:7830"
[rules]
file = "/etc/strop/milter.rules"
[policy]
tag_threshold = 4
reject_threshold = 12.5
virus_action = "quarantine"
subject_tag = "[SPAM]"
incoming_headers = "rename"
[quarantine]
method = "hold"
[bypass]
networks = ["10.0.0.0/8"]
authenticated = false
[metrics]
listen = "127.0.0.1:9466"
)");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->socket, "inet:8891@127.0.0.1");
  EXPECT_EQ(c->socket_mode, 0666);
  EXPECT_EQ(c->pipeline.budget.count(), 5000);
  EXPECT_EQ(c->buffer.memory_per_message, 4096u);
  EXPECT_EQ(c->clamd_addresses.size(), 2u);
  EXPECT_EQ(c->pipeline.policy.clamd_failure, FailMode::kAccept);
  EXPECT_EQ(c->pipeline.policy.oversize_action, Action::kReject);
  EXPECT_EQ(c->pipeline.clamd_timeout.count(), 3000);
  EXPECT_EQ(c->pipeline.spam_traps, std::vector<std::string>{"trap@test.local"});
  EXPECT_EQ(c->pipeline.report_threshold, 30);
  EXPECT_TRUE(c->spamd_enabled);
  EXPECT_EQ(c->pipeline.policy.tag_threshold, 4);
  EXPECT_EQ(c->pipeline.policy.reject_threshold, 12.5);
  EXPECT_EQ(c->pipeline.policy.virus_action, Action::kQuarantine);
  EXPECT_EQ(c->pipeline.headers.incoming, IncomingMode::kRename);
  EXPECT_EQ(c->pipeline.quarantine_method, QuarantineMethod::kHold);
  EXPECT_FALSE(c->bypass.authenticated);
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:9466");
  EXPECT_TRUE(validate(*c).ok());
}

TEST(Config, UnknownKeysAndBadTypesAreErrors) {
  EXPECT_EQ(parse_config("[clamd]\naddress = \"x\"\n").error().message,
            "config:2:1: clamd.address: unknown key (did you mean \"addresses\"?)");
  EXPECT_EQ(parse_config("[nope]\n").error().message,
            "config:1:2: nope: unknown section (did you mean \"node\"?)");
  EXPECT_EQ(parse_config("[budget]\ntotal_ms = \"5s\"\n").error().message,
            "config:2:12: budget.total_ms: expected an integer");
  EXPECT_EQ(parse_config("[budget]\ntotal_ms = 0\n").error().message,
            "config:2:12: budget.total_ms: 0 is outside 1..3600000");
  EXPECT_EQ(parse_config("[policy]\nvirus_action = \"bounce\"\n").error().message,
            "config:2:16: policy.virus_action: unknown action 'bounce' (accept, tag, reject, "
            "discard, quarantine, tempfail)");
  EXPECT_EQ(parse_config("[milter]\nsocket_mode = \"0999\"\n").error().message,
            "config:2:15: milter.socket_mode: expected octal like \"0660\"");
  // Found by config_fuzz: a long value once overflowed the mode before being refused.
  EXPECT_EQ(parse_config("[milter]\nsocket_mode = \"06max_batch_queries = 60\"\n").error().message,
            "config:2:15: milter.socket_mode: expected octal like \"0660\"");
  auto syntax = parse_config("[milter\n", "f.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_TRUE(syntax.error().message.starts_with("f.toml:1:")) << syntax.error().message;
}

// Durations are named after their unit (_ms, _seconds); the earlier mta_timeout_s still reads.
TEST(Config, DurationKeysFollowTheUnitConvention) {
  auto c = parse_config("[milter]\nmta_timeout_s = 600\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->mta_timeout_s, 600);
  EXPECT_NE(print_config(*c).find("\nmta_timeout_seconds = 600\n"), std::string::npos);
  c = parse_config("[milter]\nmta_timeout_seconds = 601\nsocket_mode = 644\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->mta_timeout_s, 601);
  EXPECT_EQ(c->socket_mode, 0644);
  EXPECT_FALSE(parse_config("[milter]\nmta_timeout_s = 1\nmta_timeout_seconds = 2\n").ok());
}

// --print-config: valid TOML whatever the strings hold, and where each value came from.
TEST(Config, PrintedConfigIsValidTomlAndShowsSources) {
  std::string path = ::testing::TempDir() + "strop-milter-config-test.toml";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("[policy]\nsubject_tag = \"[SPAM]\"\n[budget]\ntotal_ms = 5000\n", f);
    std::fclose(f);
  }
  auto c = load_config_file(path);
  std::remove(path.c_str());
  ASSERT_TRUE(c.ok()) << c.error().message;
  c->socket = "inet:9999@127.0.0.1";  // as main.cpp applies --socket
  c->pipeline.policy.spam_reply = "line\nbreak \x1b[31m \"quoted\"";
  std::string text = print_config(*c);
  EXPECT_NE(text.find("(from: file " + path + ")\nsubject_tag = \"[SPAM]\"\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("(from: flag)\nsocket = \"inet:9999@127.0.0.1\"\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("(from: default)\nbacklog = 128\n"), std::string::npos) << text;
  EXPECT_NE(text.find("spam_reply = \"line\\nbreak \\u001b[31m \\\"quoted\\\"\"\n"),
            std::string::npos)
      << text;
  auto back = parse_config(text);
  ASSERT_TRUE(back.ok()) << back.error().message << "\n" << text;
  EXPECT_EQ(back->pipeline.policy.spam_reply, c->pipeline.policy.spam_reply);
  EXPECT_EQ(back->pipeline.budget.count(), 5000);
}

// One set of log levels in every Strop program (spdlog's names), one error text.
TEST(Config, LogLevelsAreTheSharedSet) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    auto c = parse_config(std::string("[log]\nlevel = \"") + level + "\"\n");
    ASSERT_TRUE(c.ok()) << c.error().message;
    EXPECT_TRUE(validate(*c).ok()) << level;
  }
  Config c;
  c.log_level = "loud";
  auto r = validate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "log.level: unknown log level \"loud\" (trace, debug, info, warn, error, critical or "
            "off)");
}

TEST(Config, ValidateCrossChecks) {
  Config c;
  c.pipeline.policy.virus_action = Action::kAccept;
  EXPECT_FALSE(validate(c).ok());
  c = Config{};
  c.pipeline.policy.reject_threshold = 1;
  EXPECT_FALSE(validate(c).ok());
  c = Config{};
  c.clamd_addresses = {"not an address"};
  EXPECT_FALSE(validate(c).ok());
  c = Config{};
  c.node_urls = {"ftp://x"};
  EXPECT_FALSE(validate(c).ok());
  c = Config{};
  c.node_urls = {"udp://127.0.0.1:7421"};  // strop-udp/1 checks
  EXPECT_TRUE(validate(c).ok());
  c.node_identity = "/etc/strop/milter.json";  // auto-report needs an http(s) node
  auto r = validate(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("needs an http(s) URL"), std::string::npos);
  c.node_urls.push_back("http://127.0.0.1:7420");
  EXPECT_TRUE(validate(c).ok());
  c = Config{};
  c.socket = "bogus";
  EXPECT_FALSE(validate(c).ok());
}

}  // namespace
}  // namespace strop::milter
