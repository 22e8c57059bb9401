#include "milter/config.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "agent/node_url.hpp"
#include "milter/net.hpp"
#include "milter/text.hpp"
#include "strop/log_level.hpp"

namespace strop::milter {
namespace {

const std::map<std::string, std::set<std::string>>& known_keys() {
  static const std::map<std::string, std::set<std::string>> k = {
      {"milter",
       {"socket", "socket_mode", "backlog", "mta_timeout_s", "max_recipients", "max_headers",
        "no_reply"}},
      {"log", {"level", "target"}},
      {"budget", {"total_ms"}},
      {"buffer", {"memory_per_message", "memory_total", "max_message_bytes", "spool_dir"}},
      {"clamd",
       {"enabled", "addresses", "timeout_ms", "connect_timeout_ms", "max_bytes", "chunk_bytes",
        "on_failure", "on_oversize"}},
      {"node",
       {"urls", "timeout_ms", "on_failure", "identity", "report_threshold", "report_timeout_ms",
        "spam_traps", "cache_ttl_ms", "ca_file"}},
      {"spamd", {"enabled", "address", "user", "timeout_ms", "max_bytes", "on_failure"}},
      {"rules", {"file"}},
      {"policy",
       {"tag_threshold", "reject_threshold", "virus_action", "spam_action", "subject_tag",
        "incoming_headers", "virus_reply", "spam_reply", "tempfail_reply"}},
      {"quarantine", {"method", "directory"}},
      {"bypass", {"networks", "authenticated", "senders", "recipients"}},
      {"metrics", {"listen"}},
  };
  return k;
}

class Reader {
 public:
  explicit Reader(const toml::table& root) : root_(root) {}

  const toml::node* node(const char* sec, const char* key) const {
    const toml::table* t = root_[sec].as_table();
    return t == nullptr ? nullptr : t->get(key);
  }
  static std::string path(const char* sec, const char* key) { return std::string(sec) + "." + key; }

  Result<void> str(const char* sec, const char* key, std::string* out) const {
    const toml::node* n = node(sec, key);
    if (n == nullptr) return {};
    auto v = n->value<std::string>();
    if (!v) return make_error(Errc::kInvalidArgument, path(sec, key) + ": expected a string");
    *out = *v;
    return {};
  }
  template <class T>
  Result<void> integer(const char* sec, const char* key, T* out, std::int64_t min,
                       std::int64_t max) const {
    const toml::node* n = node(sec, key);
    if (n == nullptr) return {};
    auto v = n->value<std::int64_t>();
    if (!v || !n->is_integer()) {
      return make_error(Errc::kInvalidArgument, path(sec, key) + ": expected an integer");
    }
    if (*v < min || *v > max) {
      return make_error(Errc::kInvalidArgument,
                        fmt::format("{}: {} is outside {}..{}", path(sec, key), *v, min, max));
    }
    *out = static_cast<T>(*v);
    return {};
  }
  Result<void> ms(const char* sec, const char* key, std::chrono::milliseconds* out) const {
    std::int64_t v = out->count();
    if (auto r = integer(sec, key, &v, 1, 3600000); !r) return r;
    *out = std::chrono::milliseconds(v);
    return {};
  }
  Result<void> number(const char* sec, const char* key, double* out) const {
    const toml::node* n = node(sec, key);
    if (n == nullptr) return {};
    auto v = n->value<double>();  // integers convert
    if (!v) return make_error(Errc::kInvalidArgument, path(sec, key) + ": expected a number");
    *out = *v;
    return {};
  }
  Result<void> boolean(const char* sec, const char* key, bool* out) const {
    const toml::node* n = node(sec, key);
    if (n == nullptr) return {};
    auto v = n->value<bool>();
    if (!v) return make_error(Errc::kInvalidArgument, path(sec, key) + ": expected true or false");
    *out = *v;
    return {};
  }
  Result<void> list(const char* sec, const char* key, std::vector<std::string>* out) const {
    const toml::node* n = node(sec, key);
    if (n == nullptr) return {};
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      return make_error(Errc::kInvalidArgument, path(sec, key) + ": expected an array of strings");
    }
    out->clear();
    for (const auto& e : *a) {
      auto v = e.value<std::string>();
      if (!v) {
        return make_error(Errc::kInvalidArgument,
                          path(sec, key) + ": expected an array of strings");
      }
      out->push_back(*v);
    }
    return {};
  }

