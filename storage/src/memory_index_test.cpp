#include "memory_index.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

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
      std::uint32_t id = rng() % have + 1;
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
