// store_bench: storage benchmark (a program, not a test; never decides pass/fail).
//
//   store_bench [--signatures N] [--dir DIR] [--keep] [--checks K] [--reports R]
//
// Fills a store with N signatures from N/8 synthetic "messages" (body, fuzzy, 3 url,
// razor-e4, 2 razor-e8 each), reopens it (timing the in-memory index rebuild), then measures
// on one thread:
//   - server CPU per whole-message check (8 signatures: fuzzy + exact + URLs), for unknown
//     messages (the common case), for stored messages and for mutated variants;
//   - CPU per exact-only check (body + 3 url + razor-e4, no fuzzy);
//   - durable reports/s with group commit (R single-signature reports from 4 threads);
//   - check latency p50/p99 while that burst of reports commits.
// With --dir DIR --keep a filled store is reused by the next run with the same N.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/store.hpp"
#include "synthetic_store.hpp"

using namespace strop;
using namespace strop::storage;
using namespace strop::bench;

namespace {

// A spammer's variant: new body digest and URLs, fuzzy with 20 of 32 positions kept.
std::vector<sigs::Signature> variant(std::uint64_t m, std::uint64_t salt) {
  auto sigs = message(m);
  auto other = message(salt);
  auto h = *sigs::decode_fuzzy(sigs[1].value);
  auto o = *sigs::decode_fuzzy(other[1].value);
  for (int i = 20; i < sigs::kFuzzyHashes; ++i)
    h[static_cast<std::size_t>(i)] = o[static_cast<std::size_t>(i)];
  sigs[0] = other[0];
  sigs[1].value = sigs::encode_fuzzy(h);
  for (int i = 2; i < 5; ++i)
    sigs[static_cast<std::size_t>(i)] = other[static_cast<std::size_t>(i)];
  return sigs;
}

struct CheckFigures {
  double cpu_us = 0;
  double p50_us = 0, p99_us = 0;
  std::size_t matches = 0;
};

CheckFigures measure_checks(Store& store, const std::vector<std::vector<sigs::Signature>>& msgs,
                            int rounds) {
  std::vector<double> lat;
  lat.reserve(msgs.size() * static_cast<std::size_t>(rounds));
  CheckFigures f;
  double c0 = thread_cpu_seconds();
  for (int r = 0; r < rounds; ++r) {
    for (const auto& m : msgs) {
      double t0 = wall_seconds();
      auto res = store.check(m);
      lat.push_back(wall_seconds() - t0);
      if (res) f.matches += res->matches.size();
    }
  }
  double c1 = thread_cpu_seconds();
  f.cpu_us = (c1 - c0) * 1e6 / static_cast<double>(lat.size());
  std::sort(lat.begin(), lat.end());
  f.p50_us = lat[lat.size() / 2] * 1e6;
  f.p99_us = lat[lat.size() * 99 / 100] * 1e6;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 100000;
  std::string dir;
  bool keep = false;
  int checks = 20000;
  int reports = 50000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--signatures")
      n = std::stoull(next());
    else if (a == "--dir")
      dir = next();
    else if (a == "--keep")
      keep = true;
    else if (a == "--checks")
      checks = std::stoi(next());
    else if (a == "--reports")
      reports = std::stoi(next());
    else {
      std::fprintf(stderr,
                   "usage: %s [--signatures N] [--dir DIR] [--keep] [--checks K] [--reports R]\n",
                   argv[0]);
      return 64;
    }
  }
  bool temp = dir.empty();
  if (temp)
    dir = (std::filesystem::temp_directory_path() / ("store-bench-" + std::to_string(n))).string();
  const std::uint64_t messages = n / 8;

  StoreOptions o;
  o.dir = dir;
  o.initial_map_bytes = std::size_t{256} << 20;
  o.expire_after = std::chrono::seconds(0);

  ReporterId reporter = 0;
  {
    StoreOptions fill = o;
    fill.max_batch_ops = 32768;  // bigger transactions fill faster; measurements use defaults
    auto st = Store::open(fill);
    if (!st) {
      std::fprintf(stderr, "open: %s\n", st.error().to_string().c_str());
      return 1;
    }
    auto& s = **st;
    auto have = s.stats().signatures;
    auto r = s.find_reporter("bench");
    if (!r) r = s.add_reporter({"bench", "bench-secret", 1.0, true, false});
    reporter = r->id;
    if (have < messages * 8) {
      std::printf("filling %llu signatures (%llu messages)...\n",
                  static_cast<unsigned long long>(n), static_cast<unsigned long long>(messages));
      double t0 = wall_seconds();
      std::vector<std::future<Result<VoteOutcome>>> inflight;
      const std::uint64_t per_op = 512;  // messages per report call
      for (std::uint64_t m = have / 8; m < messages; m += per_op) {
        std::vector<sigs::Signature> batch;
        for (std::uint64_t k = m; k < std::min(messages, m + per_op); ++k) {
          auto sig = message(k);
          batch.insert(batch.end(), sig.begin(), sig.end());
        }
        inflight.push_back(s.report(reporter, std::move(batch)));
        if (inflight.size() >= 32) {
          for (auto& f : inflight) {
            if (!f.get()) {
              std::fprintf(stderr, "fill failed\n");
              return 1;
            }
          }
          inflight.clear();
        }
      }
      for (auto& f : inflight) (void)f.get();
      double secs = wall_seconds() - t0;
      auto st2 = s.stats();
      std::printf("filled in %.1f s (%.0f signatures/s), map %.0f MiB, used %.0f MiB\n", secs,
                  static_cast<double>(n) / secs, static_cast<double>(st2.map_bytes) / 1048576.0,
                  static_cast<double>(st2.used_bytes) / 1048576.0);
    }
  }

