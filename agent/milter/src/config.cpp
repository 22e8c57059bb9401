// config.cpp: strop-milter's key table (config::Table, base/config_table.hpp): every key once,
// with its type, range and doc line; the table drives loading, errors and --print-config.
#include "milter/config.hpp"

#include <fmt/format.h>

#include "agent/node_url.hpp"
#include "base/log.hpp"
#include "milter/net.hpp"
#include "milter/text.hpp"
#include "strop/log_level.hpp"

namespace strop::milter {
namespace {

namespace cfg = strop::config;
constexpr std::int64_t kMaxBytes = std::int64_t{1} << 40;
constexpr std::int64_t kHourMs = 3'600'000;

// milter.socket_mode: octal digits, as a string ("0660") or an integer (660).
cfg::Key<Config> socket_mode_key() {
  cfg::Key<Config> k;
  k.info.section = "milter";
  k.info.name = "socket_mode";
  k.info.doc = "unix socket mode, octal";
  k.info.integer_as_string = true;
  k.set = [](Config& c, const cfg::Value& v) -> Result<void> {
    const auto& s = std::get<std::string>(v);
    const auto bad = [] {
      return make_error(Errc::kInvalidArgument, "expected octal like \"0660\"");
    };
    if (s.empty() || s.size() > 4) return bad();  // and so at most 07777: no overflow
    int mode = 0;
    for (char ch : s) {
      if (ch < '0' || ch > '7') return bad();
      mode = mode * 8 + (ch - '0');
    }
    c.socket_mode = mode;
    return {};
  };
  k.get = [](const Config& c) -> cfg::Value { return fmt::format("{:04o}", c.socket_mode); };
  return k;
}

// node.spam_traps: envelope addresses, kept bare and lower-case.
cfg::Key<Config> spam_traps_key() {
  auto k =
      cfg::string_list_key<Config>("node", "spam_traps", "recipients whose mail is auto-reported",
                                   cfg::nested(&Config::pipeline, &PipelineOptions::spam_traps));
  k.set = [](Config& c, const cfg::Value& v) -> Result<void> {
    c.pipeline.spam_traps.clear();
    for (const auto& t : std::get<std::vector<std::string>>(v)) {
      c.pipeline.spam_traps.push_back(bare_address(t));
    }
    return {};
  };
  return k;
}

// An Action or FailMode key (policy.hpp), by its accessor.
template <class Access>
cfg::Key<Config> action_key(std::string_view section, std::string_view name, std::string_view doc,
                            Access access) {
  return cfg::enum_key<Config>(section, name, doc, access,
                               {"accept", "tag", "reject", "discard", "quarantine", "tempfail"},
                               parse_action, action_name);
}
template <class Access>
cfg::Key<Config> fail_mode_key(std::string_view section, std::string_view doc, Access access) {
  return cfg::enum_key<Config>(section, "on_failure", doc, access, {"tempfail", "accept"},
                               parse_fail_mode, fail_mode_name);
}

const cfg::Table<Config>& table() {
  using C = Config;
  using P = PipelineOptions;
  using Pol = PolicyOptions;
  using H = HeaderOptions;
  using B = BufferOptions;
  using Bp = BypassOptions;
  static const cfg::Table<C> kTable({
      // [milter]
      cfg::string_key<C>("milter", "socket", "unix:PATH or inet:PORT@ADDR", &C::socket),
      socket_mode_key(),
      cfg::integer_key<C>("milter", "backlog", "pending MTA connections", &C::backlog, 1, 65535),
      cfg::duration_count_key<C>("milter", "mta_timeout_seconds",
                                 "libmilter's I/O timeout towards the MTA", "seconds",
                                 &C::mta_timeout_s, 1, 86400)
          .old_name("mta_timeout_s"),
      cfg::integer_key<C>("milter", "max_recipients", "recipients remembered per message",
                          &C::max_recipients, 1, 1'000'000),
      cfg::integer_key<C>("milter", "max_headers", "headers remembered per message",
                          &C::max_headers, 1, 1'000'000),
      cfg::choice_key<C>("milter", "no_reply",
                         "skip MTA replies where none is needed: auto (unix sockets), yes, no",
                         &C::no_reply, {"auto", "yes", "no"}),
      // [log]
      cfg::log_level_key<C>("log", "level", "trace debug info warn error critical off",
                            &C::log_level, {kLogLevels.begin(), kLogLevels.end()}),
      cfg::choice_key<C>("log", "target", "stderr or syslog (facility LOG_MAIL)", &C::log_target,
                         {log::kTargets.begin(), log::kTargets.end()}),
      cfg::choice_key<C>("log", "format", "text (RFC 3339 time, level, program, logfmt) or json",
                         &C::log_format, {log::kFormats.begin(), log::kFormats.end()}),
      // [budget]
      cfg::duration_key<C>("budget", "total_ms", "everything at end of message, all stages",
                           cfg::nested(&C::pipeline, &P::budget), 1, kHourMs),
      // [buffer]
      cfg::integer_key<C>("buffer", "memory_per_message", "in memory up to this, then spilled",
                          cfg::nested(&C::buffer, &B::memory_per_message), 0, kMaxBytes),
      cfg::integer_key<C>("buffer", "memory_total", "across all messages in flight",
                          &C::memory_total, 0, kMaxBytes),
      cfg::integer_key<C>("buffer", "max_message_bytes", "stored at most; larger: not scanned",
                          cfg::nested(&C::buffer, &B::max_message_bytes), 1, kMaxBytes),
      cfg::string_key<C>("buffer", "spool_dir", "where spill files live (O_TMPFILE)",
                         cfg::nested(&C::buffer, &B::spool_dir)),
      // [clamd]
      cfg::bool_key<C>("clamd", "enabled", "scan with clamd", &C::clamd_enabled),
      cfg::string_list_key<C>("clamd", "addresses", "unix:PATH or ADDR:PORT; round-robin",
                              &C::clamd_addresses),
      cfg::duration_key<C>("clamd", "timeout_ms", "one scan",
                           cfg::nested(&C::pipeline, &P::clamd_timeout), 1, kHourMs),
      cfg::duration_count_key<C>("clamd", "connect_timeout_ms", "per address", "ms",
                                 &C::clamd_connect_timeout_ms, 1, 600'000),
      cfg::integer_key<C>("clamd", "max_bytes", "larger messages are not sent",
                          cfg::nested(&C::pipeline, &P::clamd_max_bytes), 1, kMaxBytes),
      cfg::integer_key<C>("clamd", "chunk_bytes", "INSTREAM chunk size", &C::clamd_chunk_bytes, 1,
                          16 << 20),
      fail_mode_key("clamd", "clamd down, timeout or bad reply: accept (tagged) or tempfail",
                    cfg::nested(&C::pipeline, &P::policy, &Pol::clamd_failure)),
      action_key("clamd", "on_oversize", "too large to scan: accept, reject or tempfail",
                 cfg::nested(&C::pipeline, &P::policy, &Pol::oversize_action)),
      // [node]
      cfg::string_list_key<C>("node", "urls",
                              "http(s):// or udp:// node URLs (default: the local node's "
                              "strop-udp/1); []: no lookup",
                              &C::node_urls),
      cfg::duration_key<C>("node", "timeout_ms", "one lookup",
                           cfg::nested(&C::pipeline, &P::lookup_timeout), 1, kHourMs),
      fail_mode_key("node", "node down or timeout",
                    cfg::nested(&C::pipeline, &P::policy, &Pol::lookup_failure)),
      cfg::string_key<C>("node", "identity", "reporter identity file, for auto-report",
                         &C::node_identity),
      cfg::duration_count_key<C>("node", "cache_ttl_ms", "verdict cache; 0: off", "ms",
                                 &C::node_cache_ttl_ms, 0, 86'400'000),
      cfg::string_key<C>("node", "ca_file", "CA certificates for https nodes; \"\": system",
                         &C::node_ca_file),
      cfg::double_key<C>("node", "report_threshold", "auto-report at this score; 0: off",
                         cfg::nested(&C::pipeline, &P::report_threshold), -1e6, 1e6),
      cfg::duration_key<C>("node", "report_timeout_ms", "one auto-report",
                           cfg::nested(&C::pipeline, &P::report_timeout), 1, kHourMs),
      spam_traps_key(),
      // [spamd]
      cfg::bool_key<C>("spamd", "enabled", "ask spamd", &C::spamd_enabled),
      cfg::string_key<C>("spamd", "address", "ADDR:PORT or unix:PATH", &C::spamd_address),
      cfg::string_key<C>("spamd", "user", "the SPAMC User: header", &C::spamd_user),
      cfg::duration_key<C>("spamd", "timeout_ms", "one check",
                           cfg::nested(&C::pipeline, &P::spamd_timeout), 1, kHourMs),
      cfg::integer_key<C>("spamd", "max_bytes", "larger messages are not sent",
                          cfg::nested(&C::pipeline, &P::spamd_max_bytes), 1, kMaxBytes),
      fail_mode_key("spamd", "spamd down or timeout",
                    cfg::nested(&C::pipeline, &P::policy, &Pol::spamd_failure)),
      // [rules]
      cfg::string_key<C>("rules", "file", "rules file; \"\": built-in rules only", &C::rules_file),
      // [policy]
      cfg::double_key<C>("policy", "tag_threshold", "score at/above which mail is tagged",
                         cfg::nested(&C::pipeline, &P::policy, &Pol::tag_threshold), -1e6, 1e6),
      cfg::double_key<C>("policy", "reject_threshold", "score at/above which spam_action applies",
                         cfg::nested(&C::pipeline, &P::policy, &Pol::reject_threshold), -1e6, 1e6),
      action_key("policy", "virus_action", "reject, discard, quarantine or tempfail",
                 cfg::nested(&C::pipeline, &P::policy, &Pol::virus_action)),
      action_key("policy", "spam_action", "reject, discard, quarantine, tempfail or tag",
                 cfg::nested(&C::pipeline, &P::policy, &Pol::spam_action)),
      cfg::string_key<C>("policy", "subject_tag", "prefixed to the Subject of tagged mail",
                         cfg::nested(&C::pipeline, &P::headers, &H::subject_tag)),
      cfg::enum_key<C>("policy", "incoming_headers", "X-Spam-*/X-Strop-* from outside",
                       cfg::nested(&C::pipeline, &P::headers, &H::incoming),
                       {"remove", "rename", "keep"}, parse_incoming_mode, incoming_mode_name),
      cfg::string_key<C>("policy", "virus_reply", "554 5.7.1 text; %v: virus name",
                         cfg::nested(&C::pipeline, &P::policy, &Pol::virus_reply)),
      cfg::string_key<C>("policy", "spam_reply", "550 5.7.1 text; %s: score",
                         cfg::nested(&C::pipeline, &P::policy, &Pol::spam_reply)),
      cfg::string_key<C>("policy", "tempfail_reply", "451 4.7.1 text",
                         cfg::nested(&C::pipeline, &P::policy, &Pol::tempfail_reply)),
      // [quarantine]
      cfg::enum_key<C>("quarantine", "method", "directory (message + JSON sidecar) or hold",
                       cfg::nested(&C::pipeline, &P::quarantine_method), {"directory", "hold"},
                       parse_quarantine_method, quarantine_method_name),
      cfg::string_key<C>("quarantine", "directory", "where quarantined messages go",
                         cfg::nested(&C::pipeline, &P::quarantine_dir)),
      // [bypass]
      cfg::string_list_key<C>("bypass", "networks", "client CIDRs never scanned",
                              cfg::nested(&C::bypass, &Bp::networks)),
      cfg::bool_key<C>("bypass", "authenticated", "SMTP-AUTH senders are not scanned",
                       cfg::nested(&C::bypass, &Bp::authenticated)),
      cfg::string_list_key<C>("bypass", "senders", "envelope-sender globs",
                              cfg::nested(&C::bypass, &Bp::senders)),
      cfg::string_list_key<C>("bypass", "recipients", "bypass if ALL recipients match",
                              cfg::nested(&C::bypass, &Bp::recipients)),
      // [metrics]
      cfg::string_key<C>("metrics", "listen", "ADDR:PORT for GET /metrics; \"\": off",
                         &C::metrics_listen),
  });
  return kTable;
}

Result<Config> parse(std::string_view text, std::string_view source, config::Sources* sources) {
  Config c;
  auto r = table().load(text, source, c, sources, "file " + std::string(source));
  if (!r) return make_error(Errc::kInvalidArgument, r.error().message);
  return c;
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, std::string_view source) {
  return parse(toml_text, source, nullptr);
}

Result<Config> load_config_file(const std::string& path) {
  auto text = config::read_file(path);
  if (!text) {
    return make_error(text.error().code == Errc::kIo ? Errc::kNotFound : text.error().code,
                      text.error().message);
  }
  config::Sources sources;
  auto c = parse(*text, path, &sources);
  if (c) c->sources = std::move(sources);
  return c;
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
  if (c.log_format != "text" && c.log_format != "json") {
    return make_error(Errc::kInvalidArgument, "log.format must be text or json");
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
  config::PrintOptions o;
  o.header = "strop-milter effective configuration";
  o.sources = &c.sources;
  return table().print(c, o);
}

}  // namespace strop::milter
