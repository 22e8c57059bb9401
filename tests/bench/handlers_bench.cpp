// handlers_bench: CPU cost of the request handler alone (Api::handle, no sockets) for checks,
// against a real Store preloaded with N signatures: decode + store lookups + encode +
// metrics. Subtract it from the end-to-end server CPU per request (tests/bench/run_bench.sh)
// to see what HTTP and the kernel cost. A benchmark, not a test.
//   node_handler_bench [--benchmark_filter=...]   (STROP_BENCH_PRELOAD=N, default 100000)
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "node/handlers.hpp"
#include "protocol/codec.hpp"
#include "storage/store.hpp"

namespace {

using namespace strop;

std::string hex(std::mt19937_64& rng, int n) {
  static const char* d = "0123456789abcdef";
  std::string s(static_cast<std::size_t>(n), '0');
  for (auto& c : s) c = d[rng() & 15];
  return s;
}

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<storage::Store> store;
  node::NodeMetrics metrics;
  std::unique_ptr<node::SignatureService> service;
  std::unique_ptr<node::Api> api;

  Fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("strop-handler-bench-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    storage::StoreOptions o;
    o.dir = dir.string();
    store = storage::Store::open(o).value();
    auto rep = store->add_reporter({"bench", "secret", 1.0, true, false});
    long n =
        std::getenv("STROP_BENCH_PRELOAD") ? std::atol(std::getenv("STROP_BENCH_PRELOAD")) : 100000;
    std::mt19937_64 rng(1);
    for (long done = 0; done < n; done += 1000) {
      std::vector<sigs::Signature> batch;
      for (int i = 0; i < 1000; ++i) batch.push_back({sigs::Engine::kBody, hex(rng, 32)});
      (void)store->report(rep->id, std::move(batch)).get();
    }
    node::Config config;
    config.ip_limit = {0, 0};
    service = std::make_unique<node::SignatureService>(config, *store, metrics);
    api = std::make_unique<node::Api>(*service);
  }
  ~Fixture() {
    api.reset();
    service.reset();
    store.reset();
    std::filesystem::remove_all(dir);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

std::string check_body(std::mt19937_64& rng, bool exact, int messages) {
  std::string b = "{\"v\":1,\"messages\":[";
  for (int m = 0; m < messages; ++m) {
    if (m) b += ',';
    b += "{\"sigs\":[\"body/1:" + hex(rng, 32) + "\"";
    if (!exact) {
      b += ",\"fuzzy/1:" + hex(rng, 256) + "\"";
      for (int i = 0; i < 3; ++i) b += ",\"url/1:" + hex(rng, 32) + "\"";
    }
    b += "]}";
  }
  return b + "]}";
}

void run_check(benchmark::State& state, bool exact, int messages) {
  auto& f = fixture();
  std::mt19937_64 rng(42);
  std::vector<std::string> bodies;
  for (int i = 0; i < 256; ++i) bodies.push_back(check_body(rng, exact, messages));
  std::size_t i = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string& body = bodies[i++ & 255];
    node::HttpRequest req{"POST", "/v1/check", body, {}, "127.0.0.1", {}};
    f.api->handle(req, [&bytes](node::HttpResponse r) { bytes += r.body.size(); });
  }
  benchmark::DoNotOptimize(bytes);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * messages);
}

void BM_HandleCheckFullMessage(benchmark::State& s) { run_check(s, false, 1); }
void BM_HandleCheckExactOnly(benchmark::State& s) { run_check(s, true, 1); }
void BM_HandleCheckBatch50(benchmark::State& s) { run_check(s, false, 50); }

void BM_DecodeCheckFullMessage(benchmark::State& state) {
  std::mt19937_64 rng(7);
  std::string body = check_body(rng, false, 1);
  for (auto _ : state) benchmark::DoNotOptimize(protocol::decode_check_request(body));
}

BENCHMARK(BM_HandleCheckFullMessage);
BENCHMARK(BM_HandleCheckExactOnly);
BENCHMARK(BM_HandleCheckBatch50);
BENCHMARK(BM_DecodeCheckFullMessage);

}  // namespace

BENCHMARK_MAIN();
