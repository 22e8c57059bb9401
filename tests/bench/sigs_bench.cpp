// sigs_bench: signature computation speed over the shared corpus (Google Benchmark).
//
// The whole corpus (spam, ham, hard-ham; $STROP_CORPUS or STROP_SHARED_DIR/corpus) is loaded
// into memory once. Benchmarks:
//   BM_CorpusNative   sigs::compute (native engines) of every message: messages/s, MB/s
//   BM_CorpusAll      the same with the legacy engines too (EngineMask::all())
//   BM_Typical*       one median-size spam message, native and all engines
//   BM_ParseCorpus    sigs::parse_message alone over the corpus
//   BM_CompareTypical sigs::compare of the typical message with itself
// Release build: scripts/build.sh release && build/release/tests/bench/sigs_bench
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "sigs/compute.hpp"
#include "sigs/message.hpp"

namespace {

namespace sigs = strop::sigs;

struct Corpus {
  std::vector<std::string> messages;
  std::size_t bytes = 0;
  std::string typical;  // the median-size spam message
  std::string typical_name;

  Corpus() {
    std::string root = strop::quality::corpus_root(STROP_SHARED_DIR);
    for (const char* sub : {"spam", "ham", "hard-ham"}) {
      for (auto& f : strop::quality::load_dir(root + "/" + sub)) {
        bytes += f.raw.size();
        messages.push_back(std::move(f.raw));
      }
    }
    auto spam = strop::quality::load_dir(root + "/spam");
    std::sort(spam.begin(), spam.end(),
              [](const auto& a, const auto& b) { return a.raw.size() < b.raw.size(); });
    if (!spam.empty()) {
      typical = spam[spam.size() / 2].raw;
      typical_name = spam[spam.size() / 2].name;
    }
  }
};

const Corpus& corpus() {
  static const Corpus* c = new Corpus();
  return *c;
}

void corpus_run(benchmark::State& state, const sigs::Options& options) {
  const Corpus& c = corpus();
  if (c.messages.empty()) {
    state.SkipWithError("no corpus");
    return;
  }
  std::size_t errors = 0;
  for (auto _ : state) {
    for (const auto& m : c.messages) {
      auto r = sigs::compute(m, options);
      if (!r.ok()) ++errors;
      benchmark::DoNotOptimize(r);
    }
  }
  auto n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(n * static_cast<double>(c.messages.size())));
  state.SetBytesProcessed(static_cast<std::int64_t>(n * static_cast<double>(c.bytes)));
  state.counters["messages"] = static_cast<double>(c.messages.size());
  state.counters["errors"] = static_cast<double>(errors) / n;
}

void BM_CorpusNative(benchmark::State& state) { corpus_run(state, sigs::Options{}); }
BENCHMARK(BM_CorpusNative)->Unit(benchmark::kMillisecond)->MinTime(3.0);

void BM_CorpusAll(benchmark::State& state) {
  sigs::Options o;
  o.engines = sigs::EngineMask::all();
  corpus_run(state, o);
}
BENCHMARK(BM_CorpusAll)->Unit(benchmark::kMillisecond)->MinTime(3.0);

void BM_ParseCorpus(benchmark::State& state) {
  const Corpus& c = corpus();
  for (auto _ : state) {
    for (const auto& m : c.messages) {
      auto r = sigs::parse_message(m);
      benchmark::DoNotOptimize(r);
    }
  }
  auto n = static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<std::int64_t>(n * static_cast<double>(c.messages.size())));
  state.SetBytesProcessed(static_cast<std::int64_t>(n * static_cast<double>(c.bytes)));
}
BENCHMARK(BM_ParseCorpus)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void typical_run(benchmark::State& state, const sigs::Options& options) {
  const Corpus& c = corpus();
  state.SetLabel(c.typical_name + " (" + std::to_string(c.typical.size()) + " bytes)");
  for (auto _ : state) {
    auto r = sigs::compute(c.typical, options);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(c.typical.size()));
}
void BM_TypicalNative(benchmark::State& state) { typical_run(state, sigs::Options{}); }
BENCHMARK(BM_TypicalNative)->Unit(benchmark::kMicrosecond);
void BM_TypicalAll(benchmark::State& state) {
  sigs::Options o;
  o.engines = sigs::EngineMask::all();
  typical_run(state, o);
}
BENCHMARK(BM_TypicalAll)->Unit(benchmark::kMicrosecond);

void BM_CompareTypical(benchmark::State& state) {
  auto r = sigs::compute(corpus().typical);
  if (!r.ok()) {
    state.SkipWithError("typical message not computable");
    return;
  }
  for (auto _ : state) {
    auto cmp = sigs::compare(*r, *r);
    benchmark::DoNotOptimize(cmp);
  }
}
BENCHMARK(BM_CompareTypical)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
