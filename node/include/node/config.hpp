// config.hpp: strop-node's configuration: one typed struct, every default declared once
// (here, or in the library that owns the setting: protocol::Limits, storage::StoreOptions),
// loaded from TOML, overridden by flags, printable as TOML (`--print-config`).
//
// Precedence: flag > file > default. Unknown keys in the file are an error (a typo must not
// silently fall back to a default). docs/operations.md lists every key.
// Thread-safety: plain values; load/print functions are pure apart from reading the file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/config_table.hpp"
#include "base/result.hpp"
#include "node/pyzor_config.hpp"
#include "node/razor_config.hpp"
#include "protocol/limits.hpp"
#include "storage/store.hpp"
#include "strop/version.hpp"

namespace strop::node {

// The version strop-node reports (--version, /v1/state): the one Strop version.
inline constexpr std::string_view kNodeVersion = strop::kVersion;

// A token bucket's parameters. rate <= 0 disables the limit.
struct RateLimit {
  double per_second = 0;  // refill rate (tokens per second)
  double burst = 0;       // bucket size
};

struct Config {
  // [node]
  std::string data_dir = "/var/lib/strop";  // Default: /var/lib/strop (created if missing)
  std::string listen = "127.0.0.1:7420";    // Default: loopback, the native API port
  unsigned threads = 0;                     // I/O threads. Default: 0 = one per core
  std::string log = "stderr";               // "stderr" or "syslog" (facility LOG_MAIL)
  std::string log_level = "info";           // strop/log_level.hpp: trace ... critical, off
  std::string log_format = "text";          // "text" or "json" (base/log.hpp)
  // Public base URL written into identity files; empty: derived from `listen` and TLS.
  std::string public_url;

  // [tls] TLS 1.2+ is enabled when both are set.
  std::string tls_cert;  // PEM certificate chain file. Default: none (plain HTTP)
  std::string tls_key;   // PEM private key file. Default: none

