// config.cpp: strop-node's key table (config::Table, base/config_table.hpp): every key once,
// with its type, range and doc line; the table drives loading, errors and --print-config.
#include "node/config.hpp"

#include <charconv>
#include <limits>

#include "strop/log_level.hpp"

namespace strop::node {

namespace {

namespace cfg = strop::config;
using std::chrono::milliseconds;

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

const cfg::Table<Config>& table() {
  using C = Config;
  static const cfg::Table<C> t({
      // [node]
      cfg::string_key<C>("node", "data_dir", "data directory, created 0700 if missing",
                         &C::data_dir),
      cfg::string_key<C>("node", "listen", "ADDR:PORT or [IPv6]:PORT; port 0: any free port",
                         &C::listen),
      cfg::integer_key<C>("node", "threads", "I/O threads; 0: one per core", &C::threads, 0,
                          256),
      cfg::choice_key<C>("node", "log", "stderr, or syslog (facility LOG_MAIL)", &C::log,
                         {"stderr", "syslog"}),
      cfg::log_level_key<C>("node", "log_level", "trace debug info warn error critical off",
                            &C::log_level, {kLogLevels.begin(), kLogLevels.end()}),
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
      cfg::bool_key<C>("api", "open_registration",
                       "false: only admins create reporters", &C::open_registration),
      cfg::duration_count_key<C>("api", "signing_window_seconds",
                                 "accepted clock skew of signed requests, both directions",
                                 "seconds", &C::signing_window_seconds, 1, 86400),
      cfg::integer_key<C>("api", "nonce_cache_entries", "in-memory replay cache bound",
                          &C::nonce_cache_entries, 1000, 100'000'000),
      cfg::integer_key<C>("api", "nonce_cache_per_reporter",
                          "one reporter's replay cache partition; full: 503 to it only",
                          &C::nonce_cache_per_reporter, 100, 100'000'000),
      cfg::integer_key<C>("api", "max_body_bytes", "request body limit",
                          [](C& c) -> auto& { return c.limits.max_body_bytes; }, 256, 1 << 30),
      cfg::integer_key<C>("api", "max_messages", "messages per check/report/revoke request",
                          [](C& c) -> auto& { return c.limits.max_messages; }, 1, 1'000'000),
      cfg::integer_key<C>("api", "max_sigs_per_message", "signatures per message",
                          [](C& c) -> auto& { return c.limits.max_sigs_per_message; }, 1,
                          1'000'000),
      cfg::integer_key<C>("api", "max_signature_length", "bytes of one signature",
                          [](C& c) -> auto& { return c.limits.max_signature_length; }, 16, 65536),
      cfg::integer_key<C>("api", "max_message_id_length", "bytes of one message id",
                          [](C& c) -> auto& { return c.limits.max_message_id_length; }, 0,
                          65536),
      cfg::integer_key<C>("api", "max_json_depth", "JSON nesting depth",
                          [](C& c) -> auto& { return c.limits.max_json_depth; }, 4, 64),
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
      cfg::double_key<C>("rate_limit", "ip_per_second",
                         "every request but /healthz and /metrics, per client IP; 0: off",
                         [](C& c) -> auto& { return c.ip_limit.per_second; }, 0, 1e9),
      cfg::double_key<C>("rate_limit", "ip_burst", "bucket size",
                         [](C& c) -> auto& { return c.ip_limit.burst; }, 0, 1e9),
      cfg::double_key<C>("rate_limit", "reporter_per_second",
                         "report/revoke requests, per reporter; 0: off",
                         [](C& c) -> auto& { return c.reporter_limit.per_second; }, 0, 1e9),
      cfg::double_key<C>("rate_limit", "reporter_burst", "bucket size",
                         [](C& c) -> auto& { return c.reporter_limit.burst; }, 0, 1e9),
      cfg::double_key<C>("rate_limit", "register_per_second",
                         "/v1/register, per client IP; 0: off",
                         [](C& c) -> auto& { return c.register_limit.per_second; }, 0, 1e9),
      cfg::double_key<C>("rate_limit", "register_burst", "bucket size",
                         [](C& c) -> auto& { return c.register_limit.burst; }, 0, 1e9),
      cfg::integer_key<C>("rate_limit", "entries", "tracked keys per limiter",
                          &C::rate_limit_entries, 100, 100'000'000),
      // [storage] (defaults in storage::StoreOptions)
      cfg::integer_key<C>("storage", "initial_map_bytes", "LMDB map at first open; grows on demand",
                          [](C& c) -> auto& { return c.store.initial_map_bytes; }, 1 << 20, kMaxI),
      cfg::integer_key<C>("storage", "map_growth_step_bytes", "largest map growth step",
                          [](C& c) -> auto& { return c.store.map_growth_step_bytes; }, 1 << 20,
                          kMaxI),
      cfg::integer_key<C>("storage", "max_map_bytes", "map size ceiling",
                          [](C& c) -> auto& { return c.store.max_map_bytes; }, 1 << 20, kMaxI),
      cfg::integer_key<C>("storage", "max_readers", "LMDB reader slots",
                          [](C& c) -> auto& { return c.store.max_readers; }, 8, 100000),
      cfg::integer_key<C>("storage", "max_batch_ops", "most signatures per write transaction",
                          [](C& c) -> auto& { return c.store.max_batch_ops; }, 1, 10'000'000),
      cfg::duration_key<C>("storage", "max_batch_delay_us",
                           "wait for more before committing; 0: batch what queued meanwhile",
                           [](C& c) -> auto& { return c.store.max_batch_delay; }, 0, 10'000'000),
      cfg::integer_key<C>("storage", "max_queue_ops", "writer queue bound; beyond: 503",
                          [](C& c) -> auto& { return c.store.max_queue_ops; }, 1, 1'000'000'000),
      cfg::duration_key<C>("storage", "expire_after_seconds",
                           "drop signatures idle this long; 0: never",
                           [](C& c) -> auto& { return c.store.expire_after; }, 0, kMaxI / 2),
      cfg::duration_key<C>("storage", "sweep_interval_seconds", "expiry sweep period",
                           [](C& c) -> auto& { return c.store.sweep_interval; }, 1, kMaxI / 2),
      cfg::integer_key<C>("storage", "sweep_batch", "signatures per sweep transaction",
                          [](C& c) -> auto& { return c.store.sweep_batch; }, 1, 10'000'000),
      cfg::duration_key<C>("storage", "hit_resolution_seconds", "last-hit time granularity",
                           [](C& c) -> auto& { return c.store.hit_resolution; }, 0, kMaxI / 2),
      cfg::integer_key<C>("storage", "max_value_bytes", "bytes of one stored record",
                          [](C& c) -> auto& { return c.store.max_value_bytes; }, 16, 65536),
      cfg::integer_key<C>("storage", "threshold", "confidence at/above which a verdict is spam",
                          [](C& c) -> auto& { return c.store.threshold; }, 1, 100),
      cfg::enum_key<C>("storage", "verdict_engines",
                       "engines whose match alone may make a message spam",
                       [](C& c) -> auto& { return c.store.verdict_engines; }, {},
                       sigs::EngineMask::parse, engine_mask_text),
      // [razor] (razor_config.hpp)
      cfg::string_key<C>("razor", "listen", "Razor2 listener ADDR:PORT; \"\" or \"off\": none",
                         [](C& c) -> auto& { return c.razor.listen; }),
      cfg::string_list_key<C>("razor", "advertise",
                              "csl/nsl entries; []: the address each client connected to",
                              [](C& c) -> auto& { return c.razor.advertise; }),
      cfg::string_key<C>("razor", "key_file",
                         "node key sealing Razor passwords; \"\": <data_dir>/razor.key",
                         [](C& c) -> auto& { return c.razor.key_file; }),
      cfg::integer_key<C>("razor", "threads", "I/O threads",
                          [](C& c) -> auto& { return c.razor.threads; }, 1, 256),
      cfg::integer_key<C>("razor", "max_connections", "more are closed at once",
                          [](C& c) -> auto& { return c.razor.max_connections; }, 1, 1'000'000),
      cfg::integer_key<C>("razor", "max_connections_per_address", "per IPv4 address / IPv6 /64",
                          [](C& c) -> auto& { return c.razor.max_connections_per_address; }, 1,
                          1'000'000),
      cfg::integer_key<C>("razor", "reserved_connections",
                          "last slots only for addresses with no connection (<= 1/4 of max)",
                          [](C& c) -> auto& { return c.razor.reserved_connections; }, 0,
                          1'000'000),
      cfg::integer_key<C>("razor", "max_request_bytes_per_address",
                          "unfinished requests buffered per address",
                          [](C& c) -> auto& { return c.razor.max_request_bytes_per_address; },
                          4096, kMaxI),
      cfg::duration_key<C>("razor", "idle_timeout_ms", "wait for the next request",
                           [](C& c) -> auto& { return c.razor.idle_timeout; }, 10, kDayMs),
      cfg::duration_key<C>("razor", "request_timeout_ms",
                           "one request, first byte to last; the first from accept",
                           [](C& c) -> auto& { return c.razor.request_timeout; }, 10, kDayMs),
      cfg::integer_key<C>("razor", "max_line_bytes", "one SIS line",
                          [](C& c) -> auto& { return c.razor.limits.max_line_bytes; }, 256,
                          1 << 20),
      cfg::integer_key<C>("razor", "max_request_bytes", "one batch or mail upload",
                          [](C& c) -> auto& { return c.razor.limits.max_request_bytes; }, 4096,
                          64 << 20),
      cfg::integer_key<C>("razor", "max_batch_queries", "queries per batch",
                          [](C& c) -> auto& { return c.razor.limits.max_batch_queries; }, 1, 48),
      cfg::integer_key<C>("razor", "srl", "state revision in the greeting: keep it stable",
                          [](C& c) -> auto& { return c.razor.srl; }, 0, 1'000'000'000),
      // [pyzor] (pyzor_config.hpp)
      cfg::string_key<C>("pyzor", "listen", "Pyzor UDP listener ADDR:PORT; \"\" or \"off\": none",
                         [](C& c) -> auto& { return c.pyzor.listen; }),
      cfg::integer_key<C>("pyzor", "threads", "receiving threads",
                          [](C& c) -> auto& { return c.pyzor.threads; }, 1, 256),
      cfg::string_list_key<C>("pyzor", "access", "pyzord.access rules, \"ops : users : allow|deny\"",
                              [](C& c) -> auto& { return c.pyzor.access; }),
      cfg::duration_count_key<C>("pyzor", "time_window_seconds",
                                 "accepted clock skew of a signed request", "seconds",
                                 [](C& c) -> auto& { return c.pyzor.time_window_seconds; }, 1,
                                 86400),
      cfg::integer_key<C>("pyzor", "replay_cache_entries", "signed requests remembered",
                          [](C& c) -> auto& { return c.pyzor.replay_cache_entries; }, 1000,
                          100'000'000),
      cfg::integer_key<C>("pyzor", "max_digests", "Op-Digest fields per report/whitelist",
                          [](C& c) -> auto& { return c.pyzor.limits.max_digests; }, 1, 1000),
      // [udp]
      cfg::string_key<C>("udp", "listen", "strop-udp/1 check listener ADDR:PORT; \"off\": none",
                         [](C& c) -> auto& { return c.udp.listen; }),
      cfg::integer_key<C>("udp", "threads", "receiving threads",
                          [](C& c) -> auto& { return c.udp.threads; }, 1, 256),
  });
  return t;
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
  for (const auto* l : {&c.razor.listen, &c.pyzor.listen, &c.udp.listen}) {
    if (!listener_enabled(*l)) continue;
    auto a = parse_listen(*l);
    if (!a) {
      std::string name = l == &c.razor.listen ? "razor" : l == &c.pyzor.listen ? "pyzor" : "udp";
      return make_error(Errc::kInvalidArgument, name + ".listen: " + a.error().message);
    }
  }
  if (listener_enabled(c.udp.listen) && !c.anonymous_check) {
    return make_error(Errc::kInvalidArgument,
                      "udp.listen: strop-udp/1 checks are anonymous; switch it off or set api.anonymous_check = true");
  }
  if (c.store.max_map_bytes < c.store.initial_map_bytes) {
    return make_error(Errc::kInvalidArgument, "storage.max_map_bytes is below storage.initial_map_bytes");
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
    if (colon == std::string_view::npos) return make_error(Errc::kInvalidArgument, "want ADDR:PORT");
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

std::string base_url(const Config& c, unsigned short actual_port) {
  if (!c.public_url.empty()) return c.public_url;
  auto l = parse_listen(c.listen);
  std::string host = l ? l->host : "127.0.0.1";
  unsigned short port = actual_port ? actual_port : (l ? l->port : protocol::kDefaultPort);
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return std::string(c.tls_cert.empty() ? "http" : "https") + "://" + host + ":" + std::to_string(port);
}

}  // namespace strop::node
