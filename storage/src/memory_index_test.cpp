#include "memory_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace strop::storage {
namespace {

TEST(IdMultiMap, InsertFindEraseAgainstReferenceModel) {
  IdMultiMap<std::uint64_t> m(12345);
  std::map<std::uint64_t, std::set<std::uint32_t>> ref;
  std::mt19937_64 rng(7);
  for (int step = 0; step < 200000; ++step) {
    std::uint64_t key = rng() % 5000;  // dense keys -> long probe runs and multi-id keys
    std::uint32_t id = static_cast<std::uint32_t>(rng() % 7) + 1;
    if (rng() % 3 == 0) {
      bool had = ref[key].erase(id) > 0;
      EXPECT_EQ(m.erase(key, id), had);
      if (ref[key].empty()) ref.erase(key);
    } else {
      m.insert(key, id);
      ref[key].insert(id);
    }
  }
  std::size_t entries = 0;
  for (std::uint64_t key = 0; key < 5000; ++key) {
    std::set<std::uint32_t> got;
    m.for_each(key, [&](std::uint32_t id) { got.insert(id); });
    auto it = ref.find(key);
    EXPECT_EQ(got, it == ref.end() ? std::set<std::uint32_t>{} : it->second) << key;
    entries += got.size();
  }
  EXPECT_EQ(m.entries(), entries);
  EXPECT_EQ(m.keys(), ref.size());
}

TEST(IdMultiMap, InsertIsIdempotent) {
  IdMultiMap<std::uint64_t> m(12345);
  m.insert(1, 5);
  m.insert(1, 5);
  m.insert(1, 6);
  m.insert(1, 6);
  EXPECT_EQ(m.entries(), 2u);
  EXPECT_FALSE(m.erase(1, 7));
  EXPECT_TRUE(m.erase(1, 5));
  EXPECT_TRUE(m.erase(1, 6));
  EXPECT_EQ(m.keys(), 0u);
}

void add_fuzzy(MemoryIndex& idx, const sigs::FuzzyHashes& h, std::uint32_t id, bool add = true) {
  MemoryIndex::Change c;
  c.add = add;
  c.fuzzy = true;
  c.hashes = h;
  c.id = id;
  idx.apply(std::span<const MemoryIndex::Change>(&c, 1));
}
void add_exact(MemoryIndex& idx, std::uint64_t key, std::uint32_t id, bool add = true) {
  MemoryIndex::Change c;
  c.add = add;
  c.exact = key;
  c.id = id;
  idx.apply(std::span<const MemoryIndex::Change>(&c, 1));
}

// A writer that loses its CPU in the middle of a step holds no lookup up: the hook stops
// the writer between two table updates until a reader has done 1,000 lookups. With a lock
// around the writer's updates (as before) the reader would wait for the writer and the
// writer for the reader, until the hook gives up.
TEST(MemoryIndex, LookupsDoNotWaitForAWriterStoppedInsideAStep) {
  MemoryIndex idx(2, 1, /*seed=*/7);
  auto key = [](std::uint32_t id) { return id * 0x9e3779b97f4a7c15ULL + 1; };
  std::vector<MemoryIndex::Change> batch;
  for (std::uint32_t id = 1; id <= 1000; ++id) {
    MemoryIndex::Change c;
    c.exact = key(id);
    c.id = id;
    batch.push_back(c);
  }
  idx.apply(batch);
  struct Rendezvous {
    std::mutex mu;
    std::condition_variable cv;
    bool in_step = false, reader_done = false, gave_up = false;
    int calls = 0;
  } rv;
  idx.set_update_hook_for_test(
      [](void* arg) {
        auto* r = static_cast<Rendezvous*>(arg);
        std::unique_lock lk(r->mu);
        if (r->calls++ != 5) return;  // stop once, in the middle of the step
        r->in_step = true;
        r->cv.notify_all();
        if (!r->cv.wait_for(lk, std::chrono::seconds(20), [&] { return r->reader_done; })) {
          r->gave_up = true;
        }
      },
      &rv);
  std::atomic<int> wrong{0};
  std::thread reader([&] {
    {
      std::unique_lock lk(rv.mu);
      rv.cv.wait(lk, [&] { return rv.in_step; });
    }
    std::vector<std::uint32_t> ids;
    for (std::uint32_t i = 0; i < 1000; ++i) {
      const std::uint32_t id = i % 1000 + 1;
      ids.clear();
      idx.find_exact(key(id), &ids);
      if (ids != std::vector<std::uint32_t>{id}) ++wrong;
    }
    std::lock_guard lk(rv.mu);
    rv.reader_done = true;
    rv.cv.notify_all();
  });
  batch.clear();
  for (std::uint32_t id = 1001; id <= 3000; ++id) {  // grows the 4 exact shards meanwhile
    MemoryIndex::Change c;
    c.exact = key(id);
    c.id = id;
    batch.push_back(c);
  }
  idx.apply(batch);
  reader.join();
  EXPECT_FALSE(rv.gave_up) << "a lookup waited for the stopped writer";
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(idx.entries(), 3000u);
}

// Readers look up keys whose ids never change while the writer adds and removes other ids
// under the same keys (side lists made, replaced and dropped), erases and re-adds other keys
// (tombstones) and grows the shards (tiny tables, many copies): every lookup finds every
// stable id, and never an id that was not under that key at some point.
TEST(MemoryIndex, ReadersSeeStableIdsThroughListChangesTombstonesAndGrowth) {
  MemoryIndex idx(1, 1, /*seed=*/9);
  constexpr std::uint32_t kStable = 64;
  auto key = [](std::uint32_t k) { return k * 0x9e3779b97f4a7c15ULL + 3; };
  // Key k (< kStable) holds id k + 1 always; extra ids under it are k + 1 + 1000 * j.
  auto change = [&](std::uint32_t k, std::uint32_t id, bool add) {
    MemoryIndex::Change c;
    c.add = add;
    c.exact = key(k);
    c.id = id;
    c.fuzzy = k % 4 == 0;
    if (c.fuzzy) c.hashes = testing::random_fuzzy(k);  // postings shared by all its ids
    return c;
  };
  std::vector<MemoryIndex::Change> batch;
  for (std::uint32_t k = 0; k < kStable; ++k) batch.push_back(change(k, k + 1, true));
  idx.apply(batch);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> lookups{0};
  std::atomic<int> missing{0}, foreign{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r] {
      std::mt19937 rng(static_cast<unsigned>(r));
      std::vector<std::uint32_t> ids;
      MemoryIndex::Counts counts;
      while (!stop.load(std::memory_order_relaxed)) {
        const auto k = static_cast<std::uint32_t>(rng() % kStable);
        ids.clear();
        idx.find_exact(key(k), &ids);
        if (std::find(ids.begin(), ids.end(), k + 1) == ids.end()) ++missing;
        for (std::uint32_t id : ids) {
          if (id % 1000 != (k + 1) % 1000) ++foreign;
        }
        if (k % 4 == 0) {
          idx.fuzzy_candidates(testing::random_fuzzy(k), &counts);
          bool whole = false;
          for (auto [id, equal] : counts) {
            if (id % 1000 != (k + 1) % 1000) ++foreign;
            whole = whole || (id == k + 1 && equal == 32);
          }
          if (!whole) ++missing;
        }
        ++lookups;
      }
    });
  }
  std::mt19937 rng(11);
  std::set<std::pair<std::uint32_t, std::uint32_t>> extra;  // (key, id) added and not removed
  for (int round = 0; round < 400; ++round) {
    batch.clear();
    for (int i = 0; i < 50; ++i) {
      const auto k = static_cast<std::uint32_t>(rng() % kStable);
      const std::uint32_t id = k + 1 + 1000 * static_cast<std::uint32_t>(rng() % 5 + 1);
      const bool add = extra.count({k, id}) == 0;
      add ? (void)extra.insert({k, id}) : (void)extra.erase({k, id});
      batch.push_back(change(k, id, add));
    }
    // Keys outside the stable ones come and go: tombstones, and growth as they accumulate.
    for (int i = 0; i < 20; ++i) {
      const auto k = kStable + static_cast<std::uint32_t>(rng() % 2000);
      batch.push_back(change(k, k + 1, true));
      if (rng() % 2 == 0) batch.push_back(change(k, k + 1, false));
    }
    idx.apply(batch);
  }
  // Let the readers run some lookups at least once the writer is done, too.
  const std::uint64_t seen = lookups.load();
  while (lookups.load() < seen + 1000) std::this_thread::yield();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(missing.load(), 0);
  EXPECT_EQ(foreign.load(), 0);
  std::vector<std::uint32_t> ids;
  for (std::uint32_t k = 0; k < kStable; ++k) {
    std::set<std::uint32_t> want{k + 1};
    for (auto [ek, id] : extra) {
      if (ek == k) want.insert(id);
    }
    ids.clear();
    idx.find_exact(key(k), &ids);
    EXPECT_EQ(std::set<std::uint32_t>(ids.begin(), ids.end()), want) << k;
  }
}

