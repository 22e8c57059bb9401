#include "memory_index.hpp"

#include <algorithm>
#include <bit>
#include <mutex>

namespace strop::storage {

// ---- IdMultiMap

void IdMultiMap::rehash(std::size_t capacity) {
  capacity = std::bit_ceil(std::max<std::size_t>(capacity, 16));
  std::vector<std::uint64_t> old_keys = std::move(keys_);
  std::vector<std::uint32_t> old_vals = std::move(vals_);
  keys_.assign(capacity, 0);
  vals_.assign(capacity, 0);
  mask_ = capacity - 1;
  for (std::size_t i = 0; i < old_vals.size(); ++i) {
    if (old_vals[i] != 0) place(old_keys[i], old_vals[i]);
  }
}

void IdMultiMap::place(std::uint64_t key, std::uint32_t val) {
  std::size_t i = slot_of(key);
  while (vals_[i] != 0) i = (i + 1) & mask_;
  keys_[i] = key;
  vals_[i] = val;
}

void IdMultiMap::reserve(std::size_t n) {
  std::size_t want = n + n / 2 + 16;  // load factor <= 2/3
  if (want > vals_.size()) rehash(want);
}

std::size_t IdMultiMap::memory_bytes() const {
  std::size_t n = keys_.capacity() * sizeof(std::uint64_t) + vals_.capacity() * sizeof(std::uint32_t);
  for (const auto& l : lists_) n += l.capacity() * sizeof(std::uint32_t) + sizeof(l);
  return n;
}

void IdMultiMap::insert(std::uint64_t key, std::uint32_t id) {
  if ((used_ + 1) * 10 > vals_.size() * 7) rehash(vals_.size() * 2);
  std::size_t i = slot_of(key);
  while (vals_[i] != 0) {
    if (keys_[i] == key) {
      std::uint32_t v = vals_[i];
      if ((v & kMulti) == 0) {
        if (v == id) return;
        std::uint32_t li;
        if (!free_lists_.empty()) {
          li = free_lists_.back();
          free_lists_.pop_back();
          lists_[li] = {v, id};
        } else {
          li = static_cast<std::uint32_t>(lists_.size());
          lists_.push_back({v, id});
        }
        vals_[i] = li | kMulti;
      } else {
        auto& l = lists_[v & ~kMulti];
        if (std::find(l.begin(), l.end(), id) != l.end()) return;
        l.push_back(id);
      }
      ++entries_;
      return;
    }
    i = (i + 1) & mask_;
  }
  keys_[i] = key;
  vals_[i] = id;
  ++used_;
  ++entries_;
}

bool IdMultiMap::erase(std::uint64_t key, std::uint32_t id) {
  std::size_t i = slot_of(key);
  while (vals_[i] != 0 && keys_[i] != key) i = (i + 1) & mask_;
  if (vals_[i] == 0) return false;
  std::uint32_t v = vals_[i];
  if ((v & kMulti) != 0) {
    std::uint32_t li = v & ~kMulti;
    auto& l = lists_[li];
    auto it = std::find(l.begin(), l.end(), id);
    if (it == l.end()) return false;
    l.erase(it);
    --entries_;
    if (l.size() == 1) {
      vals_[i] = l.front();
      l.clear();
      l.shrink_to_fit();
      free_lists_.push_back(li);
    }
    return true;
  }
  if (v != id) return false;
  --entries_;
  --used_;
  // Backward-shift deletion: pull later members of the probe run into the hole.
  std::size_t hole = i;
  std::size_t j = i;
  for (;;) {
    j = (j + 1) & mask_;
    if (vals_[j] == 0) break;
    std::size_t home = slot_of(keys_[j]);
    // Move j into the hole when its home is not in the cyclic range (hole, j].
    bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!in_range) {
      keys_[hole] = keys_[j];
      vals_[hole] = vals_[j];
      hole = j;
    }
  }
  vals_[hole] = 0;
  keys_[hole] = 0;
  return true;
}

// ---- MemoryIndex

void MemoryIndex::add_exact(std::uint64_t key, std::uint32_t id) {
  Shard& s = shards_[shard_of(key)];
  std::unique_lock lock(s.mu);
  s.exact.insert(key, id);
}

void MemoryIndex::remove_exact(std::uint64_t key, std::uint32_t id) {
  Shard& s = shards_[shard_of(key)];
  std::unique_lock lock(s.mu);
  s.exact.erase(key, id);
}

namespace {
std::uint64_t posting_key(int pos, std::uint32_t value) {
  return (static_cast<std::uint64_t>(pos) << 32) | value;
}
}  // namespace

void MemoryIndex::add_fuzzy(const sigs::FuzzyHashes& h, std::uint32_t id) {
  for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
    std::uint64_t key = posting_key(p, h[static_cast<std::size_t>(p)]);
    Shard& s = shards_[shard_of(key)];
    std::unique_lock lock(s.mu);
    s.fuzzy.insert(key, id);
  }
}

void MemoryIndex::remove_fuzzy(const sigs::FuzzyHashes& h, std::uint32_t id) {
  for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
    std::uint64_t key = posting_key(p, h[static_cast<std::size_t>(p)]);
    Shard& s = shards_[shard_of(key)];
    std::unique_lock lock(s.mu);
    s.fuzzy.erase(key, id);
  }
}

void MemoryIndex::find_exact(std::uint64_t key, std::vector<std::uint32_t>* out) const {
  const Shard& s = shards_[shard_of(key)];
  std::shared_lock lock(s.mu);
  s.exact.for_each(key, [&](std::uint32_t id) { out->push_back(id); });
}

void MemoryIndex::fuzzy_candidates(const sigs::FuzzyHashes& h, Counts* out) const {
  out->clear();
  thread_local std::vector<std::uint32_t> ids;
  ids.clear();
  for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
    std::uint64_t key = posting_key(p, h[static_cast<std::size_t>(p)]);
    const Shard& s = shards_[shard_of(key)];
    std::shared_lock lock(s.mu);
    s.fuzzy.for_each(key, [&](std::uint32_t id) { ids.push_back(id); });
  }
  if (ids.empty()) return;
  std::sort(ids.begin(), ids.end());
  for (std::size_t i = 0; i < ids.size();) {
    std::size_t j = i + 1;
    while (j < ids.size() && ids[j] == ids[i]) ++j;
    out->emplace_back(ids[i], static_cast<int>(j - i));
    i = j;
  }
}

void MemoryIndex::reserve(std::size_t exact, std::size_t fuzzy) {
  for (Shard& s : shards_) {
    std::unique_lock lock(s.mu);
    s.exact.reserve(exact / kShards + exact / kShards / 8);
    s.fuzzy.reserve((fuzzy * sigs::kFuzzyHashes) / kShards +
                    (fuzzy * sigs::kFuzzyHashes) / kShards / 8);
  }
}

std::size_t MemoryIndex::entries() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.exact.entries() + s.fuzzy.entries();
  }
  return n;
}

std::size_t MemoryIndex::memory_bytes() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) {
    std::shared_lock lock(s.mu);
    n += s.exact.memory_bytes() + s.fuzzy.memory_bytes();
  }
  return n;
}

}  // namespace strop::storage
