// strop-milter: the SMTP-time filter (libmilter): ClamAV, signature lookups at a Strop node,
// rule scoring and the verdict, as described in docs/milter.md.
//
//   strop-milter [--config FILE] [--socket unix:PATH|inet:PORT@ADDR] [--node URL]
//                [--clamd unix:PATH|ADDR:PORT] [--rules FILE] [--print-config] [--version]
//
// Flags override the TOML config file. Exit codes (sysexits): 0 after a clean shutdown,
// 64 usage, 66 unreadable rules file, 69 socket unavailable, 70 internal error, 78 bad
// configuration.
//
// Lifecycle: SIGTERM/SIGINT stop libmilter (it finishes the sessions it serves). SIGHUP
// reloads: the same configuration file (flags over it) and the rules file are read again;
// log.level, log.target, log.format and the rules apply to the messages that follow; a file
// with an error is logged and the running configuration and rules kept; other changed keys
// wait for a restart (a warning names that). libmilter would treat SIGHUP as "stop", so the
// main thread, the only one with SIGHUP unblocked, takes it (the kernel offers a
// process-directed signal to the main thread first) and runs smfi_main() on a thread of its
// own. A remote stage (clamd, the node, spamd) that is enabled but unreachable at start is
// one warning in the log and a degraded /healthz, never a reason to refuse mail unless its
// on_failure says tempfail. Under systemd: READY=1 once the socket is open, RELOADING=1/READY=1
// around a reload, STOPPING=1, WATCHDOG=1 (base/service.hpp).
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sysexits.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "base/log.hpp"
#include "base/service.hpp"
#include "milter/clamd.hpp"
#include "milter/config.hpp"
#include "milter/milter_glue.hpp"
#include "milter/node_lookup.hpp"
#include "milter/rules.hpp"
#include "milter/spamc.hpp"
#include "milter/text.hpp"
#include "strop/version.hpp"

