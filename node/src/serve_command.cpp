// serve_command.cpp: `strop-node serve [--config FILE] [--data DIR] [--listen ADDR:PORT]
// [--threads N] [--razor-listen ADDR:PORT|off] [--pyzor-listen ADDR:PORT|off]
// [--udp-listen ADDR:PORT|auto|off] [--admin-listen ADDR:PORT|off] [--print-config]`.
//
// Lifecycle: SIGHUP re-reads the same configuration file (with the same flags over it) and
// applies what can change safely while serving: node.log, node.log_format, node.log_level,
// the [rate_limit] rates and bucket sizes, and the TLS certificate and key; a file with an error is
// logged and the running configuration kept; other changed keys are named in a warning and wait for
// a restart. SIGTERM/SIGINT drain (server.hpp). Under systemd (sd_notify, base/service.hpp):
// READY=1 once every listener is bound, RELOADING=1 then READY=1 around a reload, STOPPING=1 when
// draining begins, WATCHDOG=1 while serving when WatchdogSec= is set.
#include <spdlog/spdlog.h>
#include <sysexits.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>

#include "base/log.hpp"
#include "base/service.hpp"
#include "commands.hpp"
#include "console.hpp"
#include "node/federation.hpp"
#include "node/feed_waiters.hpp"
#include "node/fleet.hpp"
#include "node/handlers.hpp"
#include "node/metrics.hpp"
#include "node/pyzor_listener.hpp"
#include "node/razor_accounts.hpp"
#include "node/razor_listener.hpp"
#include "node/server.hpp"
#include "node/signature_service.hpp"
#include "node/udp_listener.hpp"
#include "storage/store.hpp"

