#include "config.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <toml++/toml.h>

#include "agent/identity.hpp"
#include "agent/node_url.hpp"
#include "protocol/limits.hpp"
#include "strop/version.hpp"

namespace strop::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultsSource = "default";

std::string default_node() {
  return "http://127.0.0.1:" + std::to_string(protocol::kDefaultPort);
}

// Splits "a, b c" into {"a","b","c"}.
std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == ',' || c == ' ' || c == '\t' || c == '\n') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string config_home(const GetEnv& getenv) {
  if (const char* x = getenv("XDG_CONFIG_HOME"); x != nullptr && *x != '\0') return x;
  if (const char* h = getenv("HOME"); h != nullptr && *h != '\0') return std::string(h) + "/.config";
  return {};
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

Result<void> apply_file(const std::string& path, AgentConfig* cfg, const GetEnv& getenv) {
  toml::table tbl;
  try {
    tbl = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "config " << path << ":" << e.source().begin.line << ":" << e.source().begin.column
       << ": " << e.description();
    return make_error(Errc::kMalformed, os.str());
  }
  auto bad = [&](const std::string& key, const std::string& why) {
    return make_error(Errc::kInvalidArgument, "config " + path + ": " + key + ": " + why);
  };
  for (const auto& [k, node] : tbl) {
    std::string key(k.str());
    if (key == "node") {
      std::vector<std::string> nodes;
      if (auto s = node.value<std::string>()) {
        nodes = split_list(*s);
      } else if (const auto* arr = node.as_array()) {
        for (const auto& el : *arr) {
          auto s2 = el.value<std::string>();
          if (!s2) return bad(key, "expected a list of URL strings");
          nodes.push_back(*s2);
        }
      } else {
        return bad(key, "expected a URL string or a list of them");
      }
      if (nodes.empty()) return bad(key, "empty");
      cfg->nodes = std::move(nodes);
    } else if (key == "identity" || key == "ca_file" || key == "engines") {
      auto s = node.value<std::string>();
      if (!s) return bad(key, "expected a string");
      if (key == "identity") cfg->identity = expand_home(*s, getenv);
      if (key == "ca_file") cfg->ca_file = expand_home(*s, getenv);
      if (key == "engines") cfg->engines = *s;
    } else if (key == "timeout" || key == "cache_ttl") {
      auto d = node.value<double>();  // integers convert
      if (!d || !std::isfinite(*d) || *d < 0) return bad(key, "expected a number of seconds >= 0");
      if (key == "timeout") {
        if (*d <= 0) return bad(key, "must be > 0");
        cfg->timeout_s = *d;
      } else {
        cfg->cache_ttl_s = *d;
      }
    } else if (key == "tls_verify") {
      auto b = node.value<bool>();
      if (!b) return bad(key, "expected true or false");
      cfg->tls_verify = *b;
    } else if (key == "batch") {
      auto n = node.value<std::int64_t>();
      if (!n || *n < 1 || *n > 100000) return bad(key, "expected an integer 1..100000");
      cfg->batch = static_cast<std::size_t>(*n);
    } else {
      return bad(key, "unknown key (known: node, identity, timeout, ca_file, tls_verify, "
                      "cache_ttl, batch, engines)");
    }
    cfg->source[key] = path;
  }
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
  for (const char* k : {"node", "identity", "timeout", "ca_file", "tls_verify", "cache_ttl",
                        "batch", "engines"}) {
    cfg.source[k] = kDefaultsSource;
  }
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
    auto nodes = split_list(n);
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
      for (auto& part : split_list(n)) cfg.nodes.push_back(std::move(part));
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
    if (!u) return make_error(Errc::kInvalidArgument, u.error().message + " (from " + cfg.source["node"] + ")");
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
  std::ostringstream os;
  os << "# strop agent configuration (effective values)\n";
  os << "# config file: " << (c.file.empty() ? "none" : c.file) << "\n";
  auto src = [&](const char* k) {
    auto it = c.source.find(k);
    return "  # " + (it == c.source.end() ? std::string(kDefaultsSource) : it->second);
  };
  os << "node = [";
  for (std::size_t i = 0; i < c.nodes.size(); ++i) os << (i ? ", " : "") << quote(c.nodes[i]);
  os << "]" << src("node") << "\n";
  os << "identity = " << quote(c.identity) << src("identity") << "\n";
  os << "timeout = " << c.timeout_s << src("timeout") << "\n";
  os << "ca_file = " << quote(c.ca_file) << src("ca_file") << "\n";
  os << "tls_verify = " << (c.tls_verify ? "true" : "false") << src("tls_verify") << "\n";
  os << "cache_ttl = " << c.cache_ttl_s << src("cache_ttl") << "\n";
  os << "batch = " << c.batch << src("batch") << "\n";
  os << "engines = " << quote(c.engines) << src("engines") << "\n";
  return os.str();
}

Result<agent::ClientOptions> client_options(const AgentConfig& c) {
  agent::ClientOptions o;
  o.nodes = c.nodes;
  o.timeout = std::chrono::milliseconds(static_cast<long long>(std::llround(c.timeout_s * 1000)));
  o.ca_file = c.ca_file;
  o.tls_verify = c.tls_verify;
  o.cache_ttl = std::chrono::milliseconds(static_cast<long long>(std::llround(c.cache_ttl_s * 1000)));
  o.max_batch = c.batch;
  auto mask = sigs::EngineMask::parse(c.engines);
  if (!mask) return mask.error();
  o.sig_options.engines = *mask;
  o.user_agent = "strop/" + std::string(kVersion);
  return o;
}

}  // namespace strop::cli
