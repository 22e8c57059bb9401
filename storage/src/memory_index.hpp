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
// concurrently, and readers never wait for the writer: a lookup takes no lock, so a writer
// that loses its CPU in the middle of a change holds no lookup up. Every change a reader can
// see is one atomic store the writer makes last: a new key's slot gets its key, then its
// value (release); an erased key's value becomes a tombstone (probes go on past it); a key's
// list of several ids is an immutable array, replaced whole; a shard's slot array is
// replaced whole (the writer, its only mutator, builds the larger copy while readers still
// read the old one, then swaps one pointer). What the writer replaces is retired, and freed
// once every lookup that might still read it has left: a lookup registers in one of two
// reader counters chosen by an epoch; the writer advances the epoch and frees a retired batch
// when the counter of the epoch before it is zero (it never blocks on that, except when more
// than kMaxRetiredBytes wait).
// Growth: every table is split into shards by the top bits of the key's seeded hash, and a
// shard grows alone. apply() works in steps of at most kMaxUpdatesPerApply table updates.
// Before a step's changes are applied, the shards they would fill past 85% grow; shards past
// 75% grow in the order they came due, paid for by the keys added (kGrowSlotsPerKey slots
// copied per key), so background growth keeps ahead of the keys that fill them and a step's
// growth is bounded by its size (a shard is 1/1024 of the exact table, 1/128 of a fuzzy
// position's). Tombstones count as used slots until the shard's next copy drops them.
// Lifetime: what a reader sees of the index is valid only inside lookup(); no pointer into
// the index leaves it. Memory: growth holds the shards' old arrays until the lookups that
// might read them have left (microseconds), never a second copy of a table.
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

// Memory the writer unpublished, with how to free it once no lookup can read it: free(p, n)
// (also used to hand a side-list index back for reuse: p its shard's free list, n the index).
struct Retired {
  void* p;
  std::size_t n;
  void (*free)(void* p, std::size_t n);
};

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
  // Gives up the array: what the caller must later do to free it (MemoryIndex's grace
  // period).
  Retired retire() && {
    Retired r{p_, n_ * sizeof(T), borrowed_ ? &borrowed_release : &huge_free};
    p_ = nullptr;
    n_ = 0;
    return r;
  }
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

// Open-addressing multimap Key -> uint32 ids (ids 1..2^31-1), split into 2^shard_bits shards
// by the top bits of the key's seeded hash. Each shard is its own linear-probing table
// (deletion leaves a tombstone, dropped at the shard's next copy) of any capacity (the home
// slot is the hash's low 32 bits scaled to the capacity), so a shard grows alone, by a copy
// of only its own slots. A key's single id is stored inline; a key with several ids points
// into the shard's side lists, immutable arrays replaced whole, which stay in place when the
// shard's slot array is replaced. One writer and any number of readers (for_each, inside
// MemoryIndex's read section) concurrently, as the file comment describes; what the writer
// replaces accumulates in retired(), for MemoryIndex to free after a grace period (a map on
// its own frees it when destroyed).
template <class Key>
class IdMultiMap {
  struct Slot {
    Key key;
    std::uint32_t val;  // 0 = empty, kTomb = erased, kMulti | list index, else the one id
  };

 public:
  // A shard's slot array, built by grown() while readers read the old one and swapped in by
  // install().
  using Slots = HugeArray<Slot>;

  explicit IdMultiMap(std::uint64_t seed = 0, int shard_bits = 0);
  ~IdMultiMap();
  IdMultiMap(IdMultiMap&&) noexcept = default;
  IdMultiMap& operator=(IdMultiMap&&) = delete;
  IdMultiMap(const IdMultiMap&) = delete;
  IdMultiMap& operator=(const IdMultiMap&) = delete;

