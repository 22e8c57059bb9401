#include "memory_index.hpp"

#include <gtest/gtest.h>

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
