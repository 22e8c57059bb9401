// config.cpp: TOML loading and printing. One table (kKeys) lists every key once, with its
// setter and printer, so loading, validation of unknown keys and --print-config agree.
#include "node/config.hpp"

#include <charconv>
#include <fstream>
#include <functional>
#include <sstream>
#include <toml++/toml.h>
#include <vector>

#include "strop/log_level.hpp"

namespace strop::node {

namespace {

using Setter = std::function<Result<void>(const toml::node&, Config&)>;
using Printer = std::function<std::string(const Config&)>;

struct Key {
  std::string_view section;
  std::string_view name;
  Setter set;
  Printer print;
};

std::string toml_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string toml_double(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

Error type_error(const Key& k, const char* want) {
  return make_error(Errc::kInvalidArgument,
                    std::string(k.section) + "." + std::string(k.name) + ": expected " + want);
}

template <class Get>
Key string_key(std::string_view section, std::string_view name, Get get) {
  Key k{section, name, {}, {}};
  k.set = [get, k](const toml::node& n, Config& c) -> Result<void> {
    auto v = n.value<std::string>();
    if (!v) return type_error(k, "a string");
    get(c) = *v;
    return {};
  };
  k.print = [get](const Config& c) { return toml_string(get(const_cast<Config&>(c))); };
  return k;
}

template <class Get>
Key bool_key(std::string_view section, std::string_view name, Get get) {
  Key k{section, name, {}, {}};
  k.set = [get, k](const toml::node& n, Config& c) -> Result<void> {
    auto v = n.value<bool>();
    if (!n.is_boolean() || !v) return type_error(k, "true or false");
    get(c) = *v;
    return {};
  };
  k.print = [get](const Config& c) { return std::string(get(const_cast<Config&>(c)) ? "true" : "false"); };
  return k;
}

// Integers: stored as T, read from a TOML integer in [lo, hi].
template <class T, class Get>
Key int_key(std::string_view section, std::string_view name, Get get, std::int64_t lo, std::int64_t hi) {
  Key k{section, name, {}, {}};
  k.set = [get, k, lo, hi](const toml::node& n, Config& c) -> Result<void> {
    if (!n.is_integer()) return type_error(k, "an integer");
    auto v = *n.value<std::int64_t>();
    if (v < lo || v > hi) {
      return make_error(Errc::kInvalidArgument, std::string(k.section) + "." + std::string(k.name) +
                                                    ": " + std::to_string(v) + " is out of range " +
                                                    std::to_string(lo) + ".." + std::to_string(hi));
    }
    get(c) = static_cast<T>(v);
    return {};
  };
  k.print = [get](const Config& c) { return std::to_string(static_cast<std::int64_t>(get(const_cast<Config&>(c)))); };
  return k;
}

template <class Get>
Key double_key(std::string_view section, std::string_view name, Get get, double lo, double hi) {
  Key k{section, name, {}, {}};
  k.set = [get, k, lo, hi](const toml::node& n, Config& c) -> Result<void> {
    if (!n.is_number()) return type_error(k, "a number");
    double v = *n.value<double>();
    if (!(v >= lo && v <= hi)) return type_error(k, "a number in range");
    get(c) = v;
    return {};
  };
  k.print = [get](const Config& c) { return toml_double(get(const_cast<Config&>(c))); };
  return k;
}

// Durations as integers in the unit of D.
template <class D, class Get>
Key duration_key(std::string_view section, std::string_view name, Get get, std::int64_t lo, std::int64_t hi) {
  Key k{section, name, {}, {}};
  k.set = [get, k, lo, hi](const toml::node& n, Config& c) -> Result<void> {
    if (!n.is_integer()) return type_error(k, "an integer");
    auto v = *n.value<std::int64_t>();
    if (v < lo || v > hi) return type_error(k, "an integer in range");
    get(c) = D(v);
    return {};
  };
  k.print = [get](const Config& c) { return std::to_string(static_cast<std::int64_t>(get(const_cast<Config&>(c)).count())); };
  return k;
}

// Arrays of strings (e.g. razor.advertise, pyzor.access).
template <class Get>
Key string_list_key(std::string_view section, std::string_view name, Get get) {
  Key k{section, name, {}, {}};
  k.set = [get, k](const toml::node& n, Config& c) -> Result<void> {
    auto* arr = n.as_array();
    if (!arr) return type_error(k, "an array of strings");
    std::vector<std::string> out;
    for (const auto& e : *arr) {
      auto v = e.value<std::string>();
      if (!e.is_string() || !v) return type_error(k, "an array of strings");
      out.push_back(*v);
    }
    get(c) = std::move(out);
    return {};
  };
  k.print = [get](const Config& c) {
    std::string out = "[";
    for (const auto& v : get(const_cast<Config&>(c))) {
      if (out.size() > 1) out += ", ";
      out += toml_string(v);
    }
    return out + "]";
  };
  return k;
}

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

constexpr std::int64_t kMaxI = std::numeric_limits<std::int64_t>::max();

const std::vector<Key>& keys() {
  static const std::vector<Key> k = [] {
    std::vector<Key> v;
    v.push_back(string_key("node", "data_dir", [](Config& c) -> std::string& { return c.data_dir; }));
    v.push_back(string_key("node", "listen", [](Config& c) -> std::string& { return c.listen; }));
    v.push_back(int_key<unsigned>("node", "threads", [](Config& c) -> unsigned& { return c.threads; }, 0, 256));
    v.push_back(string_key("node", "log", [](Config& c) -> std::string& { return c.log; }));
    v.push_back(string_key("node", "log_level", [](Config& c) -> std::string& { return c.log_level; }));
    v.push_back(string_key("node", "public_url", [](Config& c) -> std::string& { return c.public_url; }));

    v.push_back(string_key("tls", "cert", [](Config& c) -> std::string& { return c.tls_cert; }));
    v.push_back(string_key("tls", "key", [](Config& c) -> std::string& { return c.tls_key; }));

    v.push_back(bool_key("api", "anonymous_check", [](Config& c) -> bool& { return c.anonymous_check; }));
    v.push_back(bool_key("api", "open_registration", [](Config& c) -> bool& { return c.open_registration; }));
    v.push_back(int_key<std::int64_t>("api", "signing_window_seconds",
                                      [](Config& c) -> std::int64_t& { return c.signing_window_seconds; }, 1, 86400));
    v.push_back(int_key<std::size_t>("api", "nonce_cache_entries",
                                     [](Config& c) -> std::size_t& { return c.nonce_cache_entries; }, 1000, 100'000'000));
    v.push_back(int_key<std::size_t>("api", "nonce_cache_per_reporter",
                                     [](Config& c) -> std::size_t& { return c.nonce_cache_per_reporter; }, 100, 100'000'000));
    v.push_back(int_key<std::size_t>("api", "max_body_bytes",
                                     [](Config& c) -> std::size_t& { return c.limits.max_body_bytes; }, 256, 1 << 30));
    v.push_back(int_key<std::size_t>("api", "max_messages",
                                     [](Config& c) -> std::size_t& { return c.limits.max_messages; }, 1, 1'000'000));
    v.push_back(int_key<std::size_t>("api", "max_sigs_per_message",
                                     [](Config& c) -> std::size_t& { return c.limits.max_sigs_per_message; }, 1, 1'000'000));
    v.push_back(int_key<std::size_t>("api", "max_signature_length",
                                     [](Config& c) -> std::size_t& { return c.limits.max_signature_length; }, 16, 65536));
    v.push_back(int_key<std::size_t>("api", "max_message_id_length",
                                     [](Config& c) -> std::size_t& { return c.limits.max_message_id_length; }, 0, 65536));
    v.push_back(int_key<std::size_t>("api", "max_json_depth",
                                     [](Config& c) -> std::size_t& { return c.limits.max_json_depth; }, 4, 64));
    v.push_back(int_key<std::size_t>("api", "max_header_bytes",
                                     [](Config& c) -> std::size_t& { return c.max_header_bytes; }, 1024, 1 << 20));
    v.push_back(int_key<std::size_t>("api", "max_connections",
                                     [](Config& c) -> std::size_t& { return c.max_connections; }, 1, 1'000'000));
    v.push_back(int_key<std::size_t>("api", "max_connections_per_address",
                                     [](Config& c) -> std::size_t& { return c.max_connections_per_address; }, 1, 1'000'000));
    v.push_back(int_key<std::size_t>("api", "reserved_connections",
                                     [](Config& c) -> std::size_t& { return c.reserved_connections; }, 0, 1'000'000));
    v.push_back(int_key<std::size_t>("api", "max_body_bytes_per_address",
                                     [](Config& c) -> std::size_t& { return c.max_body_bytes_per_address; }, 256, kMaxI));
    v.push_back(duration_key<std::chrono::milliseconds>(
        "api", "idle_timeout_ms", [](Config& c) -> std::chrono::milliseconds& { return c.idle_timeout; }, 10, 86'400'000));
    v.push_back(duration_key<std::chrono::milliseconds>(
        "api", "read_timeout_ms", [](Config& c) -> std::chrono::milliseconds& { return c.read_timeout; }, 10, 86'400'000));
    v.push_back(duration_key<std::chrono::milliseconds>(
        "api", "write_timeout_ms", [](Config& c) -> std::chrono::milliseconds& { return c.write_timeout; }, 10, 86'400'000));
    v.push_back(duration_key<std::chrono::milliseconds>(
        "api", "shutdown_timeout_ms", [](Config& c) -> std::chrono::milliseconds& { return c.shutdown_timeout; }, 0, 3'600'000));
    v.push_back(int_key<std::size_t>("api", "max_requests_per_connection",
                                     [](Config& c) -> std::size_t& { return c.max_requests_per_connection; }, 0, kMaxI));

    v.push_back(double_key("rate_limit", "ip_per_second", [](Config& c) -> double& { return c.ip_limit.per_second; }, 0, 1e9));
    v.push_back(double_key("rate_limit", "ip_burst", [](Config& c) -> double& { return c.ip_limit.burst; }, 0, 1e9));
    v.push_back(double_key("rate_limit", "reporter_per_second", [](Config& c) -> double& { return c.reporter_limit.per_second; }, 0, 1e9));
    v.push_back(double_key("rate_limit", "reporter_burst", [](Config& c) -> double& { return c.reporter_limit.burst; }, 0, 1e9));
    v.push_back(double_key("rate_limit", "register_per_second", [](Config& c) -> double& { return c.register_limit.per_second; }, 0, 1e9));
    v.push_back(double_key("rate_limit", "register_burst", [](Config& c) -> double& { return c.register_limit.burst; }, 0, 1e9));
    v.push_back(int_key<std::size_t>("rate_limit", "entries",
                                     [](Config& c) -> std::size_t& { return c.rate_limit_entries; }, 100, 100'000'000));

    v.push_back(int_key<std::size_t>("storage", "initial_map_bytes",
                                     [](Config& c) -> std::size_t& { return c.store.initial_map_bytes; }, 1 << 20, kMaxI));
    v.push_back(int_key<std::size_t>("storage", "map_growth_step_bytes",
                                     [](Config& c) -> std::size_t& { return c.store.map_growth_step_bytes; }, 1 << 20, kMaxI));
    v.push_back(int_key<std::size_t>("storage", "max_map_bytes",
                                     [](Config& c) -> std::size_t& { return c.store.max_map_bytes; }, 1 << 20, kMaxI));
    v.push_back(int_key<unsigned>("storage", "max_readers", [](Config& c) -> unsigned& { return c.store.max_readers; }, 8, 100000));
    v.push_back(int_key<std::size_t>("storage", "max_batch_ops",
                                     [](Config& c) -> std::size_t& { return c.store.max_batch_ops; }, 1, 10'000'000));
    v.push_back(duration_key<std::chrono::microseconds>(
        "storage", "max_batch_delay_us",
        [](Config& c) -> std::chrono::microseconds& { return c.store.max_batch_delay; }, 0, 10'000'000));
    v.push_back(int_key<std::size_t>("storage", "max_queue_ops",
                                     [](Config& c) -> std::size_t& { return c.store.max_queue_ops; }, 1, 1'000'000'000));
    v.push_back(duration_key<std::chrono::seconds>(
        "storage", "expire_after_seconds", [](Config& c) -> std::chrono::seconds& { return c.store.expire_after; }, 0, kMaxI / 2));
    v.push_back(duration_key<std::chrono::seconds>(
        "storage", "sweep_interval_seconds", [](Config& c) -> std::chrono::seconds& { return c.store.sweep_interval; }, 1, kMaxI / 2));
    v.push_back(int_key<std::size_t>("storage", "sweep_batch",
                                     [](Config& c) -> std::size_t& { return c.store.sweep_batch; }, 1, 10'000'000));
    v.push_back(duration_key<std::chrono::seconds>(
        "storage", "hit_resolution_seconds", [](Config& c) -> std::chrono::seconds& { return c.store.hit_resolution; }, 0, kMaxI / 2));
    v.push_back(int_key<std::size_t>("storage", "max_value_bytes",
                                     [](Config& c) -> std::size_t& { return c.store.max_value_bytes; }, 16, 65536));
    v.push_back(int_key<int>("storage", "threshold", [](Config& c) -> int& { return c.store.threshold; }, 1, 100));
    {
      Key k{"storage", "verdict_engines", {}, {}};
      k.set = [k](const toml::node& n, Config& c) -> Result<void> {
        auto s = n.value<std::string>();
        if (!s) return type_error(k, "a string such as \"all\" or \"body,fuzzy\"");
        auto m = sigs::EngineMask::parse(*s);
        if (!m) return make_error(Errc::kInvalidArgument, "storage.verdict_engines: " + m.error().message);
        c.store.verdict_engines = *m;
        return {};
      };
      k.print = [](const Config& c) { return toml_string(engine_mask_text(c.store.verdict_engines)); };
      v.push_back(std::move(k));
    }

    // [razor] / [pyzor]: legacy listeners (razor_config.hpp, pyzor_config.hpp).
    v.push_back(string_key("razor", "listen", [](Config& c) -> std::string& { return c.razor.listen; }));
    v.push_back(string_list_key("razor", "advertise", [](Config& c) -> std::vector<std::string>& { return c.razor.advertise; }));
    v.push_back(string_key("razor", "key_file", [](Config& c) -> std::string& { return c.razor.key_file; }));
    v.push_back(int_key<unsigned>("razor", "threads", [](Config& c) -> unsigned& { return c.razor.threads; }, 1, 256));
    v.push_back(int_key<std::size_t>("razor", "max_connections",
                                     [](Config& c) -> std::size_t& { return c.razor.max_connections; }, 1, 1'000'000));
    v.push_back(int_key<std::size_t>("razor", "max_connections_per_address",
                                     [](Config& c) -> std::size_t& { return c.razor.max_connections_per_address; }, 1, 1'000'000));
    v.push_back(int_key<std::size_t>("razor", "reserved_connections",
                                     [](Config& c) -> std::size_t& { return c.razor.reserved_connections; }, 0, 1'000'000));
    v.push_back(int_key<std::size_t>("razor", "max_request_bytes_per_address",
                                     [](Config& c) -> std::size_t& { return c.razor.max_request_bytes_per_address; }, 4096, kMaxI));
    v.push_back(duration_key<std::chrono::milliseconds>(
        "razor", "idle_timeout_ms", [](Config& c) -> std::chrono::milliseconds& { return c.razor.idle_timeout; }, 10, 86'400'000));
    v.push_back(duration_key<std::chrono::milliseconds>(
        "razor", "request_timeout_ms", [](Config& c) -> std::chrono::milliseconds& { return c.razor.request_timeout; }, 10, 86'400'000));
    v.push_back(int_key<std::size_t>("razor", "max_line_bytes",
                                     [](Config& c) -> std::size_t& { return c.razor.limits.max_line_bytes; }, 256, 1 << 20));
    v.push_back(int_key<std::size_t>("razor", "max_request_bytes",
                                     [](Config& c) -> std::size_t& { return c.razor.limits.max_request_bytes; }, 4096, 64 << 20));
    v.push_back(int_key<std::size_t>("razor", "max_batch_queries",
                                     [](Config& c) -> std::size_t& { return c.razor.limits.max_batch_queries; }, 1, 48));
    v.push_back(int_key<int>("razor", "srl", [](Config& c) -> int& { return c.razor.srl; }, 0, 1'000'000'000));

    v.push_back(string_key("pyzor", "listen", [](Config& c) -> std::string& { return c.pyzor.listen; }));
    v.push_back(int_key<unsigned>("pyzor", "threads", [](Config& c) -> unsigned& { return c.pyzor.threads; }, 1, 256));
    v.push_back(string_list_key("pyzor", "access", [](Config& c) -> std::vector<std::string>& { return c.pyzor.access; }));
    v.push_back(int_key<std::int64_t>("pyzor", "time_window_seconds",
                                      [](Config& c) -> std::int64_t& { return c.pyzor.time_window_seconds; }, 1, 86400));
    v.push_back(int_key<std::size_t>("pyzor", "replay_cache_entries",
                                     [](Config& c) -> std::size_t& { return c.pyzor.replay_cache_entries; }, 1000, 100'000'000));
    v.push_back(int_key<std::size_t>("pyzor", "max_digests",
                                     [](Config& c) -> std::size_t& { return c.pyzor.limits.max_digests; }, 1, 1000));

    v.push_back(string_key("udp", "listen", [](Config& c) -> std::string& { return c.udp.listen; }));
    v.push_back(int_key<unsigned>("udp", "threads", [](Config& c) -> unsigned& { return c.udp.threads; }, 1, 256));
    return v;
  }();
  return k;
}

std::string where(const toml::node& n, std::string_view source) {
  const auto& s = n.source();
  return std::string(source) + ":" + std::to_string(s.begin.line) + ":" + std::to_string(s.begin.column);
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    const auto& s = e.source();
    return make_error(Errc::kInvalidArgument, std::string(source_name) + ":" + std::to_string(s.begin.line) + ":" +
                                                  std::to_string(s.begin.column) + ": " +
                                                  std::string(e.description()));
  }
  Config c;
  for (auto&& [section_key, section_node] : root) {
    auto* section = section_node.as_table();
    if (!section) {
      return make_error(Errc::kInvalidArgument, where(section_node, source_name) + ": unknown key \"" +
                                                    std::string(section_key.str()) + "\" (expected a [section])");
    }
    for (auto&& [key, value] : *section) {
      const Key* found = nullptr;
      for (const auto& k : keys()) {
        if (k.section == section_key.str() && k.name == key.str()) {
          found = &k;
          break;
        }
      }
      if (!found) {
        return make_error(Errc::kInvalidArgument, where(value, source_name) + ": unknown key \"" +
                                                      std::string(section_key.str()) + "." +
                                                      std::string(key.str()) + "\"");
      }
      auto r = found->set(value, c);
      if (!r) return make_error(Errc::kInvalidArgument, where(value, source_name) + ": " + r.error().message);
    }
  }
  return c;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kIo, "cannot read config file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
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

std::string to_toml(const Config& c) {
  std::string out = "# strop-node effective configuration\n";
  std::string_view section;
  for (const auto& k : keys()) {
    if (k.section != section) {
      section = k.section;
      out += "\n[";
      out += section;
      out += "]\n";
    }
    out += k.name;
    out += " = ";
    out += k.print(c);
    out += '\n';
  }
  return out;
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