  // Writer. Adds (key, id); no-op when present. Grows the shard at once when it is nearly
  // full.
  void insert(Key key, std::uint32_t id) { insert_hashed(key, hash(key), id); }
  void insert_hashed(Key key, std::uint64_t h, std::uint32_t id);
  // Writer. Removes (key, id); returns whether it was present.
  bool erase(Key key, std::uint32_t id);
  // Calls f(id) for every id stored under key (h = hash(key)). Any thread.
  template <class F>
  void for_each(Key key, F&& f) const {
    for_each_hashed(key, hash(key), std::forward<F>(f));
  }
  template <class F>
  void for_each_hashed(Key key, std::uint64_t h, F&& f) const {
    const View* v = views_[shard_of(h)].load(std::memory_order_acquire);
    std::size_t i = home(h, v->cap);
    for (;;) {
      // The value first: a key is written before its value is published.
      const std::uint32_t x = load_val(v->slots[i]);
      if (x == 0) return;
      if (x != kTomb && v->slots[i].key == key) {
        if ((x & kMulti) == 0) {
          f(x);
          return;
        }
        // The shard's list table as of this value or later (a value is published after its
        // list and table): not the one of the view, which may be older.
        const ListTable* t = tables_[shard_of(h)].load(std::memory_order_acquire);
        if ((x & ~kMulti) < t->cap) {
          const std::uint32_t* l = t->at[x & ~kMulti].load(std::memory_order_acquire);
          if (l != nullptr) {
            for (std::uint32_t k = 1; k <= l[0]; ++k) f(l[k]);
          }
        }
        return;
      }
      if (++i == v->cap) i = 0;
    }
  }
  void prefetch_hashed(std::uint64_t h) const {
    const View* v = views_[shard_of(h)].load(std::memory_order_acquire);
    __builtin_prefetch(&v->slots[home(h, v->cap)]);
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
  std::size_t shards() const { return shards_.size(); }

  // Growth in steps (writer). A shard should grow once adding `adds` keys would fill more
  // than 3/4 of its slots (tombstones count), and must before it passes 17/20, where a miss
  // would probe too far (insert grows it at once there). A grown shard is filled to 1/2, so
  // load factors stay within 1/2..3/4 (about 1/2..17/20 while growth is deferred).
  enum class Need { kNone, kShould, kMust };
  Need need(std::size_t shard, std::size_t adds) const;
  // A new slot array for `shard` holding its keys with room for `adds` more (at kTargetLoad),
  // built without changing the map (so readers may keep reading it meanwhile).
  Slots grown(std::size_t shard, std::size_t adds) const;
  // Puts `slots` (from grown(), with no change to this shard since) in place and retires the
  // old array.
  void install(std::size_t shard, Slots& slots);

  // What the writer has replaced since the last call, to be freed once no reader can see it;
  // returns its bytes.
  std::size_t take_retired(std::vector<Retired>* out);

  // Writer (or when no writer runs).
  std::size_t keys() const;
  std::size_t entries() const { return entries_; }
  std::size_t used(std::size_t shard) const { return shards_[shard].used; }
  std::size_t capacity(std::size_t shard) const { return shards_[shard].slots.size(); }
  std::size_t memory_bytes() const { return bytes_; }

  // How many of `total` keys spread by hash one shard should be sized for (the mean plus
  // three standard deviations).
  std::size_t share(std::size_t total) const;

 private:
  static constexpr std::uint32_t kMulti = 0x80000000u;
  static constexpr std::uint32_t kTomb = 0xffffffffu;  // kMulti | 2^31-1: no list has it
  static constexpr std::size_t kMinSlots = 16;
  // A shard's side lists, by index: each an immutable array {n, id...} (malloc), or null. A
  // dropped list stays readable until its grace period ends (a reader may have read its
  // index just before the slot changed); then it is freed, its entry nulled and the index
  // reused.
  struct ListTable {
    std::size_t cap = 0;
    std::unique_ptr<std::atomic<const std::uint32_t*>[]> at;
  };
  struct View {  // a shard's slot array as readers see it, replaced whole
    Slot* slots = nullptr;
    std::size_t cap = 0;
  };
  struct Shard {                            // the writer's
    Slots slots;                            // what the published View points to
    ListTable* lists = nullptr;             // owned; published in tables_
    std::uint32_t list_count = 0;           // indexes handed out
    std::vector<std::uint32_t> free_lists;  // indexes no reader can still be reading
    std::vector<std::uint32_t> dropping;    // dropped lists waiting for their grace period
    std::size_t used = 0;                   // live keys
    std::size_t tombs = 0;                  // erased keys' slots, until the next copy
    std::size_t entries = 0;                // (key, id) pairs
  };
  static std::size_t home(std::uint64_t h, std::size_t cap) {
    return static_cast<std::size_t>(((h & 0xffffffffu) * cap) >> 32);
  }
  static std::uint32_t load_val(Slot& s) {
    return std::atomic_ref<std::uint32_t>(s.val).load(std::memory_order_acquire);
  }
  static void store_val(Slot& s, std::uint32_t v) {
    std::atomic_ref<std::uint32_t>(s.val).store(v, std::memory_order_release);
  }
  static void place(Slots& slots, std::size_t home_slot, Key key, std::uint32_t val);
  // Publishes a View of the shard's current slots; retires the old one.
  void publish(std::size_t shard);
  void retire(Retired r);
  // Side lists (writer): a new one (returns its index), one replaced, one dropped.
  std::uint32_t add_list(std::size_t shard, const std::uint32_t* ids, std::size_t n);
  void set_list(std::size_t shard, std::uint32_t li, const std::uint32_t* ids, std::size_t n);
  void drop_list(std::size_t shard, std::uint32_t li);
  static std::uint32_t* new_list(const std::uint32_t* ids, std::size_t n);
  friend struct IndexSnapshotIo;  // index_snapshot.cpp: writes and maps the shards

  std::uint64_t seed_;
  int shift_;  // 64 - shard_bits
  std::unique_ptr<std::atomic<const View*>[]> views_;
  std::unique_ptr<std::atomic<const ListTable*>[]> tables_;
  std::vector<Shard> shards_;
  std::vector<Retired> retired_;
  std::size_t retired_bytes_ = 0;
  std::size_t entries_ = 0;
  std::size_t bytes_ = 0;  // slot arrays, side lists and their tables
};

class MemoryIndex {
 public:
  // Most bytes retired and waiting for lookups to leave before the writer waits for them
  // (only a lookup that lost its CPU holds a batch up longer than microseconds).
  static constexpr std::size_t kMaxRetiredBytes = std::size_t{256} << 20;
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
  // growth and reclamation, so one step's growth and insertion work stay bounded.
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
  ~MemoryIndex();
  MemoryIndex(const MemoryIndex&) = delete;
  MemoryIndex& operator=(const MemoryIndex&) = delete;

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