TEST(MemoryIndex, FuzzyCandidatesCountEqualPositions) {
  MemoryIndex idx;
  auto a = testing::random_fuzzy(1);
  auto b = testing::mutate(a, 20);  // shares the first 20 positions with a
  auto c = testing::random_fuzzy(2);
  add_fuzzy(idx, a, 1);
  add_fuzzy(idx, c, 3);
  MemoryIndex::Counts counts;
  idx.fuzzy_candidates(b, &counts);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].first, 1u);
  EXPECT_EQ(counts[0].second, 20);
  idx.fuzzy_candidates(a, &counts);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0].second, 32);
  add_fuzzy(idx, a, 1, false);
  idx.fuzzy_candidates(a, &counts);
  EXPECT_TRUE(counts.empty());
}

TEST(MemoryIndex, ExactLookup) {
  MemoryIndex idx;
  add_exact(idx, 42, 7);
  std::vector<std::uint32_t> ids;
  idx.find_exact(42, &ids);
  EXPECT_EQ(ids, std::vector<std::uint32_t>{7});
  ids.clear();
  idx.find_exact(43, &ids);
  EXPECT_TRUE(ids.empty());
  add_exact(idx, 42, 7, false);
  idx.find_exact(42, &ids);
  EXPECT_TRUE(ids.empty());
  EXPECT_EQ(idx.entries(), 0u);
}

}  // namespace
}  // namespace strop::storage