 private:
  const toml::table& root_;
};

template <class T, class F>
Result<void> enum_str(const Reader& rd, const char* sec, const char* key, T* out, F parse) {
  std::string s;
  if (rd.node(sec, key) == nullptr) return {};
  if (auto r = rd.str(sec, key, &s); !r) return r;
  auto v = parse(s);
  if (!v)
    return make_error(Errc::kInvalidArgument, Reader::path(sec, key) + ": " + v.error().message);
  *out = *v;
  return {};
}

Result<Config> from_table(const toml::table& root) {
  for (const auto& [k, v] : root) {
    std::string sec(k.str());
    auto it = known_keys().find(sec);
    if (it == known_keys().end()) {
      return make_error(Errc::kInvalidArgument, "unknown section [" + sec + "]");
    }
    const toml::table* t = v.as_table();
    if (t == nullptr) return make_error(Errc::kInvalidArgument, sec + " must be a [section]");
    for (const auto& [k2, v2] : *t) {
      if (it->second.count(std::string(k2.str())) == 0) {
        return make_error(Errc::kInvalidArgument,
                          "unknown key " + sec + "." + std::string(k2.str()));
      }
    }
  }
  Config c;
  Reader rd(root);
  PipelineOptions& p = c.pipeline;
  PolicyOptions& pol = p.policy;
  constexpr std::int64_t kMaxBytes = std::int64_t{1} << 40;

  STROP_TRY(rd.str("milter", "socket", &c.socket));
  if (const toml::node* n = rd.node("milter", "socket_mode")) {
    std::string s;
    if (n->is_integer()) {
      s = std::to_string(n->value<std::int64_t>().value_or(0));
    } else {
      STROP_TRY(rd.str("milter", "socket_mode", &s));
    }
    int mode = 0;
    bool ok = !s.empty() && s.size() <= 4;
    for (char ch : s) {
      ok = ok && ch >= '0' && ch <= '7';
      mode = mode * 8 + (ch - '0');
    }
    if (!ok)
      return make_error(Errc::kInvalidArgument, "milter.socket_mode: expected octal like \"0660\"");
    c.socket_mode = mode;
  }
  STROP_TRY(rd.integer("milter", "backlog", &c.backlog, 1, 65535));
  STROP_TRY(rd.integer("milter", "mta_timeout_s", &c.mta_timeout_s, 1, 86400));
  STROP_TRY(rd.integer("milter", "max_recipients", &c.max_recipients, 1, 1000000));
  STROP_TRY(rd.integer("milter", "max_headers", &c.max_headers, 1, 1000000));
  STROP_TRY(rd.str("milter", "no_reply", &c.no_reply));

  STROP_TRY(rd.str("log", "level", &c.log_level));
  STROP_TRY(rd.str("log", "target", &c.log_target));

  STROP_TRY(rd.ms("budget", "total_ms", &p.budget));

  STROP_TRY(rd.integer("buffer", "memory_per_message", &c.buffer.memory_per_message, 0, kMaxBytes));
  STROP_TRY(rd.integer("buffer", "memory_total", &c.memory_total, 0, kMaxBytes));
  STROP_TRY(rd.integer("buffer", "max_message_bytes", &c.buffer.max_message_bytes, 1, kMaxBytes));
  STROP_TRY(rd.str("buffer", "spool_dir", &c.buffer.spool_dir));

  STROP_TRY(rd.boolean("clamd", "enabled", &c.clamd_enabled));
  STROP_TRY(rd.list("clamd", "addresses", &c.clamd_addresses));
  STROP_TRY(rd.ms("clamd", "timeout_ms", &p.clamd_timeout));
  STROP_TRY(rd.integer("clamd", "connect_timeout_ms", &c.clamd_connect_timeout_ms, 1, 600000));
  STROP_TRY(rd.integer("clamd", "max_bytes", &p.clamd_max_bytes, 1, kMaxBytes));
  STROP_TRY(rd.integer("clamd", "chunk_bytes", &c.clamd_chunk_bytes, 1, 16 << 20));
  STROP_TRY(enum_str(rd, "clamd", "on_failure", &pol.clamd_failure, parse_fail_mode));
  STROP_TRY(enum_str(rd, "clamd", "on_oversize", &pol.oversize_action, parse_action));

  STROP_TRY(rd.list("node", "urls", &c.node_urls));
  STROP_TRY(rd.ms("node", "timeout_ms", &p.lookup_timeout));
  STROP_TRY(enum_str(rd, "node", "on_failure", &pol.lookup_failure, parse_fail_mode));
  STROP_TRY(rd.str("node", "identity", &c.node_identity));
  STROP_TRY(rd.integer("node", "cache_ttl_ms", &c.node_cache_ttl_ms, 0, 86400000));
  STROP_TRY(rd.str("node", "ca_file", &c.node_ca_file));
  STROP_TRY(rd.number("node", "report_threshold", &p.report_threshold));
  STROP_TRY(rd.ms("node", "report_timeout_ms", &p.report_timeout));
  STROP_TRY(rd.list("node", "spam_traps", &p.spam_traps));
  for (auto& t : p.spam_traps) t = bare_address(t);

  STROP_TRY(rd.boolean("spamd", "enabled", &c.spamd_enabled));
  STROP_TRY(rd.str("spamd", "address", &c.spamd_address));
  STROP_TRY(rd.str("spamd", "user", &c.spamd_user));
  STROP_TRY(rd.ms("spamd", "timeout_ms", &p.spamd_timeout));
  STROP_TRY(rd.integer("spamd", "max_bytes", &p.spamd_max_bytes, 1, kMaxBytes));
  STROP_TRY(enum_str(rd, "spamd", "on_failure", &pol.spamd_failure, parse_fail_mode));

  STROP_TRY(rd.str("rules", "file", &c.rules_file));

  STROP_TRY(rd.number("policy", "tag_threshold", &pol.tag_threshold));
  STROP_TRY(rd.number("policy", "reject_threshold", &pol.reject_threshold));
  STROP_TRY(enum_str(rd, "policy", "virus_action", &pol.virus_action, parse_action));
  STROP_TRY(enum_str(rd, "policy", "spam_action", &pol.spam_action, parse_action));
  STROP_TRY(rd.str("policy", "subject_tag", &p.headers.subject_tag));
  STROP_TRY(enum_str(rd, "policy", "incoming_headers", &p.headers.incoming, parse_incoming_mode));
  STROP_TRY(rd.str("policy", "virus_reply", &pol.virus_reply));
  STROP_TRY(rd.str("policy", "spam_reply", &pol.spam_reply));
  STROP_TRY(rd.str("policy", "tempfail_reply", &pol.tempfail_reply));

  STROP_TRY(enum_str(rd, "quarantine", "method", &p.quarantine_method, parse_quarantine_method));
  STROP_TRY(rd.str("quarantine", "directory", &p.quarantine_dir));

  STROP_TRY(rd.list("bypass", "networks", &c.bypass.networks));
  STROP_TRY(rd.boolean("bypass", "authenticated", &c.bypass.authenticated));
  STROP_TRY(rd.list("bypass", "senders", &c.bypass.senders));
  STROP_TRY(rd.list("bypass", "recipients", &c.bypass.recipients));

  STROP_TRY(rd.str("metrics", "listen", &c.metrics_listen));
  return c;
}

std::string q(std::string_view s) {
  // TOML basic string.
  std::string out = "\"";
  for (char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(ch));
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string qlist(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + q(v[i]);
  return out + "]";
}

std::string num(double d) {
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";  // keep it a TOML float
  return s;
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, std::string_view source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::kInvalidArgument,
                      fmt::format("{}:{}:{}: {}", source, e.source().begin.line,
                                  e.source().begin.column, e.description()));
  }
  auto c = from_table(root);
  if (!c) return make_error(c.error().code, std::string(source) + ": " + c.error().message);
  return c;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::kNotFound, "cannot read config file " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().size() > (1u << 20)) {
    return make_error(Errc::kLimitExceeded, path + ": config file larger than 1 MiB");
  }
  return parse_config(ss.str(), path);
}

