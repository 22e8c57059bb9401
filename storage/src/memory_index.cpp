#include "memory_index.hpp"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <new>
#include <random>
#include <thread>

namespace strop::storage {

// ---- HugeArray

namespace {
// Below this an array comes from malloc (thousands of small shards must not each take a
// mapping and a page); above it from its own mapping, returned to the system when freed.
constexpr std::size_t kMapMin = std::size_t{256} << 10;
}  // namespace

void* huge_alloc(std::size_t bytes) {
  // Every page is written here, once: left untouched, the first probe of a page would map
  // the shared zero page and the first insert then replace it (a copy-on-write fault with a
  // TLB shootdown on every CPU of the process), which made index building twice as slow.
  if (bytes < kMapMin) {
    void* p = std::malloc(bytes);
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    return p;
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  if (bytes >= (std::size_t{2} << 20)) madvise(p, bytes, MADV_HUGEPAGE);
  std::memset(p, 0, bytes);
  return p;
}

void huge_free(void* p, std::size_t bytes) {
  if (bytes < kMapMin) {
    std::free(p);
  } else {
    munmap(p, bytes);
  }
}

void borrowed_release(void* p, std::size_t bytes) {
  // Whole pages inside [p, p + bytes rounded up to 4 KiB) (the snapshot's alignment); with a
  // larger system page, the pages shared with a neighbour stay.
  static const auto kPage = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t first = (a + kPage - 1) / kPage * kPage;
  const std::uintptr_t end = (a + (bytes + 4095) / 4096 * 4096) / kPage * kPage;
  if (end > first) madvise(static_cast<char*>(p) + (first - a), end - first, MADV_DONTNEED);
}

// ---- RwLock

namespace {
std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}
// max = the longest of max and now - since.
void note_wait(std::atomic<std::uint64_t>& max, std::uint64_t since) {
  const std::uint64_t waited = now_ns() - since;
  std::uint64_t cur = max.load(std::memory_order_relaxed);
  while (waited > cur && !max.compare_exchange_weak(cur, waited, std::memory_order_relaxed)) {
  }
}

// The futex word is the lock's state (std::atomic<std::uint32_t> is a plain 32-bit integer).
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected) {
  // Returns at once unless *word == expected; may return spuriously: callers re-check.
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}
void futex_wake_all(std::atomic<std::uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}
void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}
}  // namespace

void RwLock::lock_shared() {
  std::uint64_t since = 0;
  for (;;) {
    std::uint32_t s = state_.fetch_add(1, std::memory_order_acquire);
    if ((s & kWriter) == 0) break;
    state_.fetch_sub(1, std::memory_order_relaxed);
    if (since == 0) since = now_ns();
    // A short exclusive section ends while we spin; a longer one (or a writer that lost its
    // CPU) is slept through on the futex. Not sched_yield: on a busy CPU a yield hands the
    // reader's turn to another thread for a whole time slice, milliseconds after the writer
    // let go (measured: lookups held 10 ms by sections of at most 1.2 ms).
    for (int i = 0; i < kSpinsBeforeSleep; ++i) {
      if ((state_.load(std::memory_order_relaxed) & kWriter) == 0) break;
      cpu_relax();
    }
    for (;;) {
      s = state_.load(std::memory_order_relaxed);
      if ((s & kWriter) == 0) break;
      if ((s & kSleepers) == 0 &&
          !state_.compare_exchange_weak(s, s | kSleepers, std::memory_order_relaxed)) {
        continue;
      }
      futex_wait(&state_, s | kSleepers);
    }
  }
  if (since != 0) note_wait(max_shared_wait_ns_, since);
}

void RwLock::lock() {
  // Claim the writer bit (one writer at a time), then wait for readers to leave.
  std::uint64_t since = 0;
  while ((state_.fetch_or(kWriter, std::memory_order_acquire) & kWriter) != 0) {
    if (since == 0) since = now_ns();
    std::this_thread::yield();
  }
  // Lookups in progress take microseconds: the writer yields for them.
  while ((state_.load(std::memory_order_acquire) & kReaders) != 0) {
    if (since == 0) since = now_ns();
    std::this_thread::yield();
  }
  locked_at_ns_ = now_ns();
  if (since != 0) note_wait(max_exclusive_wait_ns_, since);
}

void RwLock::unlock() {
  note_wait(max_exclusive_hold_ns_, locked_at_ns_);
  if ((state_.fetch_and(~(kWriter | kSleepers), std::memory_order_release) & kSleepers) != 0) {
    futex_wake_all(&state_);
  }
}

// ---- IdMultiMap