  // [api]
  bool anonymous_check = true;                  // Default: checks need no signature
  bool open_registration = true;                // Default: unsigned /v1/register allowed
  std::int64_t signing_window_seconds = 300;    // Default: +-5 minutes of clock skew
  std::size_t nonce_cache_entries = 1'000'000;  // in-memory replay cache bound. Default: 1M
  // In-memory replay cache partition of one reporter (native and Pyzor); a reporter whose
  // partition is full of unexpired nonces gets 503, others are unaffected. Default: 100000
  // (reporter_per_second 200 x a 300 s window fits).
  std::size_t nonce_cache_per_reporter = 100'000;
  protocol::Limits limits;              // [api] max_body_bytes, max_messages, ...
  std::size_t max_header_bytes = 8192;  // request line + header fields. Default: 8 KiB
  std::size_t max_connections = 1024;   // concurrent connections. Default: 1024
  // Connection fairness (node/conn_guard.hpp), per client IPv4 address or IPv6 /64:
  std::size_t max_connections_per_address = 64;  // concurrent connections. Default: 64
  // Slots of max_connections only an address with no open connection may take (at most a
  // quarter of max_connections is kept). Default: 128
  std::size_t reserved_connections = 128;
  // Request bodies being received, summed over the address's connections (an address
  // receiving no other body may always send one of max_body_bytes). Default: 8 MiB
  std::size_t max_body_bytes_per_address = 8u << 20;
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive idle wait. Default: 60 s
  // One request, first byte to last; a new connection's first request (TLS handshake
  // included) from accept, however long the peer stays silent. Default: 10 s
  std::chrono::milliseconds read_timeout{10'000};
  std::chrono::milliseconds write_timeout{10'000};     // one response. Default: 10 s
  std::chrono::milliseconds shutdown_timeout{10'000};  // SIGTERM: in-flight grace. Default: 10 s
  std::size_t max_requests_per_connection = 0;         // 0 = unlimited. Default: 0

  // [rate_limit] (token buckets; per_second <= 0 disables)
  RateLimit ip_limit{2000, 4000};            // every request, per client IP
  RateLimit reporter_limit{200, 1000};       // report/revoke requests, per reporter
  RateLimit register_limit{0.05, 5};         // /v1/register, per client IP (1 per 20 s, burst 5)
  std::size_t rate_limit_entries = 100'000;  // tracked keys per limiter. Default: 100k

  // [storage] (defaults declared in storage::StoreOptions)
  storage::StoreOptions store;

  // [razor] and [pyzor]: the legacy listeners (defaults in razor_config.hpp / pyzor_config.hpp;
  // both off unless a listen address is set).
  RazorConfig razor;
  PyzorConfig pyzor;

  // [admin]: the admin listener (/metrics, /healthz, /readyz and the admin API).
  struct Admin {
    // "ADDR:PORT"; "" or "off": none, and /metrics stays on the API listener. When set,
    // /metrics is served here only. Default: off. Flag: --admin-listen.
    std::string listen = "off";
  } admin;

  // [console]: the operator web console on the admin listener under /ui/ (docs/console.md).
  struct Console {
    bool enabled = true;  // Default: on (it answers only on the admin listener, when set)
    // A session unused this long is logged out. Default: 8 h.
    std::int64_t session_idle_seconds = 8 * 3600;
    std::int64_t max_sessions = 256;  // Default: 256 (the least recently used goes first)
    // Failed logins allowed per source address per minute. Default: 10.
    std::int64_t login_failures_per_minute = 10;
  } console;

  // [udp]: the native binary UDP check listener (strop-udp/1, docs/protocol.md).
  struct Udp {
    // "ADDR:PORT" to answer strop-udp/1 checks on; "" or "off" switches it off; "auto": the
    // API listener's address and port, on UDP (off when api.anonymous_check = false; a port
    // already taken is a warning, not an error). Default: auto. Flag: --udp-listen.
    std::string listen = "auto";
    // Receiving threads (recvmmsg batches). Default: 1.
    unsigned threads = 1;
  } udp;

  // [cluster]: fleet mode (node/fleet.hpp, docs/fleet.md). Without nats_urls the node is
  // standalone.
  struct Cluster {
    // NATS server URLs ("nats://127.0.0.1:4222", "tls://..."); empty: standalone. Default:
    // none. Flag: --cluster-nats URL[,URL...].
    std::vector<std::string> nats_urls;
    std::string stream = "STROP";          // JetStream stream. Default: STROP
    std::string subject = "strop.events";  // the stream's one subject. Default: strop.events
    unsigned replicas = 3;                 // stream replicas when it is created. Default: 3
    // This node's id in the events; "": "<hostname>-<random>" per start. Default: "".
    std::string node_id;
    std::string credentials;  // NATS .creds file. Default: none
    std::string tls_ca;       // CA bundle that verifies the NATS servers. Default: none
    std::string tls_cert;     // client certificate for NATS (mutual TLS). Default: none
    std::string tls_key;      // its private key. Default: none
    // A write not acknowledged by the stream and applied here within this fails with 503.
    // Default: 5 s.
    std::chrono::milliseconds publish_timeout{5000};
    // One connection attempt to a NATS server. Default: 2 s.
    std::chrono::milliseconds connect_timeout{2000};
  } cluster;

  // [federation]: pulling peers' feeds and serving this site's (docs/federation.md). The site
  // name is store.federation_site (a StoreOptions field: the writer keeps the feed); without
  // it the node neither serves a feed nor pulls.
  struct Federation {
    // Pause between two pull rounds over the peers when nothing was pending. Default: 1 s.
    std::chrono::milliseconds poll_interval{1000};
    // Entries asked per pull (1..10000). Default: 5000.
    unsigned batch = 5000;
    // One pull: connect, request and response. Default: 10 s.
    std::chrono::milliseconds timeout{10000};
    // Ask peers for gzip (Accept-Encoding: gzip). Default: true.
    bool gzip = true;
    // Long poll: seconds a caught-up pull waits at the peer for a new entry (wait=, 0..30;
    // 0: poll every poll_interval). Default: 10.
    unsigned long_poll_s = 10;
  } federation;
};

// True when a listener's `listen` value switches it on (not "" and not "off").
inline bool listener_enabled(const std::string& listen) {
  return !listen.empty() && listen != "off";
}

// The strop-udp/1 listener's address: udp.listen, or for "auto" node.listen with the API's
// bound port (`api_port`, 0: node.listen's); "off" when "auto" meets anonymous_check = false.
std::string udp_listen_address(const Config& c, unsigned short api_port);

// Reads `path` (TOML) over the defaults. Errors: kIo (unreadable), kInvalidArgument (syntax,
// unknown key, wrong type or out-of-range value), as "FILE:LINE:COL: section.key: message".
// The keys, their types and ranges are one table in config.cpp (base/config_table.hpp).
Result<Config> load_config(const std::string& path);
// As load_config, recording each key the file sets in `sources` ("file PATH"), for to_toml.
Result<Config> load_config(const std::string& path, config::Sources* sources);
// As load_config, from TOML text (tests).
Result<Config> parse_config(std::string_view toml_text, std::string_view source_name = "config");
Result<Config> parse_config(std::string_view toml_text, std::string_view source_name,
                            config::Sources* sources);
// Checks cross-field rules (both TLS files or none, listen parses, limits > 0).
Result<void> validate(const Config& c);
// The effective configuration as TOML, every key present (what --print-config prints), each
// key under a comment with its doc and where its value came from: "default", or "file or
// flag" for any other value.
std::string to_toml(const Config& c);
// As to_toml, with origins from load_config(path, sources): "file PATH" for a value the file
// set, "flag" for one changed since, "default".
std::string to_toml(const Config& c, const config::Sources* sources);

// Parses "ADDR:PORT" ("127.0.0.1:7420", "[::1]:7420", "0.0.0.0:0").
struct ListenAddress {
  std::string host;
  unsigned short port = 0;
};
Result<ListenAddress> parse_listen(std::string_view s);

// The base URL clients use: public_url if set, else scheme://listen host:port.
std::string base_url(const Config& c, unsigned short actual_port = 0);

}  // namespace strop::node