namespace strop::storage {
namespace {

TEST(MemoryIndex, GrowsAndStaysConsistentUnderConcurrentReaders) {
  MemoryIndex idx;
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  auto base = testing::random_fuzzy(99);
  add_fuzzy(idx, base, 1);
  std::thread reader([&] {
    MemoryIndex::Counts counts;
    while (!stop) {
      idx.fuzzy_candidates(base, &counts);
      if (counts.empty() || counts[0].first != 1 || counts[0].second != 32) ++wrong;
    }
  });
  std::vector<MemoryIndex::Change> batch;
  for (std::uint32_t id = 2; id < 20000; ++id) {
    MemoryIndex::Change c;
    c.fuzzy = id % 2 == 0;
    c.hashes = testing::random_fuzzy(id + 1000);
    c.exact = id * 0x9e3779b97f4a7c15ULL;
    c.id = id;
    batch.push_back(c);
    if (batch.size() == 500) {
      idx.apply(batch);
      batch.clear();
    }
  }
  idx.apply(batch);
  stop = true;
  reader.join();
  EXPECT_EQ(wrong.load(), 0);
  std::vector<std::uint32_t> ids;
  idx.find_exact(19999ull * 0x9e3779b97f4a7c15ULL, &ids);
  EXPECT_EQ(ids, std::vector<std::uint32_t>{19999});
  // base: 32 postings + its exact key 0; even ids: 32 postings + an exact key; odd: exact.
  EXPECT_EQ(idx.entries(), 1u * 33 + 9999u * 33 + 9999u);
}

}  // namespace
}  // namespace strop::storage

