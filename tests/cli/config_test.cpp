// Unit tests of the `strop` CLI's agent config (agent/cli/config.cpp): precedence of flags,
// environment, config file, the identity file's node and the defaults; TOML errors.
#include "config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "agent/identity.hpp"

namespace strop::cli {
namespace {

namespace fs = std::filesystem;

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("strop-cli-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "home");
    env_["HOME"] = (dir_ / "home").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  GetEnv getenv() {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }
  std::string write(const std::string& rel, const std::string& text) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  std::string user_config(const std::string& text) {
    return write("home/.config/strop/agent.toml", text);
  }

  fs::path dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(ConfigTest, DefaultsWithNothingConfigured) {
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_EQ(c->nodes.size(), 1u);
  EXPECT_EQ(c->nodes[0], "http://127.0.0.1:7420");
  EXPECT_EQ(c->identity, env_["HOME"] + "/.config/strop/identity.json");
  EXPECT_EQ(c->timeout_s, 10);
  EXPECT_EQ(c->batch, 500u);
  EXPECT_EQ(c->engines, "all");
  EXPECT_TRUE(c->tls_verify);
  EXPECT_EQ(c->file, "");
  EXPECT_EQ(c->source["node"], "default");
}

TEST_F(ConfigTest, FileOverridesDefaults) {
  std::string f = user_config(
      "node = [\"http://a.example:1\", \"https://b.example\"]\nidentity = \"~/id.json\"\n"
      "timeout = 2.5\nca_file = \"/etc/ca.pem\"\ntls_verify = false\ncache_ttl = 0\n"
      "batch = 20\nengines = \"native\"\n");
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->file, f);
  EXPECT_EQ(c->nodes, (std::vector<std::string>{"http://a.example:1", "https://b.example"}));
  EXPECT_EQ(c->identity, env_["HOME"] + "/id.json");
  EXPECT_EQ(c->timeout_s, 2.5);
  EXPECT_EQ(c->ca_file, "/etc/ca.pem");
  EXPECT_FALSE(c->tls_verify);
  EXPECT_EQ(c->cache_ttl_s, 0);
  EXPECT_EQ(c->batch, 20u);
  EXPECT_EQ(c->engines, "native");
  EXPECT_EQ(c->source["timeout"], f);
}

TEST_F(ConfigTest, XdgConfigHomeIsSearchedFirst) {
  env_["XDG_CONFIG_HOME"] = (dir_ / "xdg").string();
  std::string f = write("xdg/strop/agent.toml", "node = \"http://xdg.example:1\"\n");
  user_config("node = \"http://home.example:1\"\n");
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->nodes[0], "http://xdg.example:1");
  EXPECT_EQ(c->identity, (dir_ / "xdg" / "strop" / "identity.json").string());
}

TEST_F(ConfigTest, EnvironmentOverridesFile) {
  user_config("node = \"http://file.example:1\"\nidentity = \"/file/id.json\"\n");
  env_["STROP_NODE"] = "http://env1.example:1, http://env2.example:2";
  env_["STROP_IDENTITY"] = "/env/id.json";
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->nodes, (std::vector<std::string>{"http://env1.example:1", "http://env2.example:2"}));
  EXPECT_EQ(c->identity, "/env/id.json");
  EXPECT_EQ(c->source["node"], "env STROP_NODE");
  EXPECT_EQ(c->source["identity"], "env STROP_IDENTITY");
}

TEST_F(ConfigTest, FlagsOverrideEnvironmentAndFile) {
  user_config("node = \"http://file.example:1\"\ntimeout = 3\n");
  env_["STROP_NODE"] = "http://env.example:1";
  env_["STROP_IDENTITY"] = "/env/id.json";
  GlobalOptions g;
  g.nodes = {"http://flag1.example:1", "http://flag2.example:2"};
  g.identity = "/flag/id.json";
  g.timeout_s = 0.5;
  auto c = load_agent_config(g, getenv());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->nodes, g.nodes);
  EXPECT_EQ(c->identity, "/flag/id.json");
  EXPECT_EQ(c->timeout_s, 0.5);
  EXPECT_EQ(c->source["node"], "flag --node");
  EXPECT_EQ(c->source["timeout"], "flag --timeout");
}

TEST_F(ConfigTest, ExplicitConfigFileReplacesTheSearch) {
  user_config("node = \"http://home.example:1\"\nbatch = 7\n");
  GlobalOptions g;
  g.config = write("other.toml", "node = \"http://other.example:1\"\n");
  auto c = load_agent_config(g, getenv());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->nodes[0], "http://other.example:1");
  EXPECT_EQ(c->batch, 500u);  // the user file was not read
  g.config = (dir_ / "missing.toml").string();
  auto m = load_agent_config(g, getenv());
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("missing.toml"), std::string::npos);
}