namespace {

using namespace strop::milter;

struct Flags {
  std::string config_file, socket, rules;
  std::vector<std::string> nodes, clamd;
};

// Defaults < the config file < flags, then the derived values and the cross-field checks.
strop::Result<Config> effective_config(const Flags& f) {
  Config cfg;
  if (!f.config_file.empty()) {
    auto c = load_config_file(f.config_file);
    if (!c) return c.error();
    cfg = std::move(*c);
  }
  if (!f.socket.empty()) cfg.socket = f.socket;
  if (!f.nodes.empty()) cfg.node_urls = f.nodes;
  if (!f.clamd.empty()) {
    cfg.clamd_addresses = f.clamd;
    cfg.clamd_enabled = true;
  }
  if (!f.rules.empty()) cfg.rules_file = f.rules;
  cfg.pipeline.headers.scanned_by = "strop-milter " + std::string(strop::kVersion);
  cfg.pipeline.headers.required = cfg.pipeline.policy.tag_threshold;
  if (auto v = validate(cfg); !v) return v.error();
  return cfg;
}

// The rules file (empty: the built-in rules only). kNotFound with the errno text when it
// cannot be read, kInvalidArgument when it does not parse.
strop::Result<RuleSet> load_rules(const std::string& path) {
  if (path.empty()) return RuleSet();
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return strop::make_error(strop::Errc::kNotFound,
                             "cannot read rules file " + path + ": " + std::strerror(errno));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto rs = parse_rules(ss.str());
  if (!rs)
    return strop::make_error(strop::Errc::kInvalidArgument, path + ": " + rs.error().message);
  return std::move(*rs);
}

strop::log::Options log_options(const Config& c) {
  strop::log::Options o;
  o.target = c.log_target;
  o.format = c.log_format;
  o.level = c.log_level;
  return o;
}

// Start-up probes of the enabled remote stages: one warning each that fails, and the stage
// marked failing in the health until a message gets through it.
void probe_stages(const Config& cfg, ClamdClient* clamd, SignatureLookup* lookup, Metrics* metrics,
                  spdlog::logger& log) {
  if (clamd != nullptr) {
    metrics->health.enable(Stage::kClamd);
    auto pong =
        clamd->ping(Deadline::after(std::chrono::milliseconds(cfg.clamd_connect_timeout_ms)));
    if (!pong) {
      std::string why = sanitize(pong.error().message, 300);
      metrics->health.failed(Stage::kClamd, why);
      log.warn(
          "clamd is enabled but unreachable at start: {}; until it answers, mail is {} "
          "(clamd.on_failure = \"{}\"; set clamd.enabled = false if there is no clamd)",
          why,
          cfg.pipeline.policy.clamd_failure == FailMode::kAccept
              ? "accepted unscanned and marked X-Strop-Skipped"
              : "tempfailed (451)",
          fail_mode_name(cfg.pipeline.policy.clamd_failure));
    }
  }
  if (lookup != nullptr) {
    metrics->health.enable(Stage::kLookup);
    strop::sigs::SignatureSet probe;
    auto sig = strop::sigs::parse_signature("body/1:00000000000000000000000000000000");
    if (sig) probe.sigs.push_back(*sig);
    auto v = lookup->check(probe, Deadline::after(std::chrono::milliseconds(1000)));
    if (!v) {
      std::string why = sanitize(v.error().message, 300);
      metrics->health.failed(Stage::kLookup, why);
      log.warn(
          "the node lookup is enabled but no node answered at start ({}): {}; until one does, "
          "mail is {} (node.on_failure = \"{}\")",
          cfg.node_urls.front(), why,
          cfg.pipeline.policy.lookup_failure == FailMode::kAccept ? "accepted without a lookup"
                                                                  : "tempfailed (451)",
          fail_mode_name(cfg.pipeline.policy.lookup_failure));
    }
  }
  if (cfg.spamd_enabled) metrics->health.enable(Stage::kSpamd);
}

// ---- SIGHUP on the main thread ---------------------------------------------------------------

int g_wake_fd = -1;  // write end of the main thread's wake-up pipe
std::atomic<int> g_hups{0};

void on_sighup(int) {
  int saved = errno;
  g_hups.fetch_add(1, std::memory_order_relaxed);
  char c = 'h';
  (void)!::write(g_wake_fd, &c, 1);
  errno = saved;
}

// SIGHUP: the configuration and rules again; see the file comment.
void reload(const Flags& flags, Config* running, Pipeline* pipeline, spdlog::logger& log) {
  strop::service::notify_reloading();
  auto next = effective_config(flags);
  if (!next) {
    log.error("reload: {}; keeping the running configuration", next.error().message);
    strop::service::notify_ready("reload failed, running configuration kept");
    return;
  }
  auto rules = load_rules(next->rules_file);
  if (!rules) {
    log.error("reload: {}; keeping the running configuration and rules", rules.error().message);
    strop::service::notify_ready("reload failed, running configuration kept");
    return;
  }
  Config rest = *running;
  rest.log_level = next->log_level;
  rest.log_target = next->log_target;
  rest.log_format = next->log_format;
  rest.rules_file = next->rules_file;
  rest.sources = next->sources;
  if (print_config(rest) != print_config(*next)) {
    log.warn(
        "reload: settings other than log.level, log.target, log.format and rules.file changed; "
        "they take effect at the next restart");
  }
  strop::log::reconfigure(log_options(*next));
  std::size_t n = rules->size();
  pipeline->set_rules(std::move(*rules));
  // The runtime keeps reading *running: only these fields change, and the callbacks never
  // read them.
  running->log_level = next->log_level;
  running->log_target = next->log_target;
  running->log_format = next->log_format;
  log.info("reloaded configuration{}{}: log level {}, rules {} ({} rules)",
           flags.config_file.empty() ? "" : " from ", flags.config_file, next->log_level,
           next->rules_file.empty() ? "built-in" : next->rules_file, n);
  strop::service::notify_ready("serving");
}

int run(int argc, char** argv) {
  CLI::App app{"strop-milter: SMTP-time virus, signature and rule filtering (libmilter)"};
  Flags flags;
  bool print = false, version = false;
  app.add_option("--config", flags.config_file, "TOML configuration file");
  app.add_option("--socket", flags.socket, "listen on unix:PATH or inet:PORT@ADDR");
  app.add_option("--node", flags.nodes, "Strop node URL (repeatable; replaces node.urls)");
  app.add_option("--clamd", flags.clamd,
                 "clamd at unix:PATH or ADDR:PORT (repeatable, round-robin)");
  app.add_option("--rules", flags.rules, "rules file");
  app.add_flag("--print-config", print, "print the effective configuration and exit");
  app.add_flag("--version", version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : EX_USAGE;
  }
  if (version) {
    std::cout << "strop-milter " << strop::kVersion << "\n";
    return 0;
  }

  auto loaded = effective_config(flags);
  if (!loaded) {
    std::fprintf(stderr, "strop-milter: %s\n", loaded.error().message.c_str());
    return EX_CONFIG;
  }
  Config cfg = std::move(*loaded);
  if (print) {
    std::fputs(print_config(cfg).c_str(), stdout);
    return 0;
  }

  auto ruleset = load_rules(cfg.rules_file);
  if (!ruleset) {
    std::fprintf(stderr, "strop-milter: %s\n", ruleset.error().message.c_str());
    return ruleset.error().code == strop::Errc::kNotFound ? EX_NOINPUT : EX_CONFIG;
  }

  // libmilter waits for SIGTERM/SIGINT/SIGHUP with sigwait() in its own thread and blocks
  // them in the thread that calls smfi_main(). Block them before any thread exists (metrics
  // listener, node client, the milter thread), so every thread inherits the mask and a signal
  // cannot hit a thread where its default action would kill the process without a clean
  // shutdown. The main thread alone unblocks SIGHUP below, for reloads.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::fprintf(stderr, "strop-milter: pipe: %s\n", std::strerror(errno));
    return EX_OSERR;
  }
  g_wake_fd = wake[1];
  struct sigaction sa {};
  sa.sa_handler = on_sighup;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  ::sigaction(SIGHUP, &sa, nullptr);

  strop::log::setup("strop-milter", {"milter"}, log_options(cfg));
  auto log = spdlog::get("milter");

