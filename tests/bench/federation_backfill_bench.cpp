// federation_backfill_bench: how long a new peer takes to back-fill a site's feed
// (docs/federation.md "Backfill", docs/performance.md "Federation backfill"). A program, not
// a test. Site A (a store with federation.site "a.bench") gets N signatures listed by one
// fully trusted reporter, in reports of 1,000; then site B (trust 1.0 in A) reads A's feed from
// cursor 0 in batches (Store::read_feed) and applies each with Store::apply_peer_batch, as the
// node's puller does minus HTTP; the strop-feed/1 encoding of each batch is timed apart. At the
// end every sampled signature must be listed at B (a miss is an error, exit 1).
//
// With --prepare DIR it only builds site A's store in DIR (kept) and exits, for a real node to
// serve: tests/bench/federation_backfill_http.py measures the backfill between two nodes.
//
//   federation_backfill_bench [--signatures N] [--batch B] [--dir DIR] [--prepare DIR]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <vector>

#include "storage/store.hpp"

using namespace strop;
using Clock = std::chrono::steady_clock;

namespace {

sigs::Signature body_sig(std::uint64_t n) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx",
                static_cast<unsigned long long>(n * 0x9e3779b97f4a7c15ULL),
                static_cast<unsigned long long>(n));
  return {sigs::Engine::kBody, buf};
}

double secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::unique_ptr<storage::Store> open(const std::string& dir, const std::string& site) {
  storage::StoreOptions o;
  o.dir = dir;
  o.federation_site = site;
  o.sweep_interval = std::chrono::hours(24 * 365);
  auto s = storage::Store::open(o);
  if (!s) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), s.error().to_string().c_str());
    std::exit(2);
  }
  return std::move(*s);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t n = 1'000'000;
  std::size_t batch = 5000;
  std::string dir = "/tmp/strop-backfill-bench";
  std::string prepare;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--signatures")
      n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--batch")
      batch = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--prepare")
      prepare = argv[i + 1];
  }
  if (!prepare.empty()) dir = prepare;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  auto a = open(prepare.empty() ? dir + "/a" : dir, "a.bench");
  auto b = prepare.empty() ? open(dir + "/b", "b.bench") : nullptr;
  auto mod = a->add_reporter({"moderator", "secret-m", 1.0});
  if (!mod) return 2;

  auto t0 = Clock::now();
  std::vector<std::future<Result<storage::VoteOutcome>>> inflight;
  for (std::uint64_t i = 0; i < n; i += 1000) {
    std::vector<sigs::Signature> sigs;
    for (std::uint64_t k = i; k < std::min(n, i + 1000); ++k) sigs.push_back(body_sig(k));
    inflight.push_back(a->report(mod->id, std::move(sigs)));
    if (inflight.size() >= 8) {
      if (!inflight.front().get()) return 2;
      inflight.erase(inflight.begin());
    }
  }
  for (auto& f : inflight) {
    if (!f.get()) return 2;
  }
  auto t1 = Clock::now();
  std::printf("site A: %llu signatures listed in %.1f s (%.0f/s), feed head %llu\n",
              static_cast<unsigned long long>(n), secs(t0, t1), n / secs(t0, t1),
              static_cast<unsigned long long>(a->read_feed(0, 0)->head));
  if (!prepare.empty()) return 0;  // A's store stays in `prepare`
  auto peer = b->add_peer({"a.bench", "http://127.0.0.1:1", "peering-secret-0123", 1.0});
  if (!peer) return 2;

  std::uint64_t cursor = 0, entries = 0;
  double read_s = 0, apply_s = 0;
  auto t2 = Clock::now();
  for (;;) {
    auto r0 = Clock::now();
    auto page = a->read_feed(cursor, batch);
    auto r1 = Clock::now();
    read_s += secs(r0, r1);
    if (!page) return 2;
    if (page->entries.empty()) break;
    storage::PeerBatch pb;
    pb.peer = peer->reporter.id;
    pb.after = cursor;
    pb.cursor = page->entries.back().seq;
    pb.entries = std::move(page->entries);
    pb.now = b->now();
    entries += pb.entries.size();
    cursor = pb.cursor;
    std::promise<Result<storage::PeerBatchOutcome>> done;
    auto f = done.get_future();
    b->apply_peer_batch(std::move(pb), [&done](Result<storage::PeerBatchOutcome> r) {
      done.set_value(std::move(r));
    });
    auto out = f.get();
    apply_s += secs(r1, Clock::now());
    if (!out) {
      std::fprintf(stderr, "apply: %s\n", out.error().to_string().c_str());
      return 2;
    }
  }
  auto t3 = Clock::now();
  std::printf(
      "site B: back-filled %llu entries in %.1f s (%.0f entries/s; feed reads %.1f s, "
      "applies %.1f s), batches of %zu\n",
      static_cast<unsigned long long>(entries), secs(t2, t3), entries / secs(t2, t3), read_s,
      apply_s, batch);
  std::uint64_t missing = 0;
  for (std::uint64_t i = 0; i < n; i += std::max<std::uint64_t>(1, n / 20000)) {
    std::vector<sigs::Signature> q{body_sig(i)};
    auto r = b->check(q);
    if (!r || !r->spam) ++missing;
  }
  auto st = b->stats();
  std::printf("site B: %llu signatures, %llu of the sample not listed, LMDB %.0f MiB\n",
              static_cast<unsigned long long>(st.signatures),
              static_cast<unsigned long long>(missing), st.used_bytes / 1048576.0);
  std::filesystem::remove_all(dir);
  return missing == 0 ? 0 : 1;
}
