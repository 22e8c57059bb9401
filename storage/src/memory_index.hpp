// memory_index.hpp: the in-memory index in front of LMDB (internal to storage).
//
// Maps exact-signature keys (codec::exact_key64, every engine) and fuzzy postings
// ((position, hash value) pairs) to signature ids, so that a check, which is a miss most of
// the time, costs a few dozen hash probes and no LMDB access. LMDB stays the source of
// truth: the index is rebuilt from it at open and changed by the writer only after the
// transaction holding the change committed. It may therefore briefly lag LMDB (a candidate
// whose record is gone is skipped by the reader), never lead it.
//
// Thread-safety: any number of readers and ONE writer (the store's writer thread)
// concurrently. Readers take a writer-preferring reader/writer spin lock once per lookup
// batch; the writer grows tables off-lock (it is the only mutator, so it may copy while
// readers read) and then applies changes in short exclusive sections of at most
// kUpdatesPerLock table updates, so readers wait microseconds, never for a commit or a rehash.
// Slot positions are keyed with a per-process random seed, so reporters cannot choose
// values that collide in the tables.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "sigs/signature.hpp"

namespace strop::storage {

// Zero-initialised fixed-size array in its own anonymous mapping (transparent huge pages
// requested for large ones: the tables are probed at random). T must be trivially copyable.
void* huge_alloc(std::size_t bytes);  // throws std::bad_alloc
void huge_free(void* p, std::size_t bytes);

template <class T>
class HugeArray {
 public:
  HugeArray() = default;
  explicit HugeArray(std::size_t n)
      : p_(n ? static_cast<T*>(huge_alloc(n * sizeof(T))) : nullptr), n_(n) {}
  ~HugeArray() {
    if (p_ != nullptr) huge_free(p_, n_ * sizeof(T));
  }
  HugeArray(HugeArray&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  HugeArray& operator=(HugeArray&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;
  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }
  std::size_t size() const { return n_; }
  T* data() { return p_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

// A writer-preferring reader/writer spin lock (readers: two atomic ops; a waiting writer
// blocks new readers, so it cannot starve). Waiters yield the CPU.
class RwSpinLock {
 public:
  void lock_shared();
  void unlock_shared() { state_.fetch_sub(1, std::memory_order_release); }
  void lock();
  void unlock() { state_.fetch_and(~kWriter, std::memory_order_release); }

 private:
  static constexpr std::uint32_t kWriter = 0x80000000u;
  std::atomic<std::uint32_t> state_{0};
};

// Open-addressing multimap Key -> uint32 ids (ids 1..2^31-1). Linear probing, backward-shift
// deletion (no tombstones). A key's single id is stored inline; a key with several ids points
// into a side list. Not thread-safe by itself.
template <class Key>
class IdMultiMap {
 public:
  explicit IdMultiMap(std::uint64_t seed = 0, std::size_t capacity = 16);

  // Adds (key, id); no-op when present. Grows when needed.
  void insert(Key key, std::uint32_t id);
  // Removes (key, id); returns whether it was present.
  bool erase(Key key, std::uint32_t id);
  // Calls f(id) for every id stored under key.
  template <class F>
  void for_each(Key key, F&& f) const {
    std::size_t i = slot_of(key);
    while (slots_[i].val != 0) {
      if (slots_[i].key == key) {
        std::uint32_t v = slots_[i].val;
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
  void prefetch(Key key) const { __builtin_prefetch(&slots_[slot_of(key)]); }

  // Whether adding `extra` more keys would trigger a rehash.
  bool needs_grow(std::size_t extra) const { return (used_ + extra) * 10 > slots_.size() * 7; }
  // A copy with room for size + extra keys (used by the writer to grow off-lock).
  IdMultiMap grown(std::size_t extra) const;

  std::size_t keys() const { return used_; }
  std::size_t entries() const { return entries_; }
  std::size_t memory_bytes() const;

 private:
  struct Slot {
    Key key;
    std::uint32_t val;  // 0 = empty
  };
  static constexpr std::uint32_t kMulti = 0x80000000u;
  std::size_t slot_of(Key key) const {
    std::uint64_t k = static_cast<std::uint64_t>(key) ^ seed_;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k & mask_;
  }
  void place(Key key, std::uint32_t val);

  std::uint64_t seed_;
  HugeArray<Slot> slots_;
  std::size_t mask_ = 0;
  std::vector<std::vector<std::uint32_t>> lists_;
  std::vector<std::uint32_t> free_lists_;
  std::size_t used_ = 0;     // occupied slots (distinct keys)
  std::size_t entries_ = 0;  // (key, id) pairs
};

class MemoryIndex {
 public:
  // Most table updates (an exact change is 1, a fuzzy one 32) per exclusive section, so a
  // reader waits at most a few microseconds.
  static constexpr std::size_t kUpdatesPerLock = 256;

  struct Change {
    bool add = true;
    bool fuzzy = false;
    std::uint64_t exact = 0;     // the exact key (every engine: the writer finds records by it)
    sigs::FuzzyHashes hashes{};  // fuzzy: the postings
    std::uint32_t id = 0;
  };

  // (id, equal positions) of stored fuzzy signatures sharing at least one position.
  using Counts = std::vector<std::pair<std::uint32_t, int>>;

  MemoryIndex();

  // Writer thread only.
  void apply(std::span<const Change> changes);
  // Pre-sizes for an expected number of exact and fuzzy signatures (writer thread only).
  void reserve(std::size_t exact, std::size_t fuzzy);

  // Readers. For each of `exact` keys appends (index in exact, id) to out_exact; for each of
  // `fuzzy` hash sets appends (index in fuzzy, id, equal positions) to out_fuzzy for
  // candidates with at least min_equal equal positions.
  struct ExactHit {
    std::size_t query;
    std::uint32_t id;
  };
  struct FuzzyHit {
    std::size_t query;
    std::uint32_t id;
    int equal;
  };
  void lookup(std::span<const std::uint64_t> exact, std::span<const sigs::FuzzyHashes* const> fuzzy,
              int min_equal, std::vector<ExactHit>* out_exact,
              std::vector<FuzzyHit>* out_fuzzy) const;

  // Convenience single lookups (tests).
  void find_exact(std::uint64_t key, std::vector<std::uint32_t>* out) const;
  void fuzzy_candidates(const sigs::FuzzyHashes& h, Counts* out) const;

  std::size_t entries() const;
  std::size_t memory_bytes() const;

 private:
  void grow_for(std::size_t exact_adds, std::size_t fuzzy_adds);

  mutable RwSpinLock mu_;
  IdMultiMap<std::uint64_t> exact_;
  std::vector<IdMultiMap<std::uint32_t>> fuzzy_;  // one per position
};

}  // namespace strop::storage
