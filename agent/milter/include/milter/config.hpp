// config.hpp: strop-milter's configuration: every option with its default declared once
// (here), loading from a TOML file (unknown keys are errors, so typos do not pass silently),
// command-line overrides, and printing the effective configuration as TOML
// (--print-config). The keys, their types and ranges are one table in config.cpp
// (base/config_table.hpp). The file format is documented in docs/milter.md.
// Pure apart from load_config_file() reading one file; a Config is a plain value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/config_table.hpp"
#include "base/result.hpp"
#include "milter/buffer.hpp"
#include "milter/bypass.hpp"
#include "milter/pipeline.hpp"

namespace strop::milter {

struct Config {
  // [milter]
  std::string socket = "unix:/run/strop-milter/milter.sock";  // unix:PATH | inet:PORT@ADDR
  int socket_mode = 0660;  // Default: 0660 for a unix socket (0666 if the MTA user differs)
  int backlog = 128;       // Default: 128 pending MTA connections
  // Default: 7210 s, libmilter's I/O timeout towards the MTA. TOML: mta_timeout_seconds
  // (the earlier name mta_timeout_s is still read).
  int mta_timeout_s = 7210;
  std::size_t max_recipients = 1000;  // Default: 1000 recipients remembered per message
  std::size_t max_headers = 1000;     // Default: 1000 headers remembered per message
  std::string no_reply = "auto";      // auto (unix sockets: yes, TCP: no) | yes | no
  // [log]
  std::string log_level = "info";     // trace|debug|info|warn|error|critical|off (log_level.hpp)
  std::string log_target = "stderr";  // stderr | syslog (LOG_MAIL)
  std::string log_format = "text";    // text | json (base/log.hpp)
  // [buffer]
  BufferOptions buffer;
  std::size_t memory_total = 256u << 20;  // Default: 256 MiB across all messages
  // [clamd]
  bool clamd_enabled = true;
  std::vector<std::string> clamd_addresses = {"unix:/run/clamav/clamd.ctl"};
  std::size_t clamd_chunk_bytes = 64u << 10;
  int clamd_connect_timeout_ms = 1000;
  // [node]
  // Default: the local node's strop-udp/1 listener (strop-node's udp.listen = "auto" on its
  // default node.listen); [] switches the lookup stage off.
  std::vector<std::string> node_urls = {"udp://127.0.0.1:7420"};
  std::string node_identity;      // reporter identity file for auto-report
  int node_cache_ttl_ms = 60000;  // Default: 60 s verdict cache (0 = off)
  std::string node_ca_file;       // Default: "" (system CA store) for https nodes
  // [spamd]
  bool spamd_enabled = false;
  std::string spamd_address = "127.0.0.1:783";
  std::string spamd_user = "nobody";
  // [rules]
  std::string rules_file;  // Default: none (built-in rules only)
  // [metrics]
  std::string metrics_listen;  // Default: "" (off); e.g. "127.0.0.1:9466"
  // [bypass]
  BypassOptions bypass;
  // Budget, timeouts, size limits, policy, quarantine, auto-report, headers:
  PipelineOptions pipeline;

  // Where load_config_file() found each key ("file PATH"); --print-config shows it, "flag"
  // for a value changed since, "default" for the rest.
  config::Sources sources;
};

// Defaults plus the file's values. Errors: kNotFound (unreadable), kLimitExceeded (over 1 MiB),
// kInvalidArgument ("FILE:LINE:COL: section.key: message", or "FILE:LINE:COL: message" for
// TOML syntax).
Result<Config> load_config_file(const std::string& path);
// As load_config_file, from TOML text (tests).
Result<Config> parse_config(std::string_view toml_text, std::string_view source = "config");

// Cross-field checks (actions allowed per outcome, thresholds, endpoints parse).
Result<void> validate(const Config& c);

// The effective configuration as TOML that parse_config() reads back unchanged, each key
// under a comment with its doc and where its value came from.
std::string print_config(const Config& c);

}  // namespace strop::milter
