// config.cpp: the `strop` CLI's key table (config::Table, base/config_table.hpp): every key
// of agent.toml once, with its type, range and doc line; the table drives loading, errors
// and --print-config. Environment and flags are applied over the file here.
#include "config.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "agent/identity.hpp"
#include "agent/node_url.hpp"
#include "base/config_table.hpp"
#include "protocol/limits.hpp"
#include "strop/version.hpp"

namespace strop::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultsSource = "default";

std::string default_node() { return "http://127.0.0.1:" + std::to_string(protocol::kDefaultPort); }

std::string config_home(const GetEnv& getenv) {
  if (const char* x = getenv("XDG_CONFIG_HOME"); x != nullptr && *x != '\0') return x;
  if (const char* h = getenv("HOME"); h != nullptr && *h != '\0')
    return std::string(h) + "/.config";
  return {};
}

// node = "URL" (comma- or blank-separated) or ["URL", ...]; never empty.
config::Key<AgentConfig> node_key() {
  auto k = config::string_list_key<AgentConfig>("", "node", "node URLs, tried in order",
                                                &AgentConfig::nodes);
  k.info.string_as_list = true;
  k.set = [](AgentConfig& c, const config::Value& v) -> Result<void> {
    const auto& nodes = std::get<std::vector<std::string>>(v);
    if (nodes.empty()) return make_error(Errc::kInvalidArgument, "empty");
    c.nodes = nodes;
    return {};
  };
  return k;
}

const config::Table<AgentConfig>& table() {
  using C = AgentConfig;
  static const config::Table<C> kTable({
      node_key(),
      config::string_key<C>("", "identity", "reporter identity file (~ expands)", &C::identity),
      config::seconds_key<C>("", "timeout", "seconds for each request, failover included",
                             &C::timeout_s, 0.001, 86400),
      config::string_key<C>("", "ca_file", "PEM CA certificates for https nodes (~ expands)",
                            &C::ca_file),
      config::bool_key<C>("", "tls_verify", "verify node certificates", &C::tls_verify),
      config::seconds_key<C>("", "cache_ttl", "seconds a check verdict is reused within one run",
                             &C::cache_ttl_s, 0, 10'000'000),
      config::integer_key<C>("", "batch", "messages per request", &C::batch, 1, 100000),
      config::string_key<C>("", "engines", "signature engines sent to the node", &C::engines),
  });
  return kTable;
}

Result<void> apply_file(const std::string& path, AgentConfig* c, const GetEnv& getenv) {
  auto text = config::read_file(path);
  if (!text) return text.error();
  config::Sources loaded;
  STROP_TRY(table().load(*text, path, *c, &loaded, path));
  for (const auto& [key, origin] : loaded) c->source[key] = origin.label;
  if (loaded.count("identity") != 0) c->identity = expand_home(c->identity, getenv);
  if (loaded.count("ca_file") != 0) c->ca_file = expand_home(c->ca_file, getenv);
  return {};
}

}  // namespace

std::string expand_home(const std::string& path, const GetEnv& getenv) {
  if (path == "~" || path.starts_with("~/")) {
    const char* h = getenv("HOME");
    if (h != nullptr && *h != '\0') return std::string(h) + path.substr(1);
  }
  return path;
}

