// store_growth_bench: the store growing under batched reports while a checker reads (a
// program, not a test; never decides pass/fail).
//
//   store_growth_bench [--signatures N] [--batch B] [--inflight K] [--dir DIR] [--keep]
//                      [--report-every M]
//                      [--no-rebuild] [--checker-fifo]
//   store_growth_bench --reopen --signatures N --dir DIR [--no-snapshot]
//                      (run by the first form on itself at the end)
//
// Grows a fresh store to N signatures by reports of B signatures each (B/8 synthetic
// messages of store_bench's mix: body, fuzzy, 3 url, razor-e4, 2 razor-e8), with up to K
// reports in flight, while one checker thread alternately checks an acknowledged message
// (all 8 signatures must match: a miss is counted as an error) and an unknown one, sleeping
// 200 us between checks. Every M signatures (and at the end) it prints, for the window since
// the previous line: report latency (submit -> callback after the durable commit and the
// index update; it includes waiting behind the reports in flight) p50 / p99.9 / max, batch
// time (transaction begin -> commit -> index update, StoreOptions::on_commit) p99.9 / max,
// check latency p50 / p99.9 / max, the slowest check's own CPU time and the number of checks
// over 5 ms (a check that took long on CPU worked or spun; one that did not waited: for a
// page or the CPU; index lookups take no lock), the longest time the index writer waited for
// lookups to leave memory it replaced (Store stats' max_index_writer_wait), the longest index
// update step so far (a batch's index
// update is one or more steps of at most MemoryIndex::kMaxUpdatesPerApply table updates;
// growth included; wall time / the writer's CPU time), anonymous RSS and peak RSS, index bytes per
// signature and LMDB size. Then it closes the store (timing the index snapshot's write) and runs
// itself with --reopen, twice unless --no-rebuild: fresh processes that time the open to the
// first answered check (first with the index loaded from its snapshot, then with it rebuilt from
// LMDB), print RSS (anonymous and file-backed) and index size, check a sample of stored
// messages (all must match) and give the CPU per check of stored and unknown messages.
// --checker-fifo runs the checker thread SCHED_FIFO (root): it then waits for no other
// thread's time slice, so what remains of its latency is the store's own (locks, pages).
#include <pthread.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench_stats.hpp"
#include "storage/store.hpp"
#include "synthetic_store.hpp"

using namespace strop;
using namespace strop::storage;
using namespace strop::bench;

namespace {

std::pair<double, double> rss_mib() {
  Rss r = rss_of();
  return {r.anon, r.hwm};
}

// The slowest check of a window: wall and its thread's CPU time, microseconds, and how many
// took longer than 5 ms.
struct SlowestCheck {
  double wall = 0, cpu = 0;
  int over_5ms = 0;
};
class Slowest {
 public:
  void add(double wall_us, double cpu_us) {
    std::lock_guard lk(mu_);
    if (wall_us > 5000) ++s_.over_5ms;
    if (wall_us > s_.wall) s_ = {wall_us, cpu_us, s_.over_5ms};
  }
  SlowestCheck take() {
    std::lock_guard lk(mu_);
    return std::exchange(s_, {});
  }