template <class Key>
IdMultiMap<Key>::IdMultiMap(std::uint64_t seed, int shard_bits)
    : seed_(seed), shift_(64 - shard_bits) {
  std::size_t n = std::size_t{1} << shard_bits;
  views_.resize(n);
  shards_.resize(n);
  for (std::size_t s = 0; s < n; ++s) {
    shards_[s].slots = Slots(kMinSlots);
    views_[s] = View{shards_[s].slots.data(), kMinSlots};
  }
}

template <class Key>
void IdMultiMap<Key>::place(Slots& slots, std::size_t i, Key key, std::uint32_t val) {
  const std::size_t cap = slots.size();
  while (slots[i].val != 0) {
    if (++i == cap) i = 0;
  }
  slots[i].key = key;
  slots[i].val = val;
}

template <class Key>
typename IdMultiMap<Key>::Need IdMultiMap<Key>::need(std::size_t shard, std::size_t adds) const {
  const std::size_t keys = shards_[shard].used + adds;
  const std::size_t cap = views_[shard].cap;
  if (keys * 20 > cap * 17) return Need::kMust;
  if (keys * 4 > cap * 3) return Need::kShould;
  return Need::kNone;
}

template <class Key>
typename IdMultiMap<Key>::Slots IdMultiMap<Key>::grown(std::size_t shard, std::size_t adds) const {
  const Shard& sh = shards_[shard];
  const View& v = views_[shard];
  Slots out(std::max(kMinSlots, (sh.used + adds) * 2));
  for (std::size_t i = 0; i < v.cap; ++i) {
    if (v.slots[i].val != 0) {
      place(out, home(hash(v.slots[i].key), out.size()), v.slots[i].key, v.slots[i].val);
    }
  }
  return out;
}

template <class Key>
void IdMultiMap<Key>::install(std::size_t shard, Slots& slots) {
  std::swap(shards_[shard].slots, slots);
  views_[shard] = View{shards_[shard].slots.data(), shards_[shard].slots.size()};
}

template <class Key>
std::size_t IdMultiMap<Key>::share(std::size_t total) const {
  double mean = static_cast<double>(total) / static_cast<double>(shards());
  return static_cast<std::size_t>(mean + 3 * std::sqrt(mean)) + 1;
}

template <class Key>
std::size_t IdMultiMap<Key>::keys() const {
  std::size_t n = 0;
  for (const auto& sh : shards_) n += sh.used;
  return n;
}

template <class Key>
std::size_t IdMultiMap<Key>::entries() const {
  std::size_t n = 0;
  for (const auto& sh : shards_) n += sh.entries;
  return n;
}

template <class Key>
std::size_t IdMultiMap<Key>::memory_bytes() const {
  std::size_t n = views_.size() * sizeof(View) + shards_.size() * sizeof(Shard);
  for (const auto& sh : shards_) {
    n += sh.slots.size() * sizeof(Slot);
    for (const auto& l : sh.lists) {
      // sizeof(l): the vector object itself, besides its heap block.
      // NOLINTNEXTLINE(bugprone-sizeof-container)
      n += l.capacity() * sizeof(std::uint32_t) + sizeof(l);
    }
  }
  return n;
}

template <class Key>
void IdMultiMap<Key>::insert_hashed(Key key, std::uint64_t h, std::uint32_t id) {
  const std::size_t s = shard_of(h);
  Shard& sh = shards_[s];
  if (need(s, 1) == Need::kMust) {
    Slots g = grown(s, 1);
    install(s, g);
  }
  Slot* slots = views_[s].slots;
  const std::size_t cap = views_[s].cap;
  std::size_t i = home(h, cap);
  while (slots[i].val != 0) {
    if (slots[i].key == key) {
      std::uint32_t v = slots[i].val;
      if ((v & kMulti) == 0) {
        if (v == id) return;
        std::uint32_t li;
        if (!sh.free_lists.empty()) {
          li = sh.free_lists.back();
          sh.free_lists.pop_back();
          sh.lists[li] = {v, id};
        } else {
          li = static_cast<std::uint32_t>(sh.lists.size());
          sh.lists.push_back({v, id});
        }
        slots[i].val = li | kMulti;
      } else {
        auto& l = sh.lists[v & ~kMulti];
        if (std::find(l.begin(), l.end(), id) != l.end()) return;
        l.push_back(id);
      }
      ++sh.entries;
      return;
    }
    if (++i == cap) i = 0;
  }
  slots[i].key = key;
  slots[i].val = id;
  ++sh.used;
  ++sh.entries;
}