namespace strop::storage {
namespace {

// Shards grow one at a time (few shards, each grown many times, deferred growth included)
// while a reader looks up keys already applied: none is ever missing, and erasures after
// growth leave exactly the remaining keys.
TEST(MemoryIndex, ShardedGrowthLosesNoKeyUnderConcurrentReaders) {
  MemoryIndex idx(2, 1);
  constexpr std::uint32_t kIds = 200000;
  auto key = [](std::uint32_t id) { return id * 0x9e3779b97f4a7c15ULL + 1; };
  auto hashes = [](std::uint32_t id) { return testing::random_fuzzy(id); };
  std::atomic<std::uint32_t> applied{0};  // ids [1, applied] are in the index
  std::atomic<bool> stop{false};
  std::atomic<int> missing{0};
  std::thread reader([&] {
    std::mt19937 rng(3);
    std::vector<std::uint32_t> ids;
    MemoryIndex::Counts counts;
    while (!stop) {
      std::uint32_t have = applied.load();
      if (have == 0) continue;
      auto id = static_cast<std::uint32_t>(rng() % have + 1);
      ids.clear();
      idx.find_exact(key(id), &ids);
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ++missing;
      if (id % 8 == 0) {
        idx.fuzzy_candidates(hashes(id), &counts);
        bool whole = false;
        for (auto [cid, equal] : counts) whole = whole || (cid == id && equal == 32);
        if (!whole) ++missing;
      }
    }
  });
  std::vector<MemoryIndex::Change> batch;
  for (std::uint32_t id = 1; id <= kIds; ++id) {
    MemoryIndex::Change c;
    c.exact = key(id);
    c.fuzzy = id % 8 == 0;
    if (c.fuzzy) c.hashes = hashes(id);
    c.id = id;
    batch.push_back(c);
    if (batch.size() == 1000 || id == kIds) {
      idx.apply(batch);
      applied = id;
      batch.clear();
    }
  }
  stop = true;
  reader.join();
  EXPECT_EQ(missing.load(), 0);
  EXPECT_GT(idx.growths(), 100u);
  EXPECT_EQ(idx.entries(), kIds + kIds / 8 * 32);
  std::vector<std::uint32_t> ids;
  for (std::uint32_t id = 1; id <= kIds; ++id) {
    ids.clear();
    idx.find_exact(key(id), &ids);
    ASSERT_EQ(ids, std::vector<std::uint32_t>{id}) << id;
  }
  // Erase every other id; the rest stay findable (backward shifts within grown shards).
  for (std::uint32_t id = 1; id <= kIds; id += 2) {
    MemoryIndex::Change c;
    c.add = false;
    c.exact = key(id);
    c.fuzzy = id % 8 == 0;
    if (c.fuzzy) c.hashes = hashes(id);
    c.id = id;
    batch.push_back(c);
  }
  idx.apply(batch);
  for (std::uint32_t id = 1; id <= kIds; ++id) {
    ids.clear();
    idx.find_exact(key(id), &ids);
    ASSERT_EQ(ids.size(), id % 2 == 0 ? 1u : 0u) << id;
  }
  EXPECT_EQ(idx.entries(), kIds / 2 + kIds / 8 * 32);
}

}  // namespace
}  // namespace strop::storage