  std::unique_ptr<ClamdClient> clamd_client;
  if (cfg.clamd_enabled) {
    ClamdOptions o;
    for (const auto& a : cfg.clamd_addresses) o.addresses.push_back(*parse_endpoint(a));
    o.chunk_bytes = cfg.clamd_chunk_bytes;
    o.connect_timeout = std::chrono::milliseconds(cfg.clamd_connect_timeout_ms);
    clamd_client = std::make_unique<ClamdClient>(std::move(o));
  }
  std::unique_ptr<SpamdClient> spamd_client;
  if (cfg.spamd_enabled) {
    SpamdOptions o;
    o.address = *parse_endpoint(cfg.spamd_address);
    o.user = cfg.spamd_user;
    spamd_client = std::make_unique<SpamdClient>(std::move(o));
  }
  std::unique_ptr<SignatureLookup> lookup;
  if (!cfg.node_urls.empty()) {
    NodeLookupOptions o;
    o.urls = cfg.node_urls;
    o.identity_file = cfg.node_identity;
    o.cache_ttl = std::chrono::milliseconds(cfg.node_cache_ttl_ms);
    o.ca_file = cfg.node_ca_file;
    auto l = make_node_lookup(o);
    if (!l) {
      log->critical("node lookup: {}", l.error().to_string());
      return EX_CONFIG;
    }
    lookup = std::move(*l);
  }

  if (cfg.pipeline.quarantine_method == QuarantineMethod::kDirectory) {
    std::error_code ec;
    std::filesystem::create_directories(cfg.pipeline.quarantine_dir, ec);
    if (ec) {
      log->warn("quarantine directory {}: {} (quarantined messages will be tempfailed)",
                cfg.pipeline.quarantine_dir, ec.message());
    }
  }
  auto bypass = Bypass::create(cfg.bypass);
  if (!bypass) {
    log->critical("bypass: {}", bypass.error().message);
    return EX_CONFIG;
  }
  Metrics metrics;
  MemoryBudget memory(cfg.memory_total);
  metrics.set_buffer_gauge([&memory] { return memory.used(); });
  log->info("strop-milter {} starting: clamd={} node={} spamd={} rules={} ({} rules)",
            strop::kVersion,
            cfg.clamd_enabled ? std::to_string(cfg.clamd_addresses.size()) + " address(es)" : "off",
            cfg.node_urls.empty() ? "off" : cfg.node_urls.front(),
            cfg.spamd_enabled ? cfg.spamd_address : "off",
            cfg.rules_file.empty() ? "built-in" : cfg.rules_file, ruleset->size());
  probe_stages(cfg, clamd_client.get(), lookup.get(), &metrics, *log);
  MetricsServer metrics_server(&metrics);
  if (!cfg.metrics_listen.empty()) {
    auto started = metrics_server.start(*parse_endpoint(cfg.metrics_listen, true));
    if (!started) {
      log->critical("metrics listener {}: {}", cfg.metrics_listen, started.error().message);
      return EX_UNAVAILABLE;
    }
    log->info("metrics on http://{}:{}/metrics", parse_endpoint(cfg.metrics_listen, true)->host,
              metrics_server.port());
  }

  Pipeline pipeline(cfg.pipeline, std::move(*ruleset), clamd_client.get(), lookup.get(),
                    spamd_client.get(), &metrics);
  MilterRuntime rt;
  rt.config = &cfg;
  rt.pipeline = &pipeline;
  rt.bypass = &*bypass;
  rt.metrics = &metrics;
  rt.memory = &memory;
  rt.log = log;
  bool unix_socket = parse_endpoint(cfg.socket)->kind == Endpoint::Kind::kUnix;
  rt.no_reply = cfg.no_reply == "yes" || (cfg.no_reply == "auto" && unix_socket);

  strop::service::Watchdog watchdog;
  std::atomic<bool> done{false};
  strop::Result<void> r;
  std::thread milter([&] {
    r = run_milter(rt);
    done.store(true);
    char c = 'd';
    (void)!::write(wake[1], &c, 1);
  });
  // Only this thread takes SIGHUP (see the file comment).
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &hup, nullptr);
  int seen = 0;
  while (!done.load()) {
    pollfd p{wake[0], POLLIN, 0};
    ::poll(&p, 1, 1000);
    char buf[64];
    while (::read(wake[0], buf, sizeof buf) > 0) {
    }
    int hups = g_hups.load(std::memory_order_relaxed);
    if (hups != seen && !done.load()) {
      seen = hups;
      log->info("received SIGHUP: reloading");
      try {
        reload(flags, &cfg, &pipeline, *log);
      } catch (const std::exception& e) {
        log->error("reload failed: {}", e.what());
      }
    }
  }
  pthread_sigmask(SIG_BLOCK, &hup, nullptr);
  milter.join();
  strop::service::notify_stopping();
  metrics_server.stop();
  if (!r) {
    log->critical("{}", r.error().message);
    return r.error().code == strop::Errc::kUnavailable ? EX_UNAVAILABLE : EX_SOFTWARE;
  }
  log->info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strop-milter: fatal: %s\n", e.what());
    return EX_SOFTWARE;
  }
}
