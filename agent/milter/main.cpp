// strop-milter: the SMTP-time filter (libmilter): ClamAV, signature lookups at a Strop node,
// rule scoring and the verdict, as described in docs/milter.md.
//
//   strop-milter [--config FILE] [--socket unix:PATH|inet:PORT@ADDR] [--node URL]
//                [--clamd unix:PATH|ADDR:PORT] [--rules FILE] [--print-config] [--version]
//
// Flags override the TOML config file. Exit codes (sysexits): 0 after a clean shutdown,
// 64 usage, 66 unreadable rules file, 69 socket unavailable, 70 internal error, 78 bad
// configuration.
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <sysexits.h>
#include <syslog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "milter/clamd.hpp"
#include "milter/config.hpp"
#include "milter/milter_glue.hpp"
#include "milter/node_lookup.hpp"
#include "milter/rules.hpp"
#include "milter/spamc.hpp"
#include "strop/version.hpp"

namespace {

using namespace strop::milter;

std::shared_ptr<spdlog::logger> make_logger(const Config& c) {
  std::shared_ptr<spdlog::logger> log;
  if (c.log_target == "syslog") {
    log = spdlog::syslog_logger_mt("milter", "strop-milter", LOG_PID, LOG_MAIL);
    log->set_pattern("%v");
  } else {
    log = spdlog::stderr_logger_mt("milter");
    log->set_pattern("%Y-%m-%dT%H:%M:%S.%e strop-milter[%P] %l: %v");
  }
  log->set_level(spdlog::level::from_str(c.log_level));
  log->flush_on(spdlog::level::info);
  return log;
}

int run(int argc, char** argv) {
  CLI::App app{"strop-milter: SMTP-time virus, signature and rule filtering (libmilter)"};
  std::string config_file, socket, rules;
  std::vector<std::string> nodes, clamd;
  bool print = false, version = false;
  app.add_option("--config", config_file, "TOML configuration file");
  app.add_option("--socket", socket, "listen on unix:PATH or inet:PORT@ADDR");
  app.add_option("--node", nodes, "Strop node URL (repeatable; replaces node.urls)");
  app.add_option("--clamd", clamd, "clamd at unix:PATH or ADDR:PORT (repeatable, round-robin)");
  app.add_option("--rules", rules, "rules file");
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

  Config cfg;
  if (!config_file.empty()) {
    auto c = load_config_file(config_file);
    if (!c) {
      std::fprintf(stderr, "strop-milter: %s\n", c.error().message.c_str());
      return EX_CONFIG;
    }
    cfg = std::move(*c);
  }
  if (!socket.empty()) cfg.socket = socket;
  if (!nodes.empty()) cfg.node_urls = nodes;
  if (!clamd.empty()) {
    cfg.clamd_addresses = clamd;
    cfg.clamd_enabled = true;
  }
  if (!rules.empty()) cfg.rules_file = rules;
  cfg.pipeline.headers.scanned_by = "strop-milter " + std::string(strop::kVersion);
  cfg.pipeline.headers.required = cfg.pipeline.policy.tag_threshold;
  if (auto v = validate(cfg); !v) {
    std::fprintf(stderr, "strop-milter: %s\n", v.error().message.c_str());
    return EX_CONFIG;
  }
  if (print) {
    std::fputs(print_config(cfg).c_str(), stdout);
    return 0;
  }

  RuleSet ruleset;
  if (!cfg.rules_file.empty()) {
    std::ifstream in(cfg.rules_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "strop-milter: cannot read rules file %s\n", cfg.rules_file.c_str());
      return EX_NOINPUT;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    auto rs = parse_rules(ss.str());
    if (!rs) {
      std::fprintf(stderr, "strop-milter: %s: %s\n", cfg.rules_file.c_str(),
                   rs.error().message.c_str());
      return EX_CONFIG;
    }
    ruleset = std::move(*rs);
  }

  // libmilter waits for SIGTERM/SIGINT/SIGHUP with sigwait() in its own thread and blocks
  // them in the thread that calls smfi_main(). Block them before any thread exists (metrics
  // listener, node client), so every thread inherits the mask and a signal cannot hit a
  // thread where its default action would kill the process without a clean shutdown.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto log = make_logger(cfg);

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

  Pipeline pipeline(cfg.pipeline, ruleset, clamd_client.get(), lookup.get(), spamd_client.get(),
                    &metrics);
  MilterRuntime rt;
  rt.config = &cfg;
  rt.pipeline = &pipeline;
  rt.bypass = &*bypass;
  rt.metrics = &metrics;
  rt.memory = &memory;
  rt.log = log;
  bool unix_socket = parse_endpoint(cfg.socket)->kind == Endpoint::Kind::kUnix;
  rt.no_reply = cfg.no_reply == "yes" || (cfg.no_reply == "auto" && unix_socket);
  log->info("strop-milter {} starting: clamd={} node={} spamd={} rules={} ({} rules)",
            strop::kVersion,
            cfg.clamd_enabled ? std::to_string(cfg.clamd_addresses.size()) + " address(es)" : "off",
            cfg.node_urls.empty() ? "off" : cfg.node_urls.front(),
            cfg.spamd_enabled ? cfg.spamd_address : "off",
            cfg.rules_file.empty() ? "built-in" : cfg.rules_file, ruleset.size());
  auto r = run_milter(rt);
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