namespace strop::storage {
namespace {

// Batches of the store's mix (one fuzzy signature in eight): `n` signatures from id `first`.
std::vector<MemoryIndex::Change> mix_batch(std::uint32_t first, std::uint32_t n) {
  std::vector<MemoryIndex::Change> batch;
  for (std::uint32_t id = first; id < first + n; ++id) {
    MemoryIndex::Change c;
    c.exact = id * 0x9e3779b97f4a7c15ULL + 7;
    c.fuzzy = id % 8 == 0;
    if (c.fuzzy) c.hashes = testing::random_fuzzy(id);
    c.id = id;
    batch.push_back(c);
  }
  return batch;
}

// Background growth keeps ahead of the keys that fill the shards: once shards are larger than
// a batch's share of them, no shard that was already due (past 3/4) reaches 17/20 and must
// grow inside a batch. With a fixed time budget per batch and the newest due shard grown
// first, every shard of a table came due together and many had to grow in one batch.
TEST(MemoryIndex, BackgroundGrowthKeepsAheadOfMustGrowth) {
  MemoryIndex idx(6, 3, /*seed=*/42);  // 64 exact shards, 8 per fuzzy position
  // 400 of this mix are 2,000 table updates: one step each.
  constexpr std::uint32_t kBatch = 400, kIds = 240000, kWarm = 24000;
  MemoryIndex::GrowthStats warm;
  for (std::uint32_t id = 1; id <= kIds; id += kBatch) {
    if (id == kWarm + 1) warm = idx.growth_stats();
    auto batch = mix_batch(id, kBatch);
    ASSERT_LE(batch.size() + batch.size() / 8 * 32, MemoryIndex::kMaxUpdatesPerApply);
    idx.apply(batch);
  }
  const auto& gs = idx.growth_stats();
  // Shards grew through many cycles after the warm-up (16 slots to thousands), and not one
  // growth after it came late.
  EXPECT_GT(gs.growths - warm.growths, 64u + 32u * 8u);
  EXPECT_EQ(gs.late - warm.late, 0u);
  EXPECT_EQ(gs.must - warm.must, 0u);
  EXPECT_LE(gs.budget_slots, gs.added * MemoryIndex::kGrowSlotsPerKey);
  std::vector<std::uint32_t> ids;
  for (std::uint32_t id = 1; id <= kIds; id += 97) {
    ids.clear();
    idx.find_exact(id * 0x9e3779b97f4a7c15ULL + 7, &ids);
    ASSERT_EQ(ids, std::vector<std::uint32_t>{id}) << id;
  }
  EXPECT_EQ(idx.entries(), kIds + kIds / 8 * 32);
}

// Background growth in one apply() step is paid for by the step's keys: at most
// kGrowSlotsPerKey slots per key added, plus one shard (the credit a step may carry in is
// less than the next due shard's size), however many shards are due; in all, at most
// kGrowSlotsPerKey per key added. A fixed time budget let a one-key batch copy many shards.
TEST(MemoryIndex, BackgroundGrowthPerStepIsBoundedByItsKeys) {
  MemoryIndex idx(8, 5, /*seed=*/7);
  std::mt19937 rng(11);
  std::uint32_t id = 1;
  std::uint64_t steps_with_growth = 0;
  while (id < 150000) {
    const auto n = static_cast<std::uint32_t>(rng() % 3 == 0 ? 1 : rng() % 200 + 1);
    auto batch = mix_batch(id, n);
    id += n;
    const MemoryIndex::GrowthStats before = idx.growth_stats();
    const std::size_t largest = idx.largest_shard_slots();
    idx.apply(batch);
    const auto& after = idx.growth_stats();
    ASSERT_EQ(after.steps, before.steps + 1);
    const std::uint64_t copied = after.budget_slots - before.budget_slots;
    const std::uint64_t added = after.added - before.added;
    ASSERT_LE(copied, added * MemoryIndex::kGrowSlotsPerKey + largest) << id;
    if (copied > 0) ++steps_with_growth;
  }
  const auto& gs = idx.growth_stats();
  EXPECT_LE(gs.budget_slots, gs.added * MemoryIndex::kGrowSlotsPerKey);
  EXPECT_GT(steps_with_growth, 100u);
  EXPECT_GT(gs.budget_slots, 0u);
}

// A change list larger than kMaxUpdatesPerApply is applied in several steps, each within the
// bound (a fuzzy change is 33 updates), and every change of it is applied.
TEST(MemoryIndex, LargeChangeListsApplyInBoundedSteps) {
  MemoryIndex idx(4, 2, /*seed=*/3);
  std::vector<MemoryIndex::Change> exact_only;
  for (std::uint32_t id = 1; id <= 20000; ++id) {
    MemoryIndex::Change c;
    c.exact = id;
    c.id = id;
    exact_only.push_back(c);
  }
  idx.apply(exact_only);
  EXPECT_EQ(idx.growth_stats().steps, 10u);  // 9 x 2048 + 1568
  std::vector<MemoryIndex::Change> fuzzy_only;
  for (std::uint32_t id = 20001; id <= 21000; ++id) {
    MemoryIndex::Change c;
    c.exact = id;
    c.fuzzy = true;
    c.hashes = testing::random_fuzzy(id);
    c.id = id;
    fuzzy_only.push_back(c);
  }
  idx.apply(fuzzy_only);
  // 2048 / 33 = 62 fuzzy changes per step: 17 steps for 1,000.
  EXPECT_EQ(idx.growth_stats().steps, 10u + 17u);
  EXPECT_EQ(idx.entries(), 20000u + 1000u * 33u);
  std::vector<std::uint32_t> ids;
  idx.find_exact(20000, &ids);
  EXPECT_EQ(ids, std::vector<std::uint32_t>{20000});
  MemoryIndex::Counts counts;
  idx.fuzzy_candidates(testing::random_fuzzy(21000), &counts);
  ASSERT_FALSE(counts.empty());
  EXPECT_EQ(counts[0].first, 21000u);
  EXPECT_EQ(counts[0].second, 32);
}

}  // namespace
}  // namespace strop::storage
