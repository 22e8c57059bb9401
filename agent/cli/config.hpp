// config.hpp: the `strop` CLI's agent configuration (TOML), merged with the environment and
// the global flags into one effective AgentConfig.
//
// Precedence, highest first: flags (--node, --identity, --timeout) > environment
// (STROP_NODE, STROP_IDENTITY) > config file > the node named in the identity file (for the
// node only) > built-in defaults. The config file is --config FILE if given (it must exist),
// else the first of $XDG_CONFIG_HOME/strop/agent.toml (or ~/.config/strop/agent.toml) and
// /etc/strop/agent.toml that exists. Every default is declared once, in AgentConfig.
// Not thread-safe; called once from the CLI's main thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "agent/client.hpp"
#include "base/result.hpp"
#include "commands.hpp"

namespace strop::cli {

struct AgentConfig {
  // Node URLs, tried in order. Default: the identity file's node, else
  // http://127.0.0.1:7420. TOML: node = "URL" or node = ["URL", ...].
  std::vector<std::string> nodes;
  // Reporter identity file. Default: ~/.config/strop/identity.json. TOML: identity.
  std::string identity;
  // Seconds allowed for each request to the nodes, failover included. Default: 10.
  double timeout_s = 10;
  // PEM CA certificates for https nodes. Default: "" (system store). TOML: ca_file.
  std::string ca_file;
  // Verify node certificates. Default: true. TOML: tls_verify.
  bool tls_verify = true;
  // Seconds a check verdict is reused within one run. Default: 60. TOML: cache_ttl.
  double cache_ttl_s = 60;
  // Messages per request. Default: 500. TOML: batch.
  std::size_t batch = 500;
  // Signature engines sent to the node. Default: "all" (native and Razor/Pyzor). TOML: engines.
  std::string engines = "all";

  // Where each value came from ("default", "flag", "env STROP_NODE", a file path, ...).
  std::map<std::string, std::string> source;
  // The config file that was read, or "" when none.
  std::string file;
};

// Reads one environment variable; nullptr when unset. Tests inject their own.
using GetEnv = std::function<const char*(const char*)>;

// Builds the effective config. Errors: kIo (an unreadable --config file), kMalformed (TOML
// syntax, "FILE:LINE:COL: description"), kInvalidArgument (unknown keys, values of the wrong
// type or out of range: "FILE:LINE:COL: key: message"; bad node URLs or engines name their
// source). The keys are one table in config.cpp (base/config_table.hpp).
Result<AgentConfig> load_agent_config(const GlobalOptions& globals, const GetEnv& getenv);
Result<AgentConfig> load_agent_config(const GlobalOptions& globals);  // the process env

// The effective config as TOML (always valid: strings escaped), each line commented with its
// source: `timeout = 10  # default`.
std::string render_config(const AgentConfig& config);

// Client options for `config` (identity not loaded; see load_identity).
Result<agent::ClientOptions> client_options(const AgentConfig& config);

// "~/x" -> "$HOME/x"; other paths unchanged.
std::string expand_home(const std::string& path, const GetEnv& getenv);

}  // namespace strop::cli
