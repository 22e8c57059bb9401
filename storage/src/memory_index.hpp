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
// concurrently. Readers take a writer-preferring reader/writer lock (RwLock) once per lookup
// batch. Every table is split into shards by the top bits of the key's seeded hash, and a
// shard grows alone: the writer builds its larger slot array off-lock (it is the only
// mutator, so it may copy while readers still read the old array), swaps it in under the
// exclusive lock (two words) and frees the old array after unlocking. apply() works in steps
// of at most kMaxUpdatesPerApply table updates. Before a step's changes are applied, the
// shards they would fill past 85% grow; shards past 75% grow in the order they came due,
// paid for by the keys added (kGrowSlotsPerKey slots copied per key), so background growth
// keeps ahead of the keys that fill them and a step's growth is bounded by its size. Changes
// are then applied in short exclusive sections of at most kUpdatesPerLock table updates. So
// readers wait microseconds (unless the writer loses its CPU inside a section), never for
// a commit or a rehash, and no step waits for a whole table's copy (a shard is 1/1024 of the
// exact table, 1/128 of a fuzzy position's).
// Lifetime: what a reader sees of a slot array is valid only while it holds the shared
// lock; no pointer into the index leaves lookup(). Memory: growth holds one extra shard at a
// time, never a second copy of a table.
// Slot positions and shards are keyed with a random seed, so reporters cannot choose values
// that collide in the tables: per process, or the one saved with an index snapshot
// (index_snapshot.hpp; the snapshot file is 0600 like data.mdb).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "sigs/signature.hpp"

namespace strop::storage {

// Zero-initialised fixed-size array, every page written at allocation: small ones from
// malloc, large ones (>= 256 KiB) in their own anonymous mapping (transparent huge pages
// requested from 2 MiB: the tables are probed at random). T must be trivially copyable.
void* huge_alloc(std::size_t bytes);  // throws std::bad_alloc
void huge_free(void* p, std::size_t bytes);

// An array borrowed from a region someone else owns (a loaded index snapshot,
// index_snapshot.hpp): not freed but its pages released (madvise MADV_DONTNEED). p is
// 4 KiB-aligned and the region's bytes up to the next 4 KiB boundary after `bytes` belong to
// this array alone.
void borrowed_release(void* p, std::size_t bytes);

template <class T>
class HugeArray {
 public:
  HugeArray() = default;
  explicit HugeArray(std::size_t n)
      : p_(n ? static_cast<T*>(huge_alloc(n * sizeof(T))) : nullptr), n_(n) {}
  // n elements at p, in a mapping that outlives this array (see borrowed_release).
  static HugeArray borrow(T* p, std::size_t n) {
    HugeArray a;
    a.p_ = p;
    a.n_ = n;
    a.borrowed_ = true;
    return a;
  }
  ~HugeArray() {
    if (p_ == nullptr) return;
    if (borrowed_) {
      borrowed_release(p_, n_ * sizeof(T));
    } else {
      huge_free(p_, n_ * sizeof(T));
    }
  }
  HugeArray(HugeArray&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)),
        n_(std::exchange(o.n_, 0)),
        borrowed_(std::exchange(o.borrowed_, false)) {}
  HugeArray& operator=(HugeArray&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    std::swap(borrowed_, o.borrowed_);
    return *this;
  }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;
  T& operator[](std::size_t i) { return p_[i]; }
  const T& operator[](std::size_t i) const { return p_[i]; }
  std::size_t size() const { return n_; }
  T* data() { return p_; }
  const T* data() const { return p_; }
  bool borrowed() const { return borrowed_; }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
  bool borrowed_ = false;
};

// A writer-preferring reader/writer lock (readers: two atomic ops; a waiting writer blocks
// new readers, so it cannot starve). A reader held off spins briefly, then sleeps on a futex
// until the writer leaves (unlock() wakes sleepers only when some announced themselves); the
// writer, waiting for lookups to finish, yields. For the store's figures it keeps the
// longest wait of each side (timed only when the first attempt fails: how long a reader was
// held off by the writer, and the writer by readers) and the longest exclusive hold (lock()
// to unlock(), the one writer's clock reads).
class RwLock {
 public:
  void lock_shared();
  void unlock_shared() { state_.fetch_sub(1, std::memory_order_release); }
  void lock();
  void unlock();