Result<void> validate(const Config& c) {
  const PolicyOptions& pol = c.pipeline.policy;
  auto ep = parse_endpoint(c.socket);
  if (!ep) return make_error(Errc::kInvalidArgument, "milter.socket: " + ep.error().message);
  if (c.clamd_enabled) {
    if (c.clamd_addresses.empty()) {
      return make_error(Errc::kInvalidArgument,
                        "clamd.addresses is empty (set clamd.enabled = false)");
    }
    for (const auto& a : c.clamd_addresses) {
      auto e = parse_endpoint(a);
      if (!e) return make_error(Errc::kInvalidArgument, "clamd.addresses: " + e.error().message);
    }
  }
  if (c.spamd_enabled) {
    auto e = parse_endpoint(c.spamd_address);
    if (!e) return make_error(Errc::kInvalidArgument, "spamd.address: " + e.error().message);
  }
  if (!c.metrics_listen.empty()) {
    auto e = parse_endpoint(c.metrics_listen, /*listening=*/true);
    if (!e || e->kind != Endpoint::Kind::kTcp) {
      return make_error(Errc::kInvalidArgument, "metrics.listen: expected ADDR:PORT");
    }
  }
  for (const auto& n : c.bypass.networks) {
    auto r = parse_cidr(n);
    if (!r) return make_error(Errc::kInvalidArgument, "bypass.networks: " + r.error().message);
  }
  auto one_of = [](Action a, std::initializer_list<Action> ok) {
    for (Action x : ok) {
      if (a == x) return true;
    }
    return false;
  };
  if (!one_of(pol.virus_action,
              {Action::kReject, Action::kDiscard, Action::kQuarantine, Action::kTempfail})) {
    return make_error(Errc::kInvalidArgument,
                      "policy.virus_action must be reject, discard, quarantine or tempfail");
  }
  if (!one_of(pol.spam_action, {Action::kReject, Action::kDiscard, Action::kQuarantine,
                                Action::kTempfail, Action::kTag})) {
    return make_error(Errc::kInvalidArgument,
                      "policy.spam_action must be reject, discard, quarantine, tempfail or tag");
  }
  if (!one_of(pol.oversize_action, {Action::kAccept, Action::kReject, Action::kTempfail})) {
    return make_error(Errc::kInvalidArgument,
                      "clamd.on_oversize must be accept, reject or tempfail");
  }
  if (pol.reject_threshold < pol.tag_threshold) {
    return make_error(Errc::kInvalidArgument, "policy.reject_threshold is below tag_threshold");
  }
  if (c.no_reply != "auto" && c.no_reply != "yes" && c.no_reply != "no") {
    return make_error(Errc::kInvalidArgument, "milter.no_reply must be auto, yes or no");
  }
  if (c.log_target != "stderr" && c.log_target != "syslog") {
    return make_error(Errc::kInvalidArgument, "log.target must be stderr or syslog");
  }
  if (!is_log_level(c.log_level)) {
    return make_error(Errc::kInvalidArgument, log_level_error("log.level", c.log_level));
  }
  if (c.pipeline.quarantine_method == QuarantineMethod::kDirectory &&
      c.pipeline.quarantine_dir.empty()) {
    return make_error(Errc::kInvalidArgument, "quarantine.directory is empty");
  }
  bool has_http = false;
  for (const auto& u : c.node_urls) {
    auto url = agent::parse_node_url(u);
    if (!url) return make_error(Errc::kInvalidArgument, "node.urls: " + url.error().message);
    has_http = has_http || !url->udp;
  }
  // udp:// nodes (strop-udp/1) answer checks only; auto-report signs HTTP requests.
  if (!c.node_identity.empty() && !c.node_urls.empty() && !has_http) {
    return make_error(Errc::kInvalidArgument,
                      "node.identity (auto-report) needs an http(s) URL in node.urls: udp:// "
                      "nodes answer checks only");
  }
  return {};
}