Result<AgentConfig> load_agent_config(const GlobalOptions& g, const GetEnv& getenv) {
  AgentConfig cfg;
  for (const auto& k : table().keys()) cfg.source[k.info.path()] = kDefaultsSource;
  if (std::string home = config_home(getenv); !home.empty()) {
    cfg.identity = home + "/strop/identity.json";
  }

  // 1. The config file.
  std::string file;
  if (!g.config.empty()) {
    file = expand_home(g.config, getenv);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      return make_error(Errc::kIo, "config " + file + ": " +
                                       (ec ? ec.message() : std::string("not a readable file")));
    }
  } else {
    std::vector<std::string> candidates;
    if (std::string home = config_home(getenv); !home.empty()) {
      candidates.push_back(home + "/strop/agent.toml");
    }
    candidates.push_back("/etc/strop/agent.toml");
    for (const auto& c : candidates) {
      std::error_code ec;
      if (fs::is_regular_file(c, ec)) {
        file = c;
        break;
      }
    }
  }
  if (!file.empty()) {
    auto r = apply_file(file, &cfg, getenv);
    if (!r) return r.error();
    cfg.file = file;
  }

  // 2. The environment.
  if (const char* n = getenv("STROP_NODE"); n != nullptr && *n != '\0') {
    auto nodes = config::split_list(n);
    if (!nodes.empty()) {
      cfg.nodes = std::move(nodes);
      cfg.source["node"] = "env STROP_NODE";
    }
  }
  if (const char* i = getenv("STROP_IDENTITY"); i != nullptr && *i != '\0') {
    cfg.identity = expand_home(i, getenv);
    cfg.source["identity"] = "env STROP_IDENTITY";
  }

  // 3. The flags.
  if (!g.nodes.empty()) {
    cfg.nodes.clear();
    for (const auto& n : g.nodes) {
      for (auto& part : config::split_list(n)) cfg.nodes.push_back(std::move(part));
    }
    cfg.source["node"] = "flag --node";
  }
  if (!g.identity.empty()) {
    cfg.identity = expand_home(g.identity, getenv);
    cfg.source["identity"] = "flag --identity";
  }
  if (g.timeout_s != 0) {
    if (!(g.timeout_s > 0) || !std::isfinite(g.timeout_s)) {
      return make_error(Errc::kInvalidArgument, "--timeout: must be a number of seconds > 0");
    }
    cfg.timeout_s = g.timeout_s;
    cfg.source["timeout"] = "flag --timeout";
  }

  // 4. No node anywhere: the identity file's node, else the local default.
  if (cfg.nodes.empty()) {
    std::error_code ec;
    if (!cfg.identity.empty() && fs::exists(cfg.identity, ec)) {
      auto id = agent::load_identity(cfg.identity);
      if (id && !id->node.empty()) {
        cfg.nodes = {id->node};
        cfg.source["node"] = "identity " + cfg.identity;
      }
    }
    if (cfg.nodes.empty()) cfg.nodes = {default_node()};
  }
  for (const auto& n : cfg.nodes) {
    auto u = agent::parse_node_url(n);
    if (!u)
      return make_error(Errc::kInvalidArgument,
                        u.error().message + " (from " + cfg.source["node"] + ")");
  }
  auto mask = sigs::EngineMask::parse(cfg.engines);
  if (!mask || mask->empty()) {
    return make_error(Errc::kInvalidArgument,
                      "engines '" + cfg.engines + "' (from " + cfg.source["engines"] +
                          "): " + (mask ? std::string("empty") : mask.error().message));
  }
  return cfg;
}

Result<AgentConfig> load_agent_config(const GlobalOptions& g) {
  return load_agent_config(g, [](const char* name) { return std::getenv(name); });
}

std::string render_config(const AgentConfig& c) {
  config::Sources sources;
  for (const auto& [key, label] : c.source) sources[key] = config::Origin{label, std::nullopt};
  config::PrintOptions o;
  o.header = "strop agent configuration (effective values)";
  o.header_lines = {"config file: " + (c.file.empty() ? std::string("none") : c.file)};
  o.inline_sources = true;
  o.sources = &sources;
  return table().print(c, o);
}

Result<agent::ClientOptions> client_options(const AgentConfig& c) {
  agent::ClientOptions o;
  o.nodes = c.nodes;
  o.timeout = std::chrono::milliseconds(static_cast<long long>(std::llround(c.timeout_s * 1000)));
  o.ca_file = c.ca_file;
  o.tls_verify = c.tls_verify;
  o.cache_ttl =
      std::chrono::milliseconds(static_cast<long long>(std::llround(c.cache_ttl_s * 1000)));
  o.max_batch = c.batch;
  auto mask = sigs::EngineMask::parse(c.engines);
  if (!mask) return mask.error();
  o.sig_options.engines = *mask;
  o.user_agent = "strop/" + std::string(kVersion);
  return o;
}

}  // namespace strop::cli