  std::uint64_t max_shared_wait_ns() const {
    return max_shared_wait_ns_.load(std::memory_order_relaxed);
  }
  std::uint64_t max_exclusive_wait_ns() const {
    return max_exclusive_wait_ns_.load(std::memory_order_relaxed);
  }
  std::uint64_t max_exclusive_hold_ns() const {
    return max_exclusive_hold_ns_.load(std::memory_order_relaxed);
  }

 private:
  static constexpr std::uint32_t kWriter = 0x80000000u;
  static constexpr std::uint32_t kSleepers = 0x40000000u;  // readers asleep on the futex
  static constexpr std::uint32_t kReaders = ~(kWriter | kSleepers);
  // About 10-20 us of pause instructions: most exclusive sections end within it.
  static constexpr int kSpinsBeforeSleep = 400;
  std::atomic<std::uint32_t> state_{0};
  std::atomic<std::uint64_t> max_shared_wait_ns_{0};
  std::atomic<std::uint64_t> max_exclusive_wait_ns_{0};
  std::atomic<std::uint64_t> max_exclusive_hold_ns_{0};
  std::uint64_t locked_at_ns_ = 0;  // the writer's, between lock() and unlock()
};

// Open-addressing multimap Key -> uint32 ids (ids 1..2^31-1), split into 2^shard_bits shards
// by the top bits of the key's seeded hash. Each shard is its own linear-probing table
// (backward-shift deletion, no tombstones) of any capacity (the home slot is the hash's low
// 32 bits scaled to the capacity), so a shard grows alone, by a copy of only its own slots.
// A key's single id is stored inline; a key with several ids points into the shard's side
// lists, which stay in place when the shard's slot array is replaced. Not thread-safe by
// itself: MemoryIndex adds the locking.
template <class Key>
class IdMultiMap {
  struct Slot {
    Key key;
    std::uint32_t val;  // 0 = empty
  };

 public:
  // A shard's slot array, built off-lock by grown() and swapped in by install().
  using Slots = HugeArray<Slot>;

  explicit IdMultiMap(std::uint64_t seed = 0, int shard_bits = 0);

  // Adds (key, id); no-op when present. Grows the shard at once when it is nearly full.
  void insert(Key key, std::uint32_t id) { insert_hashed(key, hash(key), id); }
  void insert_hashed(Key key, std::uint64_t h, std::uint32_t id);
  // Removes (key, id); returns whether it was present.
  bool erase(Key key, std::uint32_t id);
  // Calls f(id) for every id stored under key (h = hash(key)).
  template <class F>
  void for_each(Key key, F&& f) const {
    for_each_hashed(key, hash(key), std::forward<F>(f));
  }
  template <class F>
  void for_each_hashed(Key key, std::uint64_t h, F&& f) const {
    const View& v = views_[shard_of(h)];
    std::size_t i = home(h, v.cap);
    while (v.slots[i].val != 0) {
      if (v.slots[i].key == key) {
        std::uint32_t x = v.slots[i].val;
        if ((x & kMulti) == 0) {
          f(x);
        } else if (const auto& lists = shards_[shard_of(h)].lists; (x & ~kMulti) < lists.size()) {
          for (std::uint32_t id : lists[x & ~kMulti]) f(id);
        }
        return;
      }
      if (++i == v.cap) i = 0;
    }
  }
  void prefetch_hashed(std::uint64_t h) const {
    const View& v = views_[shard_of(h)];
    __builtin_prefetch(&v.slots[home(h, v.cap)]);
  }

  std::uint64_t hash(Key key) const {
    std::uint64_t k = static_cast<std::uint64_t>(key) ^ seed_;
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
  }
  std::size_t shard_of(std::uint64_t h) const {
    return shift_ == 64 ? 0 : static_cast<std::size_t>(h >> shift_);
  }
  std::size_t shards() const { return views_.size(); }

