// serve_command.cpp: `strop-node serve [--config FILE] [--data DIR] [--listen ADDR:PORT]
// [--threads N] [--print-config]`.
#include <spdlog/spdlog.h>
#include <sysexits.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>

#include "commands.hpp"
#include "node/handlers.hpp"
#include "node/metrics.hpp"
#include "node/server.hpp"
#include "storage/store.hpp"

namespace strop::node::cli {

namespace {

struct ServeOptions {
  std::string listen;
  unsigned threads = 0;
  bool print_config = false;
};

int run_serve(const CommonOptions& common, const ServeOptions& opt) {
  int code = 0;
  auto cfg = load_effective_config(common, &code);
  if (!cfg) return code;
  Config c = std::move(*cfg);
  if (!opt.listen.empty()) c.listen = opt.listen;
  if (opt.threads) c.threads = opt.threads;
  if (auto v = validate(c); !v) {
    std::fprintf(stderr, "strop-node: %s\n", v.error().message.c_str());
    return EX_CONFIG;
  }
  if (opt.print_config) {
    std::cout << to_toml(c);
    return 0;
  }
  setup_logging(c);
  auto log = spdlog::get("node");

  // First run: create the data directory (private: it holds reporter secrets).
  std::error_code ec;
  if (!std::filesystem::exists(c.data_dir, ec)) {
    std::filesystem::create_directories(c.data_dir, ec);
    if (ec) {
      log->critical("cannot create data directory {}: {} (use --data DIR)", c.data_dir, ec.message());
      return EX_CANTCREAT;
    }
    std::filesystem::permissions(c.data_dir, std::filesystem::perms::owner_all, ec);
    log->info("created data directory {}", c.data_dir);
  }

  storage::StoreOptions so = c.store;
  so.dir = c.data_dir;
  so.serve = true;
  auto opened = storage::Store::open(so);
  if (!opened) {
    log->critical("cannot open the store in {}: {}", c.data_dir, opened.error().to_string());
    return opened.error().code == Errc::kIo ? EX_IOERR : EX_CONFIG;
  }
  std::unique_ptr<storage::Store> store = std::move(*opened);

  NodeMetrics metrics;
  boost::asio::thread_pool blocking(1);  // registrations wait for a commit: not on I/O threads
  auto api = std::make_unique<Api>(*store, api_options(c), metrics, Clocks{},
                                   [&blocking](std::function<void()> job) {
                                     boost::asio::post(blocking, std::move(job));
                                   });
  auto server = Server::create(c, *api, metrics);
  if (!server) {
    log->critical("{}", server.error().message);
    return server.error().code == Errc::kIo ? EX_UNAVAILABLE : EX_CONFIG;
  }
  auto st = store->stats();
  unsigned threads = c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
  log->info("strop-node {} ready: listening on {}:{} ({}, {} threads, data {}, {} signatures, {} reporters)",
            kNodeVersion, (*server)->local_host(), (*server)->local_port(), (*server)->tls() ? "https" : "http",
            threads, c.data_dir, st.signatures, st.reporters);

  (*server)->run();

  // Drain: registrations, then every queued write (their callbacks post into the stopped
  // io_context), then tear down in reverse order.
  blocking.join();
  if (auto f = store->flush(); !f) log->error("final flush failed: {}", f.error().to_string());
  server->reset();
  api.reset();
  store.reset();
  log->info("stopped");
  return 0;
}

}  // namespace

void setup_serve(CLI::App& app, std::shared_ptr<CommonOptions> common, int* exit_code) {
  auto opt = std::make_shared<ServeOptions>();
  auto* sub = app.add_subcommand("serve", "Run the node (native API over HTTP/HTTPS)");
  sub->add_option("--listen", opt->listen, "Listen address ADDR:PORT (overrides node.listen; port 0 = any)");
  sub->add_option("--threads", opt->threads, "I/O threads (overrides node.threads; 0 = one per core)");
  sub->add_flag("--print-config", opt->print_config, "Print the effective configuration as TOML and exit");
  sub->callback([common, opt, exit_code] { *exit_code = run_serve(*common, *opt); });
}

}  // namespace strop::node::cli
