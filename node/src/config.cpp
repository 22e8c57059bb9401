// config.cpp: strop-node's key table (config::Table, base/config_table.hpp): every key once,
// with its type, range and doc line; the table drives loading, errors and --print-config.
#include "node/config.hpp"

#include <charconv>
#include <limits>

#include "base/log.hpp"
#include "strop/log_level.hpp"

namespace strop::node {

namespace {

namespace cfg = strop::config;

constexpr std::int64_t kMaxI = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kDayMs = 86'400'000;

std::string engine_mask_text(sigs::EngineMask m) {
  if (m.bits() == sigs::EngineMask::all().bits()) return "all";
  std::string out;
  for (auto e : sigs::kAllEngines) {
    if (!m.has(e)) continue;
    if (!out.empty()) out += ',';
    out += sigs::engine_name(e);
  }
  return out;
}

// A [rate_limit] key: one field of one token bucket.
cfg::Key<Config> rate_key(std::string_view name, std::string_view doc, RateLimit Config::*bucket,
                          double RateLimit::*field) {
  return cfg::double_key<Config>("rate_limit", name, doc, cfg::nested(bucket, field), 0, 1e9);
}

// An [api] key held in protocol::Limits.
cfg::Key<Config> limit_key(std::string_view name, std::string_view doc,
                           std::size_t protocol::Limits::*field, std::int64_t lo, std::int64_t hi) {
  return cfg::integer_key<Config>("api", name, doc, cfg::nested(&Config::limits, field), lo, hi);
}

const cfg::Table<Config>& table() {
  using C = Config;
  using S = storage::StoreOptions;
  using F = Config::Federation;
  using R = RazorConfig;
  using RzL = protocol::razor::Limits;
  using Pz = PyzorConfig;
  using PzL = protocol::pyzor::Limits;
  using L = protocol::Limits;
  using RL = RateLimit;
  using U = Config::Udp;
  using K = Config::Cluster;
  static const cfg::Table<C> kTable({
      // [node]
      cfg::string_key<C>("node", "data_dir", "data directory, created 0700 if missing",
                         &C::data_dir),
      cfg::string_key<C>("node", "listen", "ADDR:PORT or [IPv6]:PORT; port 0: any free port",
                         &C::listen),
      cfg::integer_key<C>("node", "threads", "I/O threads; 0: one per core", &C::threads, 0, 256),
      cfg::choice_key<C>("node", "log", "stderr, or syslog (facility LOG_MAIL)", &C::log,
                         {"stderr", "syslog"}),
      cfg::log_level_key<C>("node", "log_level", "trace debug info warn error critical off",
                            &C::log_level, {kLogLevels.begin(), kLogLevels.end()}),
      cfg::choice_key<C>("node", "log_format",
                         "text (RFC 3339 time, level, program, logfmt) or json", &C::log_format,
                         {log::kFormats.begin(), log::kFormats.end()}),
      cfg::string_key<C>("node", "public_url",
                         "base URL written into identity files; \"\": from listen and TLS",
                         &C::public_url),
      // [tls]
      cfg::string_key<C>("tls", "cert", "PEM certificate chain; TLS 1.2+ when cert and key are set",
                         &C::tls_cert),
      cfg::string_key<C>("tls", "key", "PEM private key", &C::tls_key),
      // [api]
      cfg::bool_key<C>("api", "anonymous_check", "false: /v1/check must be signed",
                       &C::anonymous_check),
      cfg::bool_key<C>("api", "open_registration", "false: only admins create reporters",
                       &C::open_registration),
      cfg::duration_count_key<C>("api", "signing_window_seconds",
                                 "accepted clock skew of signed requests, both directions",
                                 "seconds", &C::signing_window_seconds, 1, 86400),
      cfg::integer_key<C>("api", "nonce_cache_entries", "in-memory replay cache bound",
                          &C::nonce_cache_entries, 1000, 100'000'000),
      cfg::integer_key<C>("api", "nonce_cache_per_reporter",
                          "one reporter's replay cache partition; full: 503 to it only",
                          &C::nonce_cache_per_reporter, 100, 100'000'000),
      limit_key("max_body_bytes", "request body limit", &L::max_body_bytes, 256, 1 << 30),
      limit_key("max_messages", "messages per check/report/revoke request", &L::max_messages, 1,
                1'000'000),
      limit_key("max_sigs_per_message", "signatures per message", &L::max_sigs_per_message, 1,
                1'000'000),
      limit_key("max_signature_length", "bytes of one signature", &L::max_signature_length, 16,
                65536),
      limit_key("max_message_id_length", "bytes of one message id", &L::max_message_id_length, 0,
                65536),
      limit_key("max_json_depth", "JSON nesting depth", &L::max_json_depth, 4, 64),
      cfg::integer_key<C>("api", "max_header_bytes", "request line and header fields",
                          &C::max_header_bytes, 1024, 1 << 20),
      cfg::integer_key<C>("api", "max_connections", "concurrent connections; beyond: 503, close",
                          &C::max_connections, 1, 1'000'000),
      cfg::integer_key<C>("api", "max_connections_per_address",
                          "per IPv4 address / IPv6 /64; beyond: 503, close",
                          &C::max_connections_per_address, 1, 1'000'000),
      cfg::integer_key<C>("api", "reserved_connections",
                          "last slots only for addresses with no connection (<= 1/4 of max)",
                          &C::reserved_connections, 0, 1'000'000),
      cfg::integer_key<C>("api", "max_body_bytes_per_address",
                          "request bodies being received per address; beyond: 503, close",
                          &C::max_body_bytes_per_address, 256, kMaxI),
      cfg::duration_key<C>("api", "idle_timeout_ms", "keep-alive wait for the next request",
                           &C::idle_timeout, 10, kDayMs),
      cfg::duration_key<C>("api", "read_timeout_ms",
                           "one request, first byte to last; the first from accept",
                           &C::read_timeout, 10, kDayMs),
      cfg::duration_key<C>("api", "write_timeout_ms", "one response", &C::write_timeout, 10,
                           kDayMs),
      cfg::duration_key<C>("api", "shutdown_timeout_ms", "SIGTERM: grace for in-flight requests",
                           &C::shutdown_timeout, 0, 3'600'000),
      cfg::integer_key<C>("api", "max_requests_per_connection", "0: unlimited",
                          &C::max_requests_per_connection, 0, kMaxI),
      // [rate_limit]
      rate_key("ip_per_second", "every request but /healthz and /metrics, per client IP; 0: off",
               &C::ip_limit, &RL::per_second),
      rate_key("ip_burst", "bucket size", &C::ip_limit, &RL::burst),
      rate_key("reporter_per_second", "report/revoke requests, per reporter; 0: off",
               &C::reporter_limit, &RL::per_second),
      rate_key("reporter_burst", "bucket size", &C::reporter_limit, &RL::burst),
      rate_key("register_per_second", "/v1/register, per client IP; 0: off", &C::register_limit,
               &RL::per_second),
      rate_key("register_burst", "bucket size", &C::register_limit, &RL::burst),
      cfg::integer_key<C>("rate_limit", "entries", "tracked keys per limiter",
                          &C::rate_limit_entries, 100, 100'000'000),
      // [storage] (defaults in storage::StoreOptions)
      cfg::integer_key<C>("storage", "initial_map_bytes", "LMDB map at first open; grows on demand",
                          cfg::nested(&C::store, &S::initial_map_bytes), 1 << 20, kMaxI),
      cfg::integer_key<C>("storage", "map_growth_step_bytes", "largest map growth step",
                          cfg::nested(&C::store, &S::map_growth_step_bytes), 1 << 20, kMaxI),
      cfg::integer_key<C>("storage", "max_map_bytes", "map size ceiling",
                          cfg::nested(&C::store, &S::max_map_bytes), 1 << 20, kMaxI),
      cfg::bool_key<C>("storage", "index_snapshot",
                       "save the index at a clean stop and load it at the next start",
                       cfg::nested(&C::store, &S::index_snapshot)),
      cfg::bool_key<C>(
          "storage", "writer_idle_priority",
          "writer thread SCHED_IDLE: checks take the CPU from it; for hosts serving the node alone",
          cfg::nested(&C::store, &S::writer_idle_priority)),
      cfg::integer_key<C>("storage", "max_readers", "LMDB reader slots",
                          cfg::nested(&C::store, &S::max_readers), 8, 100000),
      cfg::integer_key<C>("storage", "max_batch_ops", "most signatures per write transaction",
                          cfg::nested(&C::store, &S::max_batch_ops), 1, 10'000'000),
      cfg::duration_key<C>("storage", "max_batch_delay_us",
                           "wait for more before committing; 0: batch what queued meanwhile",
                           cfg::nested(&C::store, &S::max_batch_delay), 0, 10'000'000),
      cfg::integer_key<C>("storage", "max_queue_ops", "writer queue bound; beyond: 503",
                          cfg::nested(&C::store, &S::max_queue_ops), 1, 1'000'000'000),
      cfg::duration_key<C>("storage", "expire_after_seconds",
                           "drop signatures idle this long; 0: never",
                           cfg::nested(&C::store, &S::expire_after), 0, kMaxI / 2),
      cfg::duration_key<C>("storage", "sweep_interval_seconds", "expiry sweep period",
                           cfg::nested(&C::store, &S::sweep_interval), 1, kMaxI / 2),
      cfg::integer_key<C>("storage", "sweep_batch", "signatures per sweep transaction",
                          cfg::nested(&C::store, &S::sweep_batch), 1, 10'000'000),
      cfg::duration_key<C>("storage", "hit_resolution_seconds", "last-hit time granularity",
                           cfg::nested(&C::store, &S::hit_resolution), 0, kMaxI / 2),
      cfg::integer_key<C>("storage", "max_value_bytes", "bytes of one stored record",
                          cfg::nested(&C::store, &S::max_value_bytes), 16, 65536),
      cfg::integer_key<C>("storage", "threshold", "confidence at/above which a verdict is spam",
                          cfg::nested(&C::store, &S::threshold), 1, 100),
      cfg::enum_key<C>("storage", "verdict_engines",
                       "engines whose match alone may make a message spam",
                       cfg::nested(&C::store, &S::verdict_engines), {}, sigs::EngineMask::parse,
                       engine_mask_text),
      // [razor] (razor_config.hpp)
      cfg::string_key<C>("razor", "listen", "Razor2 listener ADDR:PORT; \"\" or \"off\": none",
                         cfg::nested(&C::razor, &R::listen)),
      cfg::string_list_key<C>("razor", "advertise",
                              "csl/nsl entries; []: the address each client connected to",
                              cfg::nested(&C::razor, &R::advertise)),
      cfg::string_key<C>("razor", "key_file",
                         "node key sealing Razor passwords; \"\": <data_dir>/razor.key",
                         cfg::nested(&C::razor, &R::key_file)),
      cfg::integer_key<C>("razor", "threads", "I/O threads", cfg::nested(&C::razor, &R::threads), 1,
                          256),
      cfg::integer_key<C>("razor", "max_connections", "more are closed at once",
                          cfg::nested(&C::razor, &R::max_connections), 1, 1'000'000),
      cfg::integer_key<C>("razor", "max_connections_per_address", "per IPv4 address / IPv6 /64",
                          cfg::nested(&C::razor, &R::max_connections_per_address), 1, 1'000'000),
      cfg::integer_key<C>("razor", "reserved_connections",
                          "last slots only for addresses with no connection (<= 1/4 of max)",
                          cfg::nested(&C::razor, &R::reserved_connections), 0, 1'000'000),
      cfg::integer_key<C>("razor", "max_request_bytes_per_address",
                          "unfinished requests buffered per address",
                          cfg::nested(&C::razor, &R::max_request_bytes_per_address), 4096, kMaxI),
      cfg::duration_key<C>("razor", "idle_timeout_ms", "wait for the next request",
                           cfg::nested(&C::razor, &R::idle_timeout), 10, kDayMs),
      cfg::duration_key<C>("razor", "request_timeout_ms",
                           "one request, first byte to last; the first from accept",
                           cfg::nested(&C::razor, &R::request_timeout), 10, kDayMs),
      cfg::integer_key<C>("razor", "max_line_bytes", "one SIS line",
                          cfg::nested(&C::razor, &R::limits, &RzL::max_line_bytes), 256, 1 << 20),
      cfg::integer_key<C>("razor", "max_request_bytes", "one batch or mail upload",
                          cfg::nested(&C::razor, &R::limits, &RzL::max_request_bytes), 4096,
                          64 << 20),
      cfg::integer_key<C>("razor", "max_batch_queries", "queries per batch",
                          cfg::nested(&C::razor, &R::limits, &RzL::max_batch_queries), 1, 48),
      cfg::integer_key<C>("razor", "srl", "state revision in the greeting: keep it stable",
                          cfg::nested(&C::razor, &R::srl), 0, 1'000'000'000),
      // [pyzor] (pyzor_config.hpp)
      cfg::string_key<C>("pyzor", "listen", "Pyzor UDP listener ADDR:PORT; \"\" or \"off\": none",
                         cfg::nested(&C::pyzor, &Pz::listen)),
      cfg::integer_key<C>("pyzor", "threads", "receiving threads",
                          cfg::nested(&C::pyzor, &Pz::threads), 1, 256),
      cfg::string_list_key<C>("pyzor", "access",
                              "pyzord.access rules, \"ops : users : allow|deny\"",
                              cfg::nested(&C::pyzor, &Pz::access)),
      cfg::duration_count_key<C>("pyzor", "time_window_seconds",
                                 "accepted clock skew of a signed request", "seconds",
                                 cfg::nested(&C::pyzor, &Pz::time_window_seconds), 1, 86400),
      cfg::integer_key<C>("pyzor", "replay_cache_entries", "signed requests remembered",
                          cfg::nested(&C::pyzor, &Pz::replay_cache_entries), 1000, 100'000'000),
      cfg::integer_key<C>("pyzor", "max_digests", "Op-Digest fields per report/whitelist",
                          cfg::nested(&C::pyzor, &Pz::limits, &PzL::max_digests), 1, 1000),
      // [admin]
      cfg::string_key<C>("admin", "listen",
                         "admin listener ADDR:PORT (/metrics, admin API); \"off\": none",
                         cfg::nested(&C::admin, &Config::Admin::listen)),
      // [console] (docs/console.md)
      cfg::bool_key<C>("console", "enabled", "the web console under /ui/ on the admin listener",
                       cfg::nested(&C::console, &Config::Console::enabled)),
      cfg::duration_count_key<C>("console", "session_idle_seconds",
                                 "a console session unused this long is logged out", "seconds",
                                 cfg::nested(&C::console, &Config::Console::session_idle_seconds),
                                 60, 7 * 86400),
      cfg::integer_key<C>("console", "max_sessions", "console sessions kept (LRU)",
                          cfg::nested(&C::console, &Config::Console::max_sessions), 1, 10000),
      cfg::integer_key<C>("console", "login_failures_per_minute",
                          "failed console logins allowed per source address per minute",
                          cfg::nested(&C::console, &Config::Console::login_failures_per_minute), 1,
                          1000),
      // [udp]
      cfg::string_key<C>("udp", "listen",
                         "strop-udp/1 check listener ADDR:PORT; \"auto\": node.listen's; \"off\"",
                         cfg::nested(&C::udp, &U::listen)),
      cfg::integer_key<C>("udp", "threads", "receiving threads", cfg::nested(&C::udp, &U::threads),
                          1, 256),
      // [cluster] (fleet mode, docs/fleet.md)
      cfg::string_list_key<C>("cluster", "nats_urls", "NATS JetStream servers; []: standalone node",
                              cfg::nested(&C::cluster, &K::nats_urls)),
      cfg::string_key<C>("cluster", "stream", "JetStream stream of the fleet's writes",
                         cfg::nested(&C::cluster, &K::stream)),
      cfg::string_key<C>("cluster", "subject", "the stream's subject",
                         cfg::nested(&C::cluster, &K::subject)),
      cfg::integer_key<C>("cluster", "replicas", "stream replicas when this node creates it",
                          cfg::nested(&C::cluster, &K::replicas), 1, 5),
      cfg::string_key<C>("cluster", "node_id", "this node's id in events; \"\": host-random",
                         cfg::nested(&C::cluster, &K::node_id)),
      cfg::string_key<C>("cluster", "credentials", "NATS .creds file; \"\": none",
                         cfg::nested(&C::cluster, &K::credentials)),
      cfg::string_key<C>("cluster", "tls_ca", "CA bundle verifying the NATS servers",
                         cfg::nested(&C::cluster, &K::tls_ca)),
      cfg::string_key<C>("cluster", "tls_cert", "client certificate for NATS",
                         cfg::nested(&C::cluster, &K::tls_cert)),
      cfg::string_key<C>("cluster", "tls_key", "its private key",
                         cfg::nested(&C::cluster, &K::tls_key)),
      cfg::duration_key<C>("cluster", "publish_timeout_ms",
                           "write not replicated and applied in this: 503",
                           cfg::nested(&C::cluster, &K::publish_timeout), 100, 600'000),
      cfg::duration_key<C>("cluster", "connect_timeout_ms", "one NATS connection attempt",
                           cfg::nested(&C::cluster, &K::connect_timeout), 100, 600'000),
      // [federation] (docs/federation.md)
      cfg::string_key<C>("federation", "site",
                         "this site's name, origin of its listings; \"\": no federation",
                         cfg::nested(&C::store, &S::federation_site)),
      cfg::duration_key<C>("federation", "poll_interval_ms", "pause between pull rounds",
                           cfg::nested(&C::federation, &F::poll_interval), 10, 3'600'000),
      cfg::integer_key<C>("federation", "batch", "entries asked per pull",
                          cfg::nested(&C::federation, &F::batch), 1, 10000),
      cfg::duration_key<C>("federation", "timeout_ms", "one pull of a peer's feed",
                           cfg::nested(&C::federation, &F::timeout), 100, 600'000),
      cfg::bool_key<C>("federation", "gzip", "ask peers to gzip feed responses",
                       cfg::nested(&C::federation, &F::gzip)),
      cfg::integer_key<C>("federation", "long_poll_s",
                          "seconds a caught-up pull waits at the peer (0: plain polling)",
                          cfg::nested(&C::federation, &F::long_poll_s), 0, 30),
  });
  return kTable;
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name) {
  return parse_config(text, source_name, nullptr);
}

Result<Config> parse_config(std::string_view text, std::string_view source_name,
                            config::Sources* sources) {
  Config c;
  auto r = table().load(text, source_name, c, sources, "file " + std::string(source_name));
  if (!r) return make_error(Errc::kInvalidArgument, r.error().message);
  return c;
}

Result<Config> load_config(const std::string& path) { return load_config(path, nullptr); }

Result<Config> load_config(const std::string& path, config::Sources* sources) {
  auto text = config::read_file(path);
  if (!text) return make_error(Errc::kIo, text.error().message);
  return parse_config(*text, path, sources);
}

Result<void> validate(const Config& c) {
  if (c.data_dir.empty()) return make_error(Errc::kInvalidArgument, "node.data_dir is empty");
  auto l = parse_listen(c.listen);
  if (!l) return make_error(Errc::kInvalidArgument, "node.listen: " + l.error().message);
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return make_error(Errc::kInvalidArgument, "tls.cert and tls.key must be set together");
  }
  if (c.log != "stderr" && c.log != "syslog") {
    return make_error(Errc::kInvalidArgument, "node.log must be \"stderr\" or \"syslog\"");
  }
  if (!is_log_level(c.log_level)) {
    return make_error(Errc::kInvalidArgument, log_level_error("node.log_level", c.log_level));
  }
  if (c.log_format != "text" && c.log_format != "json") {
    return make_error(Errc::kInvalidArgument, "node.log_format must be \"text\" or \"json\"");
  }
  for (const auto* value : {&c.razor.listen, &c.pyzor.listen, &c.udp.listen, &c.admin.listen}) {
    if (!listener_enabled(*value) || (value == &c.udp.listen && *value == "auto")) continue;
    auto a = parse_listen(*value);
    if (!a) {
      std::string name = value == &c.razor.listen   ? "razor"
                         : value == &c.pyzor.listen ? "pyzor"
                         : value == &c.udp.listen   ? "udp"
                                                    : "admin";
      return make_error(Errc::kInvalidArgument, name + ".listen: " + a.error().message);
    }
  }
  if (listener_enabled(c.udp.listen) && c.udp.listen != "auto" && !c.anonymous_check) {
    return make_error(Errc::kInvalidArgument,
                      "udp.listen: strop-udp/1 checks are anonymous; switch it off or set "
                      "api.anonymous_check = true");
  }
  if (!c.store.federation_site.empty() && !storage::valid_site_name(c.store.federation_site)) {
    return make_error(Errc::kInvalidArgument,
                      "federation.site must be 1-64 characters of [a-z0-9.-]");
  }
  // Federation in a fleet (docs/federation.md "In a fleet"): the fleet is one site, so every
  // member must be configured with the same federation.site (its feed is the same on each);
  // the log does not carry the name, as it carries no other configuration.
  if (!c.cluster.nats_urls.empty()) {
    if (c.cluster.stream.empty() || c.cluster.subject.empty()) {
      return make_error(Errc::kInvalidArgument, "cluster.stream and cluster.subject must be set");
    }
    if (c.cluster.tls_cert.empty() != c.cluster.tls_key.empty()) {
      return make_error(Errc::kInvalidArgument,
                        "cluster.tls_cert and cluster.tls_key must be set together");
    }
    if (c.cluster.node_id.size() > 64) {
      return make_error(Errc::kInvalidArgument, "cluster.node_id: at most 64 bytes");
    }
  }
  if (c.store.max_map_bytes < c.store.initial_map_bytes) {
    return make_error(Errc::kInvalidArgument,
                      "storage.max_map_bytes is below storage.initial_map_bytes");
  }
  return {};
}

std::string to_toml(const Config& c) { return to_toml(c, nullptr); }

std::string to_toml(const Config& c, const config::Sources* sources) {
  config::PrintOptions o;
  o.header = "strop-node effective configuration";
  o.sources = sources;
  // Without recorded sources a value other than the default was set by the file or a flag.
  o.changed_label = sources != nullptr ? "flag" : "file or flag";
  return table().print(c, o);
}

Result<ListenAddress> parse_listen(std::string_view s) {
  ListenAddress a;
  std::string_view host, port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':') {
      return make_error(Errc::kInvalidArgument, "want [IPv6]:PORT");
    }
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos)
      return make_error(Errc::kInvalidArgument, "want ADDR:PORT");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
  }
  if (host.empty()) return make_error(Errc::kInvalidArgument, "empty address");
  unsigned v = 0;
  auto r = std::from_chars(port.data(), port.data() + port.size(), v);
  if (port.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() || v > 65535) {
    return make_error(Errc::kInvalidArgument, "bad port \"" + std::string(port) + "\"");
  }
  a.host.assign(host);
  a.port = static_cast<unsigned short>(v);
  return a;
}

std::string udp_listen_address(const Config& c, unsigned short api_port) {
  if (c.udp.listen != "auto") return c.udp.listen;
  if (!c.anonymous_check) return "off";
  auto l = parse_listen(c.listen);
  if (!l) return "off";
  std::string host = l->host.find(':') != std::string::npos ? "[" + l->host + "]" : l->host;
  return host + ":" + std::to_string(api_port != 0 ? api_port : l->port);
}

std::string base_url(const Config& c, unsigned short actual_port) {
  if (!c.public_url.empty()) return c.public_url;
  auto l = parse_listen(c.listen);
  std::string host = l ? l->host : "127.0.0.1";
  unsigned short port = actual_port ? actual_port : (l ? l->port : protocol::kDefaultPort);
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(c.tls_cert.empty() ? "http" : "https") + "://" + host + ":" +
         std::to_string(port);
}

}  // namespace strop::node