  // Growth in steps. A shard should grow once adding `adds` keys would fill more than 3/4 of
  // its slots, and must before it passes 17/20, where a miss would probe too far (insert
  // grows it at once there). A grown shard is filled to 1/2, so load factors stay within
  // 1/2..3/4 (about 1/2..17/20 while growth is deferred).
  enum class Need { kNone, kShould, kMust };
  Need need(std::size_t shard, std::size_t adds) const;
  // A new slot array for `shard` holding its keys with room for `adds` more (at kTargetLoad),
  // built without changing the map (so readers may keep reading it meanwhile).
  Slots grown(std::size_t shard, std::size_t adds) const;
  // Puts `slots` (from grown(), with no change to this shard since) in place; `slots` then
  // holds the old array, for the caller to free outside its lock.
  void install(std::size_t shard, Slots& slots);

  std::size_t keys() const;
  std::size_t entries() const;
  std::size_t used(std::size_t shard) const { return shards_[shard].used; }
  std::size_t capacity(std::size_t shard) const { return views_[shard].cap; }
  std::size_t memory_bytes() const;

  // How many of `total` keys spread by hash one shard should be sized for (the mean plus
  // three standard deviations).
  std::size_t share(std::size_t total) const;

 private:
  static constexpr std::uint32_t kMulti = 0x80000000u;
  static constexpr std::size_t kMinSlots = 16;
  struct View {  // what readers touch: one small array for all shards
    Slot* slots = nullptr;
    std::size_t cap = 0;
  };
  struct Shard {
    Slots slots;
    std::vector<std::vector<std::uint32_t>> lists;
    std::vector<std::uint32_t> free_lists;
    std::size_t used = 0;     // occupied slots (distinct keys)
    std::size_t entries = 0;  // (key, id) pairs
  };
  static std::size_t home(std::uint64_t h, std::size_t cap) {
    return static_cast<std::size_t>(((h & 0xffffffffu) * cap) >> 32);
  }
  static void place(Slots& slots, std::size_t home_slot, Key key, std::uint32_t val);
  friend struct IndexSnapshotIo;  // index_snapshot.cpp: writes and maps the shards

  std::uint64_t seed_;
  int shift_;  // 64 - shard_bits
  std::vector<View> views_;
  std::vector<Shard> shards_;
};

class MemoryIndex {
 public:
  // Most table updates (an exact change is 1, a fuzzy one 32) per exclusive section, so a
  // reader waits at most a few microseconds.
  static constexpr std::size_t kUpdatesPerLock = 256;
  // Shards per table: 2^10 for the exact table, 2^7 for each of the 32 fuzzy positions (one
  // eighth of the signatures are fuzzy in a typical mix), so at 100M signatures one shard
  // holds about 100k keys and its growth copies a few MiB, about a millisecond.
  static constexpr int kExactShardBits = 10;
  static constexpr int kFuzzyShardBits = 7;
  // Background growth budget: slots of old shard arrays copied (scanned) per key added.
  // Shards fill evenly, so all shards of a table come due (3/4 full) within a few percent of
  // growth; the 3/4..17/20 band then holds 0.13 x the table's keys, and growing every shard
  // scans its 1.33 x keys' slots once: about 10 slots per key added must be copied to finish
  // before shards must grow. 16 keeps ahead with room for shards that come due early.
  static constexpr std::size_t kGrowSlotsPerKey = 16;
  // Most table updates (an exact change is 1, a fuzzy one 33: its exact key and 32 postings)
  // in one apply() step: a larger change list is applied in several steps, each with its own
  // growth and exclusive sections, so one step's growth and insertion work stay bounded.
  // 2,048: a step of the benchmark's mix (one report of 1,000 signatures is 5,000 updates,
  // so about 2.5 steps) costs ~1 ms of writer CPU with its growth, well inside 5 ms.
  static constexpr std::size_t kMaxUpdatesPerApply = 2048;

  struct Change {
    bool add = true;
    bool fuzzy = false;
    std::uint64_t exact = 0;     // the exact key (every engine: the writer finds records by it)
    sigs::FuzzyHashes hashes{};  // fuzzy: the postings
    std::uint32_t id = 0;
  };
  // Table updates of one change (its share of kMaxUpdatesPerApply).
  static std::size_t updates(const Change& c) {
    return c.fuzzy ? 1 + static_cast<std::size_t>(sigs::kFuzzyHashes) : 1;
  }