std::string print_config(const Config& c) {
  const PipelineOptions& p = c.pipeline;
  const PolicyOptions& pol = p.policy;
  std::string o;
  o += "# strop-milter effective configuration\n";
  o += "[milter]\n";
  o += fmt::format(
      "socket = {}\nsocket_mode = \"{:04o}\"\nbacklog = {}\nmta_timeout_s = {}\n"
      "max_recipients = {}\nmax_headers = {}\nno_reply = {}\n\n",
      q(c.socket), c.socket_mode, c.backlog, c.mta_timeout_s, c.max_recipients, c.max_headers,
      q(c.no_reply));
  o += fmt::format("[log]\nlevel = {}\ntarget = {}\n\n", q(c.log_level), q(c.log_target));
  o += fmt::format("[budget]\ntotal_ms = {}\n\n", p.budget.count());
  o += fmt::format(
      "[buffer]\nmemory_per_message = {}\nmemory_total = {}\nmax_message_bytes = {}\n"
      "spool_dir = {}\n\n",
      c.buffer.memory_per_message, c.memory_total, c.buffer.max_message_bytes,
      q(c.buffer.spool_dir));
  o += fmt::format(
      "[clamd]\nenabled = {}\naddresses = {}\ntimeout_ms = {}\nconnect_timeout_ms = {}\n"
      "max_bytes = {}\nchunk_bytes = {}\non_failure = {}\non_oversize = {}\n\n",
      c.clamd_enabled, qlist(c.clamd_addresses), p.clamd_timeout.count(),
      c.clamd_connect_timeout_ms, p.clamd_max_bytes, c.clamd_chunk_bytes,
      q(fail_mode_name(pol.clamd_failure)), q(action_name(pol.oversize_action)));
  o += fmt::format(
      "[node]\nurls = {}\ntimeout_ms = {}\non_failure = {}\nidentity = {}\n"
      "cache_ttl_ms = {}\nca_file = {}\n"
      "report_threshold = {}\nreport_timeout_ms = {}\nspam_traps = {}\n\n",
      qlist(c.node_urls), p.lookup_timeout.count(), q(fail_mode_name(pol.lookup_failure)),
      q(c.node_identity), c.node_cache_ttl_ms, q(c.node_ca_file), num(p.report_threshold),
      p.report_timeout.count(), qlist(p.spam_traps));
  o += fmt::format(
      "[spamd]\nenabled = {}\naddress = {}\nuser = {}\ntimeout_ms = {}\nmax_bytes = {}\n"
      "on_failure = {}\n\n",
      c.spamd_enabled, q(c.spamd_address), q(c.spamd_user), p.spamd_timeout.count(),
      p.spamd_max_bytes, q(fail_mode_name(pol.spamd_failure)));
  o += fmt::format("[rules]\nfile = {}\n\n", q(c.rules_file));
  o += fmt::format(
      "[policy]\ntag_threshold = {}\nreject_threshold = {}\nvirus_action = {}\n"
      "spam_action = {}\nsubject_tag = {}\nincoming_headers = {}\nvirus_reply = {}\n"
      "spam_reply = {}\ntempfail_reply = {}\n\n",
      num(pol.tag_threshold), num(pol.reject_threshold), q(action_name(pol.virus_action)),
      q(action_name(pol.spam_action)), q(p.headers.subject_tag),
      q(incoming_mode_name(p.headers.incoming)), q(pol.virus_reply), q(pol.spam_reply),
      q(pol.tempfail_reply));
  o += fmt::format("[quarantine]\nmethod = {}\ndirectory = {}\n\n",
                   q(quarantine_method_name(p.quarantine_method)), q(p.quarantine_dir));
  o += fmt::format("[bypass]\nnetworks = {}\nauthenticated = {}\nsenders = {}\nrecipients = {}\n\n",
                   qlist(c.bypass.networks), c.bypass.authenticated, qlist(c.bypass.senders),
                   qlist(c.bypass.recipients));
  o += fmt::format("[metrics]\nlisten = {}\n", q(c.metrics_listen));
  return o;
}

}  // namespace strop::milter
