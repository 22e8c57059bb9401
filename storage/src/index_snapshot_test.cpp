#include "index_snapshot.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "test_util.hpp"

namespace strop::storage {
namespace {

using Model = std::map<std::uint64_t, std::set<std::uint32_t>>;

// Random adds and removes of exact keys (dense, so keys get several ids: side lists, and
// removals empty some: free lists) and fuzzy postings, applied to an index and a model.
void churn(MemoryIndex& idx, Model* exact, std::map<std::uint32_t, sigs::FuzzyHashes>* fuzzy,
           std::mt19937_64& rng, int changes) {
  std::vector<MemoryIndex::Change> batch;
  for (int i = 0; i < changes; ++i) {
    MemoryIndex::Change c;
    c.exact = rng() % 20000;
    c.id = static_cast<std::uint32_t>(rng() % 50000) + 1;
    if (rng() % 8 == 0) {  // fuzzy: its own id, postings from a small alphabet (shared values)
      c.id = static_cast<std::uint32_t>(fuzzy->size()) + 100000;
      c.fuzzy = true;
      for (auto& v : c.hashes) v = static_cast<std::uint32_t>(rng() % 3000);
      (*fuzzy)[c.id] = c.hashes;
      (*exact)[c.exact].insert(c.id);
    } else if (rng() % 4 == 0 && !(*exact)[c.exact].empty()) {
      c.add = false;
      c.id = *(*exact)[c.exact].begin();
      if (c.id >= 100000) continue;  // fuzzy ones stay
      (*exact)[c.exact].erase(c.id);
    } else {
      (*exact)[c.exact].insert(c.id);
    }
    batch.push_back(c);
  }
  idx.apply(batch);
}

void expect_same(const MemoryIndex& idx, const Model& exact,
                 const std::map<std::uint32_t, sigs::FuzzyHashes>& fuzzy) {
  for (std::uint64_t k = 0; k < 20000; ++k) {
    std::vector<std::uint32_t> got;
    idx.find_exact(k, &got);
    auto it = exact.find(k);
    std::set<std::uint32_t> want = it == exact.end() ? std::set<std::uint32_t>{} : it->second;
    ASSERT_EQ(std::set<std::uint32_t>(got.begin(), got.end()), want) << "key " << k;
  }
  MemoryIndex::Counts counts;
  for (const auto& [id, h] : fuzzy) {
    idx.fuzzy_candidates(h, &counts);
    bool self = false;
    for (auto [cid, equal] : counts) self |= cid == id && equal == sigs::kFuzzyHashes;
    ASSERT_TRUE(self) << "fuzzy id " << id;
  }
}

class IndexSnapshotTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.sub("ix") + ".snap"; }
  testing::TempDir dir_;
};

// Saved and mapped, the index answers exactly as before, keeps working (growth of shards
// borrowed from the map included), and a second save of the mapped index maps again.
TEST_F(IndexSnapshotTest, RoundTripThenGrowThenRoundTripAgain) {
  std::mt19937_64 rng(11);
  Model exact;
  std::map<std::uint32_t, sigs::FuzzyHashes> fuzzy;
  MemoryIndex idx(4, 2, /*seed=*/99);  // few shards: each grows often
  for (int i = 0; i < 6; ++i) churn(idx, &exact, &fuzzy, rng, 5000);
  const IndexStamp stamp{42, 1700000000, 777};
  auto w = write_index_snapshot(idx, stamp, path());
  ASSERT_TRUE(w) << w.error().to_string();
  EXPECT_EQ(w->bytes, std::filesystem::file_size(path()));
  EXPECT_EQ(std::filesystem::status(path()).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  auto loaded = load_index_snapshot(path(), stamp);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  MemoryIndex& m = **loaded;
  EXPECT_EQ(m.entries(), idx.entries());
  EXPECT_EQ(m.largest_shard_slots(), idx.largest_shard_slots());  // the same slot arrays
  EXPECT_EQ(m.due_shards(), idx.due_shards());
  expect_same(m, exact, fuzzy);

  // Both keep changing the same way.
  std::mt19937_64 rng2 = rng;
  Model exact2 = exact;
  auto fuzzy2 = fuzzy;
  for (int i = 0; i < 6; ++i) churn(idx, &exact, &fuzzy, rng, 5000);
  for (int i = 0; i < 6; ++i) churn(m, &exact2, &fuzzy2, rng2, 5000);
  EXPECT_GT(m.growths(), 0u);
  expect_same(m, exact2, fuzzy2);
  expect_same(idx, exact, fuzzy);

  const IndexStamp later{43, 1700000000, 900};
  ASSERT_TRUE(write_index_snapshot(m, later, path()));
  auto again = load_index_snapshot(path(), later);
  ASSERT_TRUE(again) << again.error().to_string();
  expect_same(**again, exact2, fuzzy2);
}

TEST_F(IndexSnapshotTest, RefusesAnotherStateAMissingFileAndDamage) {
  MemoryIndex idx(4, 2, 99);
  std::mt19937_64 rng(3);
  Model exact;
  std::map<std::uint32_t, sigs::FuzzyHashes> fuzzy;
  churn(idx, &exact, &fuzzy, rng, 3000);
  const IndexStamp stamp{7, 1, 2};
  EXPECT_EQ(load_index_snapshot(path(), stamp).error().code, Errc::kNotFound);
  ASSERT_TRUE(write_index_snapshot(idx, stamp, path()));
  EXPECT_FALSE(std::filesystem::exists(path() + ".tmp"));

  for (IndexStamp other : {IndexStamp{8, 1, 2}, IndexStamp{7, 9, 2}, IndexStamp{7, 1, 3}}) {
    auto r = load_index_snapshot(path(), other);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << r.error().to_string();
  }
  const auto size = std::filesystem::file_size(path());
  auto damage = [&](std::uint64_t at) {
    std::fstream f(path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x55));
  };
  auto expect_malformed = [&](const char* what) {
    auto r = load_index_snapshot(path(), stamp);
    ASSERT_FALSE(r) << what;
    EXPECT_EQ(r.error().code, Errc::kMalformed) << what << ": " << r.error().to_string();
  };
  damage(0);  // magic
  expect_malformed("magic");
  damage(0);
  ASSERT_TRUE(load_index_snapshot(path(), stamp));
  damage(4096 + 3 * 48 + 8);  // a shard's capacity in the directory
  expect_malformed("directory");
  damage(4096 + 3 * 48 + 8);
  damage(size - 1);  // the side lists, at the end
  expect_malformed("lists");
  damage(size - 1);
  std::filesystem::resize_file(path(), size - 4096);
  expect_malformed("truncated");
}

}  // namespace
}  // namespace strop::storage