  // (id, equal positions) of stored fuzzy signatures sharing at least one position.
  using Counts = std::vector<std::pair<std::uint32_t, int>>;

  // Fewer shard bits (tests) make each shard grow more often. seed 0: a random seed (a
  // fixed one only in tests, which need the same shards each run).
  explicit MemoryIndex(int exact_shard_bits = kExactShardBits,
                       int fuzzy_shard_bits = kFuzzyShardBits, std::uint64_t seed = 0);

  // Writer thread only. Applies changes in order, in steps of at most kMaxUpdatesPerApply
  // table updates (a caller that wants to act between steps passes at most that many).
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
  // Longest time a lookup waited for the writer's exclusive section, and the writer for
  // lookups to leave, since construction (RwLock; any thread).
  std::uint64_t max_reader_wait_ns() const { return mu_.max_shared_wait_ns(); }
  std::uint64_t max_writer_wait_ns() const { return mu_.max_exclusive_wait_ns(); }
  // Longest exclusive section (the writer holding readers off), since construction.
  std::uint64_t max_exclusive_ns() const { return mu_.max_exclusive_hold_ns(); }
  // Growth counts since construction (tests, figures; writer thread only).
  struct GrowthStats {
    std::uint64_t steps = 0;    // apply() steps
    std::uint64_t added = 0;    // keys added (each add of a change: 1 exact + 32 postings)
    std::uint64_t growths = 0;  // shards grown (reserve() included)
    std::uint64_t must = 0;     // of which because a step would fill them past 17/20
    // Of those, shards that were due (past 3/4) before the step: background growth had not
    // reached them in time. The budget exists to keep this at 0 once shards are larger than
    // a step's share.
    std::uint64_t late = 0;
    std::uint64_t slots_copied = 0;  // old-array slots scanned by every growth
    std::uint64_t budget_slots = 0;  // of which by background growth (from the budget)
    std::uint64_t deferred = 0;      // steps after which due shards were left for later
  };
  const GrowthStats& growth_stats() const { return gs_; }
  std::uint64_t growths() const { return gs_.growths; }
  std::uint64_t deferred_growths() const { return gs_.deferred; }
  // Shards waiting for background growth, and the largest shard's capacity (tests).
  std::size_t due_shards() const { return pending_.size(); }
  std::size_t largest_shard_slots() const;

 private:
  // Shards are numbered across tables: exact shards first, then each fuzzy position's.
  std::size_t global_shard_count() const;
  IdMultiMap<std::uint64_t>::Need need(std::size_t g, std::size_t adds) const;
  std::size_t capacity(std::size_t g) const;
  template <class M>
  void grow_shard(M& m, std::size_t shard, std::size_t adds);
  // One step (at most kMaxUpdatesPerApply updates): prepare(), then the changes.
  void step(std::span<const Change> changes);
  // Grows what must grow for `changes` and, within the budget they earn, what should.
  void prepare(std::span<const Change> changes);

  friend struct IndexSnapshotIo;  // index_snapshot.cpp

  // The snapshot region the shards' slot arrays were borrowed from (empty when built):
  // declared before the tables, so it is unmapped after their arrays are released.
  std::shared_ptr<void> snapshot_map_;
  mutable RwLock mu_;
  IdMultiMap<std::uint64_t> exact_;
  std::vector<IdMultiMap<std::uint32_t>> fuzzy_;  // one per position

  // Writer thread only.
  std::vector<std::uint32_t> adds_;     // by global shard: adds in the step being applied
  std::vector<std::uint32_t> touched_;  // global shards with adds_ != 0
  std::deque<std::uint32_t> pending_;   // global shards that should grow, oldest due first
  std::vector<char> is_pending_;        // by global shard: in pending_
  std::vector<char> grown_now_;         // by global shard: grown in the step being prepared
  std::size_t credit_ = 0;              // budget earned and not spent (slots), while shards wait
  GrowthStats gs_;
};

}  // namespace strop::storage