  // Reopen: times the index rebuild a restarting node pays.
  double t0 = wall_seconds();
  auto st = Store::open(o);
  if (!st) return 1;
  auto& s = **st;
  {
    auto st0 = s.stats();
    std::printf(
        "reopen + index rebuild: %.2f s, %llu signatures, %llu index entries, index %.0f MiB, "
        "LMDB used %.0f MiB\n",
        wall_seconds() - t0, static_cast<unsigned long long>(st0.signatures),
        static_cast<unsigned long long>(st0.index_entries),
        static_cast<double>(st0.index_bytes) / 1048576.0,
        static_cast<double>(st0.used_bytes) / 1048576.0);
  }

  std::mt19937_64 rng(99);
  const int sample = std::min<int>(checks, 5000);
  std::vector<std::vector<sigs::Signature>> unknown, stored, mutated, exact_only;
  for (int i = 0; i < sample; ++i) {
    unknown.push_back(message(messages + 1000000 + static_cast<std::uint64_t>(i)));
    std::uint64_t m = rng() % messages;
    stored.push_back(message(m));
    mutated.push_back(variant(m, messages + 5000000 + static_cast<std::uint64_t>(i)));
    auto e = message(messages + 2000000 + static_cast<std::uint64_t>(i));
    exact_only.push_back({e[0], e[2], e[3], e[4], e[5]});
  }
  const int rounds = std::max(1, checks / sample);
  // Warm up: one pass over every sample first, so the figures are those of a running node
  // (a fresh process pays a page fault on the first touch of each mapped LMDB page).
  for (const auto* set : {&unknown, &exact_only, &stored, &mutated}) measure_checks(s, *set, 1);
  auto fu = measure_checks(s, unknown, rounds);
  auto fe = measure_checks(s, exact_only, rounds);
  auto fs = measure_checks(s, stored, rounds);
  auto fm = measure_checks(s, mutated, rounds);
  std::printf("\n%-44s %10s %10s %10s\n", "check (one message, one thread)", "CPU us", "p50 us",
              "p99 us");
  auto row = [](const char* name, const CheckFigures& f) {
    std::printf("%-44s %10.2f %10.2f %10.2f\n", name, f.cpu_us, f.p50_us, f.p99_us);
  };
  row("unknown message (8 sigs, fuzzy+exact+urls)", fu);
  row("exact-only unknown (5 sigs)", fe);
  row("stored message (8 sigs, all match)", fs);
  row("mutated variant (fuzzy 20/32 + e4/e8 match)", fm);
  std::printf("matches: stored %zu, mutated %zu (expected %d and >= %d)\n", fs.matches, fm.matches,
              8 * sample * rounds, 4 * sample * rounds);

  // Durable reports with group commit, while a checker measures latency.
  // Fresh signatures every run (a kept store already holds earlier runs' bursts).
  const std::uint64_t burst_base = messages + 10000000 + (s.stats().signatures % 1000000) * 100000;
  std::atomic<bool> stop{false};
  std::vector<double> lat;
  std::thread checker([&] {
    std::size_t i = 0;
    while (!stop) {
      double a = wall_seconds();
      (void)s.check(unknown[i++ % unknown.size()]);
      lat.push_back(wall_seconds() - a);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::atomic<int> ok{0};
  std::atomic<std::uint64_t> next{0};
  const auto cpu0 = s.stats().writer_cpu;
  const auto commits0 = s.stats().commits;
  double r0 = wall_seconds();
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      std::vector<std::future<Result<VoteOutcome>>> fsx;
      for (;;) {
        std::uint64_t k = next++;
        if (k >= static_cast<std::uint64_t>(reports)) break;
        auto sig = message(burst_base + k)[0];
        fsx.push_back(s.report(reporter, {sig}));
        if (fsx.size() >= 2000) {
          for (auto& f : fsx) ok += f.get() ? 1 : 0;
          fsx.clear();
        }
      }
      for (auto& f : fsx) ok += f.get() ? 1 : 0;
    });
  }
  for (auto& w : writers) w.join();
  double rsecs = wall_seconds() - r0;
  stop = true;
  checker.join();
  auto stt = s.stats();
  std::sort(lat.begin(), lat.end());
  std::printf(
      "\ndurable reports (1 signature each, 4 threads): %d in %.2f s = %.0f reports/s; "
      "%llu commits total, last batch %llu ops: %lld us (of which mdb_txn_commit %lld us), "
      "max %lld us\n",
      ok.load(), rsecs, ok.load() / rsecs, static_cast<unsigned long long>(stt.commits),
      static_cast<unsigned long long>(stt.last_batch_ops),
      static_cast<long long>(stt.last_commit_latency.count()),
      static_cast<long long>(stt.last_sync_latency.count()),
      static_cast<long long>(stt.max_commit_latency.count()));
  {
    double cpu_us = static_cast<double>((stt.writer_cpu - cpu0).count());
    std::printf(
        "writer CPU: %.1f us per report (%.0f reports per writer CPU-second), %llu commits\n",
        cpu_us / ok.load(), ok.load() / (cpu_us * 1e-6),
        static_cast<unsigned long long>(stt.commits - commits0));
  }
  if (!lat.empty()) {
    std::printf(
        "check latency during the report burst: p50 %.1f us, p99 %.1f us, max %.1f us (%zu "
        "checks)\n",
        lat[lat.size() / 2] * 1e6, lat[lat.size() * 99 / 100] * 1e6, lat.back() * 1e6, lat.size());
  }
  st->reset();
  if (temp && !keep) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
