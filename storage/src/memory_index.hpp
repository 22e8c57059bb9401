// memory_index.hpp: the in-memory index in front of LMDB (internal to storage).
//
// Maps exact-signature keys (the 64-bit form of the sig_keys digest) and fuzzy postings
// ((position, hash value) pairs) to signature ids, so that a check, which is a miss most of
// the time, costs a few dozen hash probes and no LMDB access. LMDB stays the source of
// truth: the index is rebuilt from it at open and changed by the writer only after the
// transaction holding the change committed. It may therefore briefly lag LMDB (a candidate
// whose record is gone is skipped by the reader), never lead it.
//
// Thread-safety: any number of readers and one writer concurrently. The tables are split
// into kShards shards, each behind its own shared_mutex; a reader holds a shard's shared lock
// for one probe, the writer holds a shard's exclusive lock for one insert/erase, so readers
// wait at most for one small update (or, rarely, the rehash of one shard), never for a
// commit.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "sigs/signature.hpp"

namespace strop::storage {

// Open-addressing multimap uint64 key -> uint32 ids (ids 1..2^31-1). Linear probing,
// backward-shift deletion (no tombstones). A key's single id is stored inline; a key with
// several ids points into a side list. Not thread-safe by itself.
class IdMultiMap {
 public:
  IdMultiMap() { rehash(16); }

  // Adds (key, id); no-op when present.
  void insert(std::uint64_t key, std::uint32_t id);
  // Removes (key, id); returns whether it was present.
  bool erase(std::uint64_t key, std::uint32_t id);
  // Calls f(id) for every id stored under key.
  template <class F>
  void for_each(std::uint64_t key, F&& f) const {
    std::size_t i = slot_of(key);
    while (vals_[i] != 0) {
      if (keys_[i] == key) {
        std::uint32_t v = vals_[i];
        if ((v & kMulti) == 0) {
          f(v);
        } else {
          for (std::uint32_t id : lists_[v & ~kMulti]) f(id);
        }
        return;
      }
      i = (i + 1) & mask_;
    }
  }
  // Reserves room for n distinct keys without rehashing.
  void reserve(std::size_t n);
  std::size_t keys() const { return used_; }
  std::size_t entries() const { return entries_; }
  std::size_t memory_bytes() const;

 private:
  static constexpr std::uint32_t kMulti = 0x80000000u;
  static std::uint64_t mix(std::uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
  }
  std::size_t slot_of(std::uint64_t key) const { return mix(key) & mask_; }
  void rehash(std::size_t capacity);
  void place(std::uint64_t key, std::uint32_t val);

  std::vector<std::uint64_t> keys_;
  std::vector<std::uint32_t> vals_;  // 0 = empty slot
  std::vector<std::vector<std::uint32_t>> lists_;
  std::vector<std::uint32_t> free_lists_;
  std::size_t mask_ = 0;
  std::size_t used_ = 0;     // occupied slots (distinct keys)
  std::size_t entries_ = 0;  // (key, id) pairs
};

class MemoryIndex {
 public:
  static constexpr std::size_t kShards = 64;

  // (id, equal positions) of stored fuzzy signatures sharing at least one position.
  using Counts = std::vector<std::pair<std::uint32_t, int>>;

  void add_exact(std::uint64_t key, std::uint32_t id);
  void remove_exact(std::uint64_t key, std::uint32_t id);
  void add_fuzzy(const sigs::FuzzyHashes& h, std::uint32_t id);
  void remove_fuzzy(const sigs::FuzzyHashes& h, std::uint32_t id);

  // Appends the ids stored under an exact key to out.
  void find_exact(std::uint64_t key, std::vector<std::uint32_t>* out) const;
  // Counts equal positions per candidate (out is cleared first).
  void fuzzy_candidates(const sigs::FuzzyHashes& h, Counts* out) const;

  // Pre-sizes for an expected number of exact signatures and fuzzy signatures.
  void reserve(std::size_t exact, std::size_t fuzzy);
  std::size_t entries() const;
  std::size_t memory_bytes() const;

 private:
  struct Shard {
    mutable std::shared_mutex mu;
    IdMultiMap exact;
    IdMultiMap fuzzy;
  };
  static std::size_t shard_of(std::uint64_t key) {
    // A different mix than IdMultiMap's slot hash, so shards do not skew slots.
    return ((key * 0x9e3779b97f4a7c15ULL) >> 58) & (kShards - 1);
  }
  std::array<Shard, kShards> shards_;
};

}  // namespace strop::storage