template <class Key>
bool IdMultiMap<Key>::erase(Key key, std::uint32_t id) {
  const std::uint64_t h = hash(key);
  const std::size_t s = shard_of(h);
  Shard& sh = shards_[s];
  Slot* slots = views_[s].slots;
  const std::size_t cap = views_[s].cap;
  std::size_t i = home(h, cap);
  while (slots[i].val != 0 && slots[i].key != key) {
    if (++i == cap) i = 0;
  }
  if (slots[i].val == 0) return false;
  std::uint32_t v = slots[i].val;
  if ((v & kMulti) != 0) {
    std::uint32_t li = v & ~kMulti;
    auto& l = sh.lists[li];
    auto it = std::find(l.begin(), l.end(), id);
    if (it == l.end()) return false;
    l.erase(it);
    --sh.entries;
    if (l.size() == 1) {
      slots[i].val = l.front();
      l.clear();
      l.shrink_to_fit();
      sh.free_lists.push_back(li);
    }
    return true;
  }
  if (v != id) return false;
  --sh.entries;
  --sh.used;
  // Backward-shift deletion: pull later members of the probe run into the hole.
  std::size_t hole = i;
  std::size_t j = i;
  for (;;) {
    if (++j == cap) j = 0;
    if (slots[j].val == 0) break;
    std::size_t home_j = home(hash(slots[j].key), cap);
    // Move j into the hole when its home is not in the cyclic range (hole, j].
    bool in_range = hole <= j ? (home_j > hole && home_j <= j) : (home_j > hole || home_j <= j);
    if (!in_range) {
      slots[hole] = slots[j];
      hole = j;
    }
  }
  slots[hole] = Slot{};
  return true;
}

template class IdMultiMap<std::uint64_t>;
template class IdMultiMap<std::uint32_t>;

// ---- MemoryIndex

namespace {
std::uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

template <class M>
struct SharedGuard {
  M& m;
  explicit SharedGuard(M& mu) : m(mu) { m.lock_shared(); }
  ~SharedGuard() { m.unlock_shared(); }
};
template <class M>
struct ExclusiveGuard {
  M& m;
  explicit ExclusiveGuard(M& mu) : m(mu) { m.lock(); }
  ~ExclusiveGuard() { m.unlock(); }
};
}  // namespace

namespace {
// Per-table seeds from a fixed one (tests): splitmix64 steps.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t i) {
  std::uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

MemoryIndex::MemoryIndex(int exact_shard_bits, int fuzzy_shard_bits, std::uint64_t seed)
    : exact_(seed == 0 ? random_seed() : derive_seed(seed, 0), exact_shard_bits) {
  fuzzy_.reserve(sigs::kFuzzyHashes);
  for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
    fuzzy_.emplace_back(
        seed == 0 ? random_seed() : derive_seed(seed, static_cast<std::uint64_t>(p) + 1),
        fuzzy_shard_bits);
  }
  adds_.assign(global_shard_count(), 0);
  is_pending_.assign(global_shard_count(), 0);
  grown_now_.assign(global_shard_count(), 0);
}

std::size_t MemoryIndex::global_shard_count() const {
  return exact_.shards() + fuzzy_.size() * fuzzy_.front().shards();
}

IdMultiMap<std::uint64_t>::Need MemoryIndex::need(std::size_t g, std::size_t adds) const {
  if (g < exact_.shards()) return exact_.need(g, adds);
  g -= exact_.shards();
  const std::size_t per = fuzzy_.front().shards();
  auto n = fuzzy_[g / per].need(g % per, adds);
  return static_cast<IdMultiMap<std::uint64_t>::Need>(n);
}

std::size_t MemoryIndex::capacity(std::size_t g) const {
  if (g < exact_.shards()) return exact_.capacity(g);
  g -= exact_.shards();
  const std::size_t per = fuzzy_.front().shards();
  return fuzzy_[g / per].capacity(g % per);
}

std::size_t MemoryIndex::largest_shard_slots() const {
  std::size_t n = 0;
  for (std::size_t g = 0; g < global_shard_count(); ++g) n = std::max(n, capacity(g));
  return n;
}

template <class M>
void MemoryIndex::grow_shard(M& m, std::size_t shard, std::size_t adds) {
  // Only the writer mutates, so it may copy a shard while readers still read it; the swap is
  // the only step under the exclusive lock, and the old array is freed after it.
  const std::size_t old_cap = m.capacity(shard);
  auto slots = m.grown(shard, adds);
  {
    ExclusiveGuard lk(mu_);
    m.install(shard, slots);
  }
  ++gs_.growths;
  gs_.slots_copied += old_cap;
}