TEST_F(ConfigTest, IdentityNodeIsUsedWhenNoNodeIsConfigured) {
  std::string id = (dir_ / "home" / ".config" / "strop" / "identity.json").string();
  ASSERT_TRUE(agent::save_identity(id, protocol::Identity{"http://id.example:9", "a", "s"}).ok());
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->nodes[0], "http://id.example:9");
  EXPECT_EQ(c->source["node"], "identity " + id);
  // Any configured node wins over the identity's.
  user_config("node = \"http://file.example:1\"\n");
  auto f = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->nodes[0], "http://file.example:1");
}

TEST_F(ConfigTest, ErrorsNameFileAndKey) {
  std::string f = user_config("nodes = [\"x\"]\n");
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find(f), std::string::npos);
  EXPECT_NE(c.error().message.find("unknown key"), std::string::npos);

  user_config("timeout = \"soon\"\n");
  c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("timeout"), std::string::npos);

  user_config("batch = 0\n");
  EXPECT_FALSE(load_agent_config(GlobalOptions{}, getenv()).ok());

  user_config("node = [\n");
  c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code, Errc::kMalformed);
  EXPECT_NE(c.error().message.find(f + ":"), std::string::npos);

  user_config("engines = \"bogus\"\n");
  EXPECT_FALSE(load_agent_config(GlobalOptions{}, getenv()).ok());

  fs::remove(f);
  GlobalOptions g;
  g.nodes = {"ftp://x"};
  c = load_agent_config(g, getenv());
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("flag --node"), std::string::npos);
  g.nodes.clear();
  g.timeout_s = -1;
  EXPECT_FALSE(load_agent_config(g, getenv()).ok());
}

TEST_F(ConfigTest, RenderShowsValuesAndSources) {
  env_["STROP_NODE"] = "http://env.example:1";
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(c.ok());
  std::string text = render_config(*c);
  EXPECT_NE(text.find("node = [\"http://env.example:1\"]  # env STROP_NODE"), std::string::npos)
      << text;
  EXPECT_NE(text.find("timeout = 10  # default"), std::string::npos) << text;
}

// One error format for every key: FILE:LINE:COL: key: message.
TEST_F(ConfigTest, ErrorsCarryPositions) {
  std::string f = user_config("batch = 20\ntimeout = 0\n");
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, f + ":2:11: timeout: 0 is outside 0.001..86400");
  user_config("nodes = [\"x\"]\n");
  c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, f + ":1:1: nodes: unknown key (did you mean \"node\"?)");
  user_config("node = []\n");
  c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().message, f + ":1:8: node: empty");
}

// The printed config is valid TOML whatever the values hold (control characters escaped).
TEST_F(ConfigTest, RenderEscapesControlCharacters) {
  env_["STROP_IDENTITY"] =
      "/tmp/a\x01"
      "b\tc\"d\x7f";
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  std::string text = render_config(*c);
  EXPECT_NE(text.find("identity = \"/tmp/a\\u0001b\\tc\\\"d\\u007f\"  # env STROP_IDENTITY\n"),
            std::string::npos)
      << text;
  env_.erase("STROP_IDENTITY");  // read it back from the printed file alone
  GlobalOptions g;
  g.config = write("printed.toml", text);
  auto back = load_agent_config(g, getenv());
  ASSERT_TRUE(back.ok()) << back.error().to_string() << "\n" << text;
  EXPECT_EQ(back->identity, c->identity);
  EXPECT_EQ(back->nodes, c->nodes);
  EXPECT_EQ(back->timeout_s, c->timeout_s);
}

TEST_F(ConfigTest, ClientOptionsCarryTheConfig) {
  user_config("timeout = 1.5\ncache_ttl = 2\nbatch = 9\nengines = \"body,fuzzy\"\n");
  auto c = load_agent_config(GlobalOptions{}, getenv());
  ASSERT_TRUE(c.ok());
  auto o = client_options(*c);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->timeout.count(), 1500);
  EXPECT_EQ(o->cache_ttl.count(), 2000);
  EXPECT_EQ(o->max_batch, 9u);
  EXPECT_TRUE(o->sig_options.engines.has(sigs::Engine::kFuzzy));
  EXPECT_FALSE(o->sig_options.engines.has(sigs::Engine::kRazorE4));
}

}  // namespace
}  // namespace strop::cli