  // As of the writer's last step (any thread).
  std::size_t entries() const { return entries_.load(std::memory_order_relaxed); }
  std::size_t memory_bytes() const { return bytes_.load(std::memory_order_relaxed); }
  // Longest time the writer waited for lookups to leave retired memory (more than
  // kMaxRetiredBytes waiting), since construction (any thread). Lookups never wait.
  std::uint64_t max_writer_wait_ns() const {
    return max_writer_wait_ns_.load(std::memory_order_relaxed);
  }
  // Test hook (writer thread): called between the table updates of a step.
  void set_update_hook_for_test(void (*hook)(void*), void* arg) {
    update_hook_ = hook;
    update_hook_arg_ = arg;
  }
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
  // After a step (writer): collects what the tables retired, frees what no lookup can see
  // any more, and publishes entries() and memory_bytes(). Waits until everything is freed
  // only when more than kMaxRetiredBytes wait.
  void reclaim();

  // A lookup's registration: in the reader counter of the epoch it saw.
  class ReadSection {
   public:
    explicit ReadSection(const MemoryIndex& ix);
    ~ReadSection() { count_->fetch_sub(1, std::memory_order_release); }
    ReadSection(const ReadSection&) = delete;
    ReadSection& operator=(const ReadSection&) = delete;

   private:
    std::atomic<std::uint64_t>* count_;
  };

  friend struct IndexSnapshotIo;  // index_snapshot.cpp

  // The snapshot region the shards' slot arrays were borrowed from (empty when built):
  // declared before the tables, so it is unmapped after their arrays are released.
  std::shared_ptr<void> snapshot_map_;
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
  std::vector<Retired> retiring_;  // retired since the last epoch change
  std::size_t retiring_bytes_ = 0;
  std::vector<Retired> grace_;  // retired before it: freed once that epoch's readers left
  std::size_t grace_bytes_ = 0;
  std::uint64_t grace_parity_ = 0;
  void (*update_hook_)(void*) = nullptr;
  void* update_hook_arg_ = nullptr;

  // Readers and writer.
  mutable std::atomic<std::uint64_t> epoch_{0};
  struct alignas(64) ReaderCount {
    std::atomic<std::uint64_t> n{0};
  };
  mutable ReaderCount readers_[2];
  std::atomic<std::size_t> entries_{0};
  std::atomic<std::size_t> bytes_{0};
  std::atomic<std::uint64_t> max_writer_wait_ns_{0};
};

}  // namespace strop::storage