void MemoryIndex::prepare(std::span<const Change> changes) {
  using Need = IdMultiMap<std::uint64_t>::Need;
  const std::size_t ne = exact_.shards(), per = fuzzy_.front().shards();
  std::size_t added = 0;
  auto count = [&](std::size_t g) {
    if (adds_[g]++ == 0) touched_.push_back(static_cast<std::uint32_t>(g));
  };
  for (const Change& c : changes) {
    if (!c.add) continue;
    count(exact_.shard_of(exact_.hash(c.exact)));
    ++added;
    if (!c.fuzzy) continue;
    for (std::size_t p = 0; p < fuzzy_.size(); ++p) {
      count(ne + p * per + fuzzy_[p].shard_of(fuzzy_[p].hash(c.hashes[p])));
    }
    added += fuzzy_.size();
  }
  ++gs_.steps;
  gs_.added += added;
  // New slot arrays are built off-lock (readers keep reading the old ones) and swapped in
  // together: one exclusive section per step for all its growths.
  std::vector<std::pair<std::size_t, IdMultiMap<std::uint64_t>::Slots>> grown_exact;
  std::vector<std::pair<std::size_t, IdMultiMap<std::uint32_t>::Slots>> grown_fuzzy;
  auto build = [&](std::uint32_t g) {
    gs_.slots_copied += capacity(g);
    grown_now_[g] = 1;
    if (g < ne) {
      grown_exact.emplace_back(g, exact_.grown(g, adds_[g]));
    } else {
      grown_fuzzy.emplace_back(g - ne, fuzzy_[(g - ne) / per].grown((g - ne) % per, adds_[g]));
    }
  };
  // Shards this step would fill past 17/20 grow now, whatever the budget.
  for (std::uint32_t g : touched_) {
    Need n = need(g, adds_[g]);
    if (n == Need::kMust) {
      ++gs_.must;
      if (need(g, 0) != Need::kNone) ++gs_.late;
      build(g);
    } else if (n == Need::kShould && is_pending_[g] == 0) {
      is_pending_[g] = 1;
      pending_.push_back(g);
    }
  }
  // Shards that should grow, oldest due first, paid for by this step's keys (plus what
  // earlier steps earned and could not yet spend on the next shard): shards fill evenly, so
  // all shards of a table come due together, and the budget spreads their growth over the
  // keys that fill the 3/4..17/20 band. A step's background growth is therefore at most
  // kGrowSlotsPerKey x its keys plus one shard.
  if (!pending_.empty()) credit_ += added * kGrowSlotsPerKey;
  while (!pending_.empty()) {
    const std::uint32_t g = pending_.front();
    if (grown_now_[g] == 0 && need(g, adds_[g]) != Need::kNone) {
      const std::size_t cost = capacity(g);
      if (credit_ < cost) break;
      credit_ -= cost;
      gs_.budget_slots += cost;
      build(g);
    }
    pending_.pop_front();
    is_pending_[g] = 0;
  }
  if (pending_.empty()) {
    credit_ = 0;  // nothing saved up for shards that are not due yet
  } else {
    ++gs_.deferred;
  }
  if (!grown_exact.empty() || !grown_fuzzy.empty()) {
    ExclusiveGuard lk(mu_);
    for (auto& [shard, slots] : grown_exact) exact_.install(shard, slots);
    for (auto& [f, slots] : grown_fuzzy) fuzzy_[f / per].install(f % per, slots);
  }
  gs_.growths += grown_exact.size() + grown_fuzzy.size();
  for (auto& [shard, slots] : grown_exact) grown_now_[shard] = 0;
  for (auto& [f, slots] : grown_fuzzy) grown_now_[ne + f] = 0;
  // grown_exact and grown_fuzzy now hold the old arrays, freed on return (after the lock).
  for (std::uint32_t g : touched_) adds_[g] = 0;
  touched_.clear();
}

void MemoryIndex::reserve(std::size_t exact, std::size_t fuzzy) {
  // Each shard sized for its share at a load of about 0.63 (capacity = 2 x want): memory per
  // signature close to a growing store's, and room for a fifth more before shards grow.
  auto fill = [this](auto& t, std::size_t total) {
    const std::size_t want = t.share(total) * 10 / 13;
    for (std::size_t s = 0; s < t.shards(); ++s) {
      if (t.used(s) < want) grow_shard(t, s, want - t.used(s));
    }
  };
  fill(exact_, exact + fuzzy);
  if (fuzzy == 0) return;
  for (auto& t : fuzzy_) fill(t, fuzzy);
}