 private:
  std::mutex mu_;
  SlowestCheck s_;
};

Window* g_batches = nullptr;  // commit + index update of each batch (on_commit)

StoreOptions options(const std::string& dir, bool snapshot = true) {
  StoreOptions o;
  o.dir = dir;
  o.expire_after = std::chrono::seconds(0);
  o.index_snapshot = snapshot;
  o.on_commit = [](std::chrono::nanoseconds d) {
    if (g_batches != nullptr) g_batches->add(static_cast<double>(d.count()) / 1e3);
  };
  return o;
}

// CPU per check (this thread), microseconds, over `count` messages from `first` on.
double check_cpu_us(Store& s, std::uint64_t first, std::uint64_t count, std::uint64_t* bad,
                    bool stored) {
  double c0 = thread_cpu_seconds();
  for (std::uint64_t i = 0; i < count; ++i) {
    auto m = message(first + i);
    auto r = s.check(m);
    if (!r || r->matches.size() != (stored ? m.size() : 0)) ++*bad;
  }
  return (thread_cpu_seconds() - c0) * 1e6 / static_cast<double>(count);
}

// A fresh process opening the store: with the index snapshot (loaded when the close saved
// it), or without (the index rebuilt from LMDB).
int reopen(const std::string& dir, std::uint64_t messages, bool snapshot) {
  double t0 = wall_seconds();
  auto st = Store::open(options(dir, snapshot));
  if (!st) {
    std::fprintf(stderr, "reopen: %s\n", st.error().to_string().c_str());
    return 1;
  }
  auto& s = **st;
  std::uint64_t missing = 0;
  {  // time to serving: open, then one answered check
    auto m = message(0);
    auto r = s.check(m);
    if (!r || r->matches.size() != m.size()) ++missing;
  }
  double secs = wall_seconds() - t0;
  auto stats = s.stats();
  Rss at_open = rss_of();
  const std::uint64_t sample = std::min<std::uint64_t>(messages, 20000);
  std::mt19937_64 rng(7);
  double c0 = thread_cpu_seconds(), w0 = wall_seconds();
  for (std::uint64_t i = 0; i < sample; ++i) {
    auto m = message(rng() % messages);
    auto r = s.check(m);
    if (!r || r->matches.size() != m.size()) ++missing;
  }
  double sample_cpu = (thread_cpu_seconds() - c0) * 1e6 / static_cast<double>(sample);
  double sample_wall = (wall_seconds() - w0) * 1e6 / static_cast<double>(sample);
  // Steady state: the same checks again (pages now resident), and unknown messages.
  std::uint64_t bad = 0;
  double stored_cpu = check_cpu_us(s, 0, sample, &bad, true);
  double unknown_cpu = check_cpu_us(s, messages + 1000000, sample, &bad, false);
  Rss after = rss_of();
  std::printf(
      "reopen (fresh process, %s): open + first check %.2f s, %llu signatures, index %.0f MiB "
      "= %.1f bytes/signature; RSS at open anonymous %.0f / file %.0f MiB, after %llu sampled "
      "checks %.0f / %.0f MiB (peak %.0f); first sample %.1f us CPU (%.1f wall) per check, then "
      "stored %.2f us, unknown %.2f us CPU per check; %llu of %llu sampled messages "
      "incomplete, %llu wrong\n",
      stats.index_from_snapshot ? "index loaded from its snapshot" : "index rebuilt from LMDB",
      secs, static_cast<unsigned long long>(stats.signatures),
      static_cast<double>(stats.index_bytes) / 1048576.0,
      static_cast<double>(stats.index_bytes) /
          static_cast<double>(std::max<std::uint64_t>(1, stats.signatures)),
      at_open.anon, at_open.file, static_cast<unsigned long long>(sample), after.anon, after.file,
      after.hwm, sample_cpu, sample_wall, stored_cpu, unknown_cpu,
      static_cast<unsigned long long>(missing), static_cast<unsigned long long>(sample),
      static_cast<unsigned long long>(bad));
  std::fflush(stdout);
  double c1 = wall_seconds();
  st->reset();  // close: saves the snapshot again only when the checks committed hit times
  std::printf("reopen: close %.2f s\n", wall_seconds() - c1);
  return missing == 0 && bad == 0 ? 0 : 1;
}

// Runs this program with --reopen in a fresh process (its RSS is a restarted node's).
int run_reopen(const char* self, std::uint64_t n, const std::string& dir, bool snapshot) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    std::string sigs_arg = std::to_string(n);
    execl("/proc/self/exe", self, "--reopen", "--signatures", sigs_arg.c_str(), "--dir",
          dir.c_str(), snapshot ? "--snapshot" : "--no-snapshot", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 1000000;
  std::uint64_t batch = 1000;
  std::uint64_t every = 0;
  int inflight = 4;
  std::string dir;
  bool keep = false;
  bool reopen_only = false;
  bool snapshot = true;  // --reopen: with the index snapshot
  bool rebuild = true;   // after the reopen from the snapshot, one that rebuilds the index
  bool checker_fifo = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : "0"; };
    if (a == "--signatures")
      n = std::stoull(next());
    else if (a == "--batch")
      batch = std::max<std::uint64_t>(8, std::stoull(next()));
    else if (a == "--inflight")
      inflight = std::max(1, std::stoi(next()));
    else if (a == "--report-every")
      every = std::stoull(next());
    else if (a == "--dir")
      dir = next();
    else if (a == "--keep")
      keep = true;
    else if (a == "--reopen")
      reopen_only = true;
    else if (a == "--snapshot" || a == "--no-snapshot")
      snapshot = a == "--snapshot";
    else if (a == "--no-rebuild")
      rebuild = false;
    else if (a == "--checker-fifo")
      checker_fifo = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--signatures N] [--batch B] [--inflight K] [--report-every M] "
                   "[--dir DIR] [--keep] [--no-rebuild] [--checker-fifo] | --reopen --signatures N "
                   "--dir DIR [--no-snapshot]\n",
                   argv[0]);
      return 64;
    }
  }
  const std::uint64_t messages = n / 8;
  const std::uint64_t per_report = batch / 8;
  if (every == 0) every = std::max<std::uint64_t>(n / 10, 8);
  if (reopen_only) return reopen(dir, messages, snapshot);

  bool temp = dir.empty();
  if (temp) {
    dir = (std::filesystem::temp_directory_path() / ("store-growth-" + std::to_string(n))).string();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);  // always grows a fresh store

  int rc = 0;
  Window batches;
  g_batches = &batches;
  {
    auto st = Store::open(options(dir));
    if (!st) {
      std::fprintf(stderr, "open: %s\n", st.error().to_string().c_str());
      return 1;
    }
    auto& s = **st;
    auto rep = s.add_reporter({"bench", "bench-secret", 1.0, true, false});
    if (!rep) return 1;
    const ReporterId reporter = rep->id;

    Window reports, checks;
    Slowest slowest;
    std::atomic<std::uint64_t> acked{0};  // messages [0, acked) are acknowledged
    std::atomic<std::uint64_t> check_misses{0}, report_errors{0};
    std::atomic<bool> stop{false};
    std::thread checker([&] {
      if (checker_fifo) {
        sched_param sp{};
        sp.sched_priority = 1;
        if (int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp); e != 0) {
          std::fprintf(stderr, "--checker-fifo: %s\n", std::strerror(e));
          std::exit(1);
        }
      }
      std::mt19937_64 rng(3);
      std::uint64_t unknown = messages + 1000000;
      bool stored = true;
      while (!stop) {
        std::uint64_t have = acked.load();
        if (have > 0) {
          auto m = stored ? message(rng() % have) : message(unknown++);
          double t0 = wall_seconds(), c0 = thread_cpu_seconds();
          auto r = s.check(m);
          double us = (wall_seconds() - t0) * 1e6;
          checks.add(us);
          slowest.add(us, (thread_cpu_seconds() - c0) * 1e6);
          if (stored && (!r || r->matches.size() != m.size())) ++check_misses;
          stored = !stored;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    });

    std::mutex mu;
    std::condition_variable cv;
    int outstanding = 0;
    // Completed reports, by sequence number, so `acked` advances only over a prefix.
    std::vector<char> done((messages + per_report - 1) / per_report + 1, 0);
    std::uint64_t done_prefix = 0;
    std::uint64_t next_window = every;
    double t_start = wall_seconds(), t_window = t_start;
    std::uint64_t window_start = 0;
    std::printf(
        "%11s %7s %9s | %-26s | %-17s | %-26s | %-16s | %13s | %9s | %13s | %8s | %9s %9s\n",
        "signatures", "s", "sigs/s", "report ms p50/p99.9/max", "batch ms p99.9/max",
        "check ms p50/p99.9/max", "slowest CPU >5ms", "grace ms", "index ms/CPU", "anon/peak MiB",
        "index B/s", "LMDB MiB", "file MiB");
    auto print_window = [&](std::uint64_t sigs_now) {
      auto r = reports.take();
      auto c = checks.take();
      auto slow = slowest.take();
      auto b = batches.take();
      auto stats = s.stats();
      auto [rss, hwm] = rss_mib();
      double t = wall_seconds();
      std::printf(
          "%11llu %7.1f %9.0f | %7.2f %8.2f %9.2f | %7.2f %9.2f | %7.3f %8.3f %9.3f | %9.3f %6d "
          "| %13.2f | %5.1f/%4.1f | %6.0f/%6.0f | %8.1f | %9.0f %9.0f\n",
          static_cast<unsigned long long>(sigs_now), t - t_start,
          static_cast<double>(sigs_now - window_start) / (t - t_window), pct(r, 0.5) / 1e3,
          pct(r, 0.999) / 1e3, r.empty() ? 0 : r.back() / 1e3, pct(b, 0.999) / 1e3,
          b.empty() ? 0 : b.back() / 1e3, pct(c, 0.5) / 1e3, pct(c, 0.999) / 1e3,
          c.empty() ? 0 : c.back() / 1e3, slow.cpu / 1e3, slow.over_5ms,
          static_cast<double>(stats.max_index_writer_wait.count()) / 1e3,
          static_cast<double>(stats.max_index_latency.count()) / 1e3,
          static_cast<double>(stats.max_index_cpu.count()) / 1e3, rss, hwm,
          static_cast<double>(stats.index_bytes) /
              static_cast<double>(std::max<std::uint64_t>(1, stats.signatures)),
          static_cast<double>(stats.used_bytes) / 1048576.0, file_mib(dir + "/data.mdb"));
      std::fflush(stdout);
      t_window = t;
      window_start = sigs_now;
    };
    std::uint64_t seq = 0;
    for (std::uint64_t m = 0; m < messages; m += per_report, ++seq) {
      std::uint64_t end = std::min(messages, m + per_report);
      std::vector<sigs::Signature> sigs;
      sigs.reserve((end - m) * 8);
      for (std::uint64_t k = m; k < end; ++k) {
        auto one = message(k);
        sigs.insert(sigs.end(), one.begin(), one.end());
      }
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return outstanding < inflight; });
        ++outstanding;
      }
      double t0 = wall_seconds();
      s.report(reporter, std::move(sigs),
               std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now()),
               [&, t0, seq](Result<VoteOutcome> r) {
                 reports.add((wall_seconds() - t0) * 1e6);
                 if (!r) ++report_errors;
                 std::lock_guard lk(mu);
                 done[seq] = 1;
                 while (done[done_prefix] != 0) ++done_prefix;
                 acked.store(std::min(messages, done_prefix * per_report));
                 --outstanding;
                 cv.notify_all();
               });
      if (end * 8 >= next_window) {
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return outstanding == 0; });
        }
        print_window(end * 8);
        next_window += every;
      }
    }
    {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return outstanding == 0; });
    }
    stop = true;
    checker.join();
    auto stats = s.stats();
    std::printf(
        "grown to %llu signatures in %.1f s; longest batch (commit + index) %.1f ms, longest "
        "index update %.1f ms (writer CPU %.1f ms); longest writer wait for lookups %.3f ms; "
        "check misses %llu, report errors %llu\n",
        static_cast<unsigned long long>(stats.signatures), wall_seconds() - t_start,
        static_cast<double>(stats.max_commit_latency.count()) / 1e3,
        static_cast<double>(stats.max_index_latency.count()) / 1e3,
        static_cast<double>(stats.max_index_cpu.count()) / 1e3,
        static_cast<double>(stats.max_index_writer_wait.count()) / 1e3,
        static_cast<unsigned long long>(check_misses.load()),
        static_cast<unsigned long long>(report_errors.load()));
    if (check_misses != 0 || report_errors != 0) rc = 1;
    std::fflush(stdout);
    double c0 = wall_seconds();
    st->reset();  // close: writes the index snapshot (fsync included)
    std::printf("close (index snapshot saved) %.2f s; index.snap %.0f MiB, data.mdb %.0f MiB\n",
                wall_seconds() - c0, file_mib(dir + "/index.snap"), file_mib(dir + "/data.mdb"));
  }
  g_batches = nullptr;
  rc |= run_reopen(argv[0], n, dir, true);
  if (rebuild) rc |= run_reopen(argv[0], n, dir, false);
  if (temp && !keep) std::filesystem::remove_all(dir, ec);
  return rc;
}