namespace strop::node::cli {

namespace {

// How much longer than its usual start and stop timeouts the service manager allows for
// opening the store (an index rebuild) and for closing it (the index snapshot's write):
// "EXTEND_TIMEOUT_USEC", sent before each.
constexpr std::chrono::microseconds kStoreOpenStopAllowance = std::chrono::minutes(10);

struct ServeOptions {
  std::string listen;
  unsigned threads = 0;
  std::optional<std::string> razor_listen;
  std::optional<std::string> pyzor_listen;
  std::optional<std::string> udp_listen;
  std::optional<std::string> admin_listen;
  std::optional<std::string> cluster_nats;
  std::optional<std::string> federation_site;
  bool print_config = false;
};

// serve's flags over a loaded configuration (at start and at every reload).
void apply_flags(const ServeOptions& opt, Config* c) {
  if (!opt.listen.empty()) c->listen = opt.listen;
  if (opt.threads) c->threads = opt.threads;
  if (opt.razor_listen) c->razor.listen = *opt.razor_listen;
  if (opt.pyzor_listen) c->pyzor.listen = *opt.pyzor_listen;
  if (opt.udp_listen) c->udp.listen = *opt.udp_listen;
  if (opt.admin_listen) c->admin.listen = *opt.admin_listen;
  if (opt.federation_site) c->store.federation_site = *opt.federation_site;
  if (opt.cluster_nats) {
    c->cluster.nats_urls.clear();
    std::string_view rest = *opt.cluster_nats;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto url = rest.substr(0, comma);
      if (!url.empty()) c->cluster.nats_urls.emplace_back(url);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
}

log::Options log_options(const Config& c) {
  log::Options o;
  o.target = c.log;
  o.format = c.log_format;
  o.level = c.log_level;
  return o;
}

// SIGHUP: the configuration file again, applied where that is safe (see the file comment).
// Runs on the API listener's first I/O thread.
void reload(const CommonOptions& common, const ServeOptions& opt, Config* running, Server& server,
            SignatureService& service) {
  auto log = spdlog::get("node");
  strop::service::notify_reloading();
  std::optional<Config> loaded;
  if (common.config_file.empty()) {
    loaded = Config{};
    if (!common.data_dir.empty()) loaded->data_dir = common.data_dir;
  } else {
    // load_effective_config prints its error to stderr; log it in the one layout instead.
    auto l = load_config(common.config_file);
    if (!l) {
      log->error("reload: {}; keeping the running configuration", l.error().message);
      strop::service::notify_ready("reload failed, running configuration kept");
      return;
    }
    loaded = std::move(*l);
    if (!common.data_dir.empty()) loaded->data_dir = common.data_dir;
  }
  Config next = std::move(*loaded);
  apply_flags(opt, &next);
  if (auto v = validate(next); !v) {
    log->error("reload: {}; keeping the running configuration", v.error().message);
    strop::service::notify_ready("reload failed, running configuration kept");
    return;
  }
  if (next.tls_cert != running->tls_cert || next.tls_key != running->tls_key ||
      !next.tls_cert.empty()) {
    if (auto t = server.reload_tls(next); !t) {
      log->error("reload: {}; keeping the running TLS certificate", t.error().message);
      next.tls_cert = running->tls_cert;
      next.tls_key = running->tls_key;
    }
  }
  // What else changed waits for a restart: compare with the reloadable keys copied over.
  Config rest = *running;
  rest.log = next.log;
  rest.log_format = next.log_format;
  rest.log_level = next.log_level;
  rest.tls_cert = next.tls_cert;
  rest.tls_key = next.tls_key;
  rest.ip_limit = next.ip_limit;
  rest.reporter_limit = next.reporter_limit;
  rest.register_limit = next.register_limit;
  if (to_toml(rest) != to_toml(next)) {
    log->warn(
        "reload: settings other than node.log, node.log_format, node.log_level, the "
        "rate_limit rates and bursts and tls.* changed; they take effect at the next restart");
  }
  service.set_rate_limits(next);
  running->ip_limit = next.ip_limit;
  running->reporter_limit = next.reporter_limit;
  running->register_limit = next.register_limit;
  strop::log::reconfigure(log_options(next));
  running->log = next.log;
  running->log_format = next.log_format;
  running->log_level = next.log_level;
  running->tls_cert = next.tls_cert;
  running->tls_key = next.tls_key;
  log->info("reloaded configuration{}{} (log level {}, format {}, target {})",
            common.config_file.empty() ? "" : " from ", common.config_file, next.log_level,
            next.log_format, next.log);
  strop::service::notify_ready("serving");
}

int run_serve(const CommonOptions& common, const ServeOptions& opt) {
  // SIGHUP before the listeners handle it (store open may take a while) must not kill.
  std::signal(SIGHUP, SIG_IGN);
  int code = 0;
  auto cfg = load_effective_config(common, &code);
  if (!cfg) return code;
  Config c = std::move(*cfg);
  apply_flags(opt, &c);
  if (opt.print_config || common.print_config) return print_effective_config(c);
  if (auto v = validate(c); !v) {
    std::fprintf(stderr, "strop-node: %s\n", v.error().message.c_str());
    return EX_CONFIG;
  }
  setup_logging(c);
  auto log = spdlog::get("node");

  // First run: create the data directory (private: it holds reporter secrets).
  std::error_code ec;
  if (!std::filesystem::exists(c.data_dir, ec)) {
    std::filesystem::create_directories(c.data_dir, ec);
    if (ec) {
      log->critical("cannot create data directory {}: {} (use --data DIR)", c.data_dir,
                    ec.message());
      return EX_CANTCREAT;
    }
    std::filesystem::permissions(c.data_dir, std::filesystem::perms::owner_all, ec);
    log->info("created data directory {}", c.data_dir);
  }

  NodeMetrics metrics;  // before the store: its writer feeds the commit latency histogram
  storage::StoreOptions so = c.store;
  so.dir = c.data_dir;
  so.serve = true;
  // In a fleet, hits and expiry go through the log like every other write (docs/fleet.md).
  so.replicated_activity = !c.cluster.nats_urls.empty();
  // Pulls parked by the long poll of the feed wake at each commit (docs/federation.md).
  FeedWaiters feed_waiters;
  so.on_commit = [&metrics, &feed_waiters](std::chrono::nanoseconds latency) {
    metrics.observe_commit(latency);
    feed_waiters.notify();
  };
  // Opening loads the index snapshot, or rebuilds the index from LMDB after a crash (minutes
  // at 100M signatures): give the service manager's start timeout room for the rebuild.
  strop::service::notify("STATUS=opening the store\nEXTEND_TIMEOUT_USEC=" +
                         std::to_string(kStoreOpenStopAllowance.count()));
  auto opened = storage::Store::open(so);
  if (!opened) {
    log->critical("cannot open the store in {}: {}", c.data_dir, opened.error().to_string());
    return opened.error().code == Errc::kIo ? EX_IOERR : EX_CONFIG;
  }
  std::unique_ptr<storage::Store> store = std::move(*opened);

  boost::asio::thread_pool blocking(1);  // registrations wait for a commit: not on I/O threads
  // One service behind every protocol: limits, replay cache, policy and the Store calls.
  Config resolved = c;
  resolved.udp.listen = udp_listen_address(c, 0);
  auto service = std::make_unique<SignatureService>(
      resolved, *store, metrics, Clocks{},
      [&blocking](std::function<void()> job) { boost::asio::post(blocking, std::move(job)); });
  // Fleet mode: writes through the replicated log (docs/fleet.md).
  std::unique_ptr<Fleet> fleet;
  std::unique_ptr<NatsFleet> nats;
  if (!c.cluster.nats_urls.empty()) {
    FleetOptions fo;
    fo.origin = fleet_origin(c);
    fo.publish_timeout = c.cluster.publish_timeout;
    fo.expire_after = c.store.expire_after;
    fo.sweep_interval = c.store.sweep_interval;
    fo.sweep_batch = c.store.sweep_batch;
    fleet = std::make_unique<Fleet>(*store, std::move(fo));
    auto started = start_nats_fleet(c, *fleet);
    if (!started) {
      log->critical("{}", started.error().message);
      return started.error().code == Errc::kIo ? EX_UNAVAILABLE : EX_CONFIG;
    }
    nats = std::move(*started);
    service->set_fleet(fleet.get());
    log->info("fleet mode: node id {}, stream {} ({}), applied sequence {}", fleet->origin(),
              c.cluster.stream, c.cluster.subject, store->applied_sequence());
  }
  // Federation: pull the peers' feeds (docs/federation.md); the store keeps this site's feed.
  std::unique_ptr<FederationPuller> puller;
  if (!c.store.federation_site.empty()) {
    puller = std::make_unique<FederationPuller>(*store, c);
    // In a fleet one member pulls at a time and each batch goes through the log.
    puller->set_fleet(fleet.get());
    service->set_federation(puller.get());
    service->set_feed_waiters(&feed_waiters);
    feed_waiters.start();
  }
  auto api = std::make_unique<Api>(*service);
  auto server = Server::create(c, *api, metrics);
  if (!server) {
    log->critical("{}", server.error().message);
    return server.error().code == Errc::kIo ? EX_UNAVAILABLE : EX_CONFIG;
  }
  // The admin listener: /metrics (then not on the API listener), health and the admin API.
  std::unique_ptr<Server> admin;
  std::unique_ptr<Console> console;
  if (listener_enabled(c.admin.listen)) {
    // The web console under /ui/ (docs/console.md), on the admin listener only.
    UiHandler ui;
    if (c.console.enabled) {
      console = std::make_unique<Console>(*service, *store);
      console->set_fleet(fleet.get());
      console->set_federation(puller.get());
      ui = [&console](const HttpRequest& req, const BrowserFields& fields, Done done) {
        console->handle(req, fields, std::move(done));
      };
    }
    auto a = Server::create_admin(c, *api, metrics, std::move(ui));
    if (!a) {
      log->critical("{}", a.error().message);
      return a.error().code == Errc::kIo ? EX_UNAVAILABLE : EX_CONFIG;
    }
    admin = std::move(*a);
  }
  // The legacy listeners (Razor2 TCP, Pyzor UDP), each switched on by its listen address.
  const bool razor_on = listener_enabled(c.razor.listen);
  const bool pyzor_on = listener_enabled(c.pyzor.listen);
  std::unique_ptr<RazorAccounts> accounts;
  std::unique_ptr<Listener> razor;
  std::unique_ptr<Listener> pyzor;
  if (razor_on || pyzor_on) {
    // Razor registration seals passwords with the node key: create it if missing. Pyzor only
    // reads it (for reporters registered over Razor2).
    auto key = NodeKey::load(razor_key_path(c), razor_on);
    if (!key && (razor_on || key.error().code != Errc::kNotFound)) {
      log->critical("{}", key.error().message);
      return EX_CANTCREAT;
    }
    accounts = std::make_unique<RazorAccounts>(key ? std::optional<NodeKey>(*key) : std::nullopt);
  }
  if (razor_on) {
    auto r = make_razor_listener(*service, *accounts);
    if (!r) {
      log->critical("{}", r.error().message);
      return r.error().code == Errc::kIo ? EX_UNAVAILABLE : EX_CONFIG;
    }
    razor = std::move(*r);
  }
  if (pyzor_on) {
    auto p = make_pyzor_listener(*service, *accounts);
    if (!p) {
      log->critical("{}", p.error().message);
      return p.error().code == Errc::kIo ? EX_UNAVAILABLE : EX_CONFIG;
    }
    pyzor = std::move(*p);
  }
  // The native binary UDP check listener (strop-udp/1). "auto" (the default) follows the
  // API listener; the service read the resolved address (udp_listen_address) at creation.
  std::unique_ptr<Listener> udp;
  if (listener_enabled(service->config().udp.listen)) {
    auto u = make_udp_listener(*service);
    if (!u && c.udp.listen == "auto" && u.error().code == Errc::kIo) {
      log->warn("{}; the strop-udp/1 listener stays off (set udp.listen to choose)",
                u.error().message);
    } else if (!u) {
      log->critical("{}", u.error().message);
      return u.error().code == Errc::kIo ? EX_UNAVAILABLE : EX_CONFIG;
    } else {
      udp = std::move(*u);
    }
  }
  if (razor) {
    razor->start();
    log->info("razor listener on {}:{}", razor->local_host(), razor->local_port());
  }
  if (pyzor) {
    pyzor->start();
    log->info("pyzor listener on {}:{}", pyzor->local_host(), pyzor->local_port());
  }
  if (udp) {
    udp->start();
    log->info("udp listener on {}:{}", udp->local_host(), udp->local_port());
  }

  auto st = store->stats();
  unsigned threads = c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
  if (admin) {
    if (console) console->start();
    admin->set_ready(true);
    admin->start();
    log->info("admin listener on {}:{} (/metrics, /healthz, /readyz, /admin/{})",
              admin->local_host(), admin->local_port(), console ? ", /ui/" : "");
  }
  Config running = c;
  Server& api_server = **server;
  api_server.set_on_reload([&common, &opt, &running, &api_server, &service] {
    reload(common, opt, &running, api_server, *service);
  });
  api_server.set_ready(true);
  log->info(
      "strop-node {} ready: listening on {}:{} ({}, {} threads, data {}, {} signatures, {} "
      "reporters)",
      kNodeVersion, api_server.local_host(), api_server.local_port(),
      api_server.tls() ? "https" : "http", threads, c.data_dir, st.signatures, st.reporters);
  if (puller) {
    puller->start();
    auto peers = store->list_peers();
    auto feed = store->read_feed(0, 0);
    log->info("federation: site {}, {} peers, feed at {}", c.store.federation_site,
              peers ? peers->size() : 0, feed ? feed->head : 0);
  }
  strop::service::notify_ready("serving");
  std::optional<strop::service::Watchdog> watchdog;
  watchdog.emplace();

  api_server.run();
  feed_waiters.stop();  // answers the pulls still parked (empty) before the API goes
  strop::service::notify_stopping();
  watchdog.reset();

  // Drain: the legacy listeners, registrations, then every queued write (their callbacks
  // post into the stopped io_contexts), then tear down in reverse order.
  if (razor) {
    razor->stop();
    log->info("{}", razor->summary());
  }
  if (pyzor) {
    pyzor->stop();
    log->info("{}", pyzor->summary());
  }
  if (udp) {
    udp->stop();
    log->info("{}", udp->summary());
  }
  if (admin) {
    admin->stop();
    admin->join();
  }
  if (console) console->stop();
  if (nats) nats->stop();      // fails writes still waiting for the log
  if (puller) puller->stop();  // a pull in flight ends within federation.timeout_ms
  blocking.join();
  if (auto f = store->flush(); !f) log->error("final flush failed: {}", f.error().to_string());
  admin.reset();
  console.reset();
  razor.reset();
  pyzor.reset();
  udp.reset();
  server->reset();
  api.reset();
  service.reset();
  puller.reset();
  nats.reset();
  fleet.reset();
  // Closing saves the index snapshot (docs/storage-format.md: its size written and fsynced).
  strop::service::notify("STATUS=saving the index snapshot\nEXTEND_TIMEOUT_USEC=" +
                         std::to_string(kStoreOpenStopAllowance.count()));
  store.reset();
  std::signal(SIGHUP, SIG_IGN);  // the listener's handler is gone with it
  log->info("stopped");
  return 0;
}

}  // namespace

void setup_serve(CLI::App& app, const std::shared_ptr<CommonOptions>& common, int* exit_code) {
  auto opt = std::make_shared<ServeOptions>();
  auto* sub = app.add_subcommand("serve", "Run the node (native API over HTTP/HTTPS)");
  sub->add_option("--listen", opt->listen,
                  "Listen address ADDR:PORT (overrides node.listen; port 0 = any)");
  sub->add_option("--threads", opt->threads,
                  "I/O threads (overrides node.threads; 0 = one per core)");
  sub->add_option(
      "--razor-listen", opt->razor_listen,
      "Razor2 listener ADDR:PORT, or off (overrides razor.listen; clients default to port 2703)");
  sub->add_option("--pyzor-listen", opt->pyzor_listen,
                  "Pyzor UDP listener ADDR:PORT, or off (overrides pyzor.listen; clients default "
                  "to port 24441)");
  sub->add_option("--udp-listen", opt->udp_listen,
                  "Native binary UDP check listener (strop-udp/1) ADDR:PORT, auto (the API "
                  "listener's address and port) or off (overrides udp.listen)");
  sub->add_option("--admin-listen", opt->admin_listen,
                  "Admin listener ADDR:PORT (/metrics, /healthz, /readyz, admin API), or off "
                  "(overrides admin.listen; when set, /metrics leaves the API listener)");
  sub->add_option("--cluster-nats", opt->cluster_nats,
                  "Fleet mode: NATS JetStream servers URL[,URL...] (overrides cluster.nats_urls; "
                  "docs/fleet.md)");
  sub->add_option("--federation-site", opt->federation_site,
                  "Federation: this site's name, the origin of its listings (overrides "
                  "federation.site; docs/federation.md)");
  sub->add_flag("--print-config", opt->print_config,
                "Print the effective configuration as TOML and exit");
  sub->callback([common, opt, exit_code] { *exit_code = run_serve(*common, *opt); });
}

}  // namespace strop::node::cli