void MemoryIndex::apply(std::span<const Change> changes) {
  std::size_t i = 0;
  while (i < changes.size()) {
    std::size_t end = i, updates_in_step = 0;
    while (end < changes.size() &&
           (end == i || updates_in_step + updates(changes[end]) <= kMaxUpdatesPerApply)) {
      updates_in_step += updates(changes[end++]);
    }
    step(changes.subspan(i, end - i));
    i = end;
  }
}

void MemoryIndex::step(std::span<const Change> changes) {
  prepare(changes);
  std::size_t j = 0;
  while (j < changes.size()) {
    ExclusiveGuard lk(mu_);
    std::size_t budget = 0;  // table updates in this exclusive section
    for (; j < changes.size() && budget < kUpdatesPerLock; ++j) {
      const Change& c = changes[j];
      c.add ? exact_.insert(c.exact, c.id) : (void)exact_.erase(c.exact, c.id);
      budget += 1;
      if (!c.fuzzy) continue;
      for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
        auto& t = fuzzy_[static_cast<std::size_t>(p)];
        auto v = c.hashes[static_cast<std::size_t>(p)];
        c.add ? t.insert(v, c.id) : (void)t.erase(v, c.id);
      }
      budget += sigs::kFuzzyHashes;
    }
  }
}

void MemoryIndex::lookup(std::span<const std::uint64_t> exact,
                         std::span<const sigs::FuzzyHashes* const> fuzzy, int min_equal,
                         std::vector<ExactHit>* out_exact, std::vector<FuzzyHit>* out_fuzzy) const {
  thread_local std::vector<std::uint32_t> ids;
  thread_local std::vector<std::uint64_t> hashes;  // exact keys', then fuzzy postings'
  hashes.clear();
  for (auto k : exact) hashes.push_back(exact_.hash(k));
  for (const auto* h : fuzzy) {
    for (std::size_t p = 0; p < fuzzy_.size(); ++p) hashes.push_back(fuzzy_[p].hash((*h)[p]));
  }
  SharedGuard lk(mu_);
  // Issue every probe's first cache line before touching any: the probes then overlap
  // their memory latency instead of paying it one after another.
  std::size_t k = 0;
  for (std::size_t q = 0; q < exact.size(); ++q) exact_.prefetch_hashed(hashes[k++]);
  for (std::size_t q = 0; q < fuzzy.size(); ++q) {
    for (std::size_t p = 0; p < fuzzy_.size(); ++p) fuzzy_[p].prefetch_hashed(hashes[k++]);
  }
  k = 0;
  for (std::size_t q = 0; q < exact.size(); ++q) {
    exact_.for_each_hashed(exact[q], hashes[k++], [&](std::uint32_t id) {
      out_exact->push_back({q, id});
    });
  }
  for (std::size_t q = 0; q < fuzzy.size(); ++q) {
    ids.clear();
    for (std::size_t p = 0; p < fuzzy_.size(); ++p) {
      fuzzy_[p].for_each_hashed((*fuzzy[q])[p], hashes[k++],
                                [&](std::uint32_t id) { ids.push_back(id); });
    }
    if (static_cast<int>(ids.size()) < min_equal) continue;
    std::sort(ids.begin(), ids.end());
    for (std::size_t i = 0; i < ids.size();) {
      std::size_t j = i + 1;
      while (j < ids.size() && ids[j] == ids[i]) ++j;
      if (static_cast<int>(j - i) >= min_equal) {
        out_fuzzy->push_back({q, ids[i], static_cast<int>(j - i)});
      }
      i = j;
    }
  }
}

void MemoryIndex::find_exact(std::uint64_t key, std::vector<std::uint32_t>* out) const {
  std::vector<ExactHit> hits;
  std::vector<FuzzyHit> none;
  lookup(std::span<const std::uint64_t>(&key, 1), {}, 1, &hits, &none);
  for (auto& h : hits) out->push_back(h.id);
}

void MemoryIndex::fuzzy_candidates(const sigs::FuzzyHashes& h, Counts* out) const {
  out->clear();
  std::vector<ExactHit> none;
  std::vector<FuzzyHit> hits;
  const sigs::FuzzyHashes* hp = &h;
  lookup({}, std::span<const sigs::FuzzyHashes* const>(&hp, 1), 1, &none, &hits);
  for (auto& x : hits) out->emplace_back(x.id, x.equal);
}

std::size_t MemoryIndex::entries() const {
  SharedGuard lk(mu_);
  std::size_t n = exact_.entries();
  for (const auto& t : fuzzy_) n += t.entries();
  return n;
}

std::size_t MemoryIndex::memory_bytes() const {
  SharedGuard lk(mu_);
  std::size_t n = exact_.memory_bytes();
  for (const auto& t : fuzzy_) n += t.memory_bytes();
  return n;
}

}  // namespace strop::storage
