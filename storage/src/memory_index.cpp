#include "memory_index.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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

// ---- Time

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
}  // namespace

// ---- IdMultiMap

namespace {
void free_malloced(void* p, std::size_t /*bytes*/) { std::free(p); }
}  // namespace

template <class Key>
IdMultiMap<Key>::IdMultiMap(std::uint64_t seed, int shard_bits)
    : seed_(seed), shift_(64 - shard_bits) {
  const std::size_t n = std::size_t{1} << shard_bits;
  views_ = std::make_unique<std::atomic<const View*>[]>(n);
  tables_ = std::make_unique<std::atomic<const ListTable*>[]>(n);
  shards_.resize(n);
  for (std::size_t s = 0; s < n; ++s) {
    shards_[s].slots = Slots(kMinSlots);
    shards_[s].lists = new ListTable;
    tables_[s].store(shards_[s].lists, std::memory_order_release);
    bytes_ += kMinSlots * sizeof(Slot);
    publish(s);
  }
}

template <class Key>
IdMultiMap<Key>::~IdMultiMap() {
  // No reader runs any more: everything retired goes, then what is published.
  for (auto& r : retired_) r.free(r.p, r.n);
  if (!views_) return;  // moved from
  for (std::size_t s = 0; s < shards_.size(); ++s) {
    delete views_[s].load(std::memory_order_relaxed);
    ListTable* t = shards_[s].lists;
    if (t == nullptr) continue;
    for (std::size_t i = 0; i < t->cap; ++i) {
      std::free(const_cast<std::uint32_t*>(t->at[i].load(std::memory_order_relaxed)));
    }
    delete t;
  }
}

template <class Key>
void IdMultiMap<Key>::retire(Retired r) {
  retired_bytes_ += r.n;
  retired_.push_back(r);
}

template <class Key>
std::size_t IdMultiMap<Key>::take_retired(std::vector<Retired>* out) {
  out->insert(out->end(), retired_.begin(), retired_.end());
  retired_.clear();
  return std::exchange(retired_bytes_, 0);
}

template <class Key>
void IdMultiMap<Key>::publish(std::size_t shard) {
  Shard& sh = shards_[shard];
  const View* old =
      views_[shard].exchange(new View{sh.slots.data(), sh.slots.size()}, std::memory_order_acq_rel);
  if (old != nullptr) {
    retire(Retired{const_cast<View*>(old), sizeof(View),
                   [](void* p, std::size_t) { delete static_cast<View*>(p); }});
  }
}

template <class Key>
std::uint32_t* IdMultiMap<Key>::new_list(const std::uint32_t* ids, std::size_t n) {
  auto* l = static_cast<std::uint32_t*>(std::malloc((n + 1) * sizeof(std::uint32_t)));
  if (l == nullptr) throw std::bad_alloc();
  l[0] = static_cast<std::uint32_t>(n);
  std::memcpy(l + 1, ids, n * sizeof(std::uint32_t));
  return l;
}

template <class Key>
std::uint32_t IdMultiMap<Key>::add_list(std::size_t shard, const std::uint32_t* ids,
                                        std::size_t n) {
  Shard& sh = shards_[shard];
  std::uint32_t li;
  if (!sh.free_lists.empty()) {
    li = sh.free_lists.back();
    sh.free_lists.pop_back();
  } else {
    if (sh.list_count >= (kTomb & ~kMulti)) throw std::length_error("index side lists full");
    li = sh.list_count++;
    if (li >= sh.lists->cap) {
      // A larger table, published before any value refers to its new entries; the old one
      // is retired (readers holding it still find every list it had).
      auto* t = new ListTable;
      t->cap = std::max<std::size_t>(4, sh.lists->cap * 2);
      t->at = std::make_unique<std::atomic<const std::uint32_t*>[]>(t->cap);
      for (std::size_t i = 0; i < sh.lists->cap; ++i) {
        t->at[i].store(sh.lists->at[i].load(std::memory_order_relaxed), std::memory_order_relaxed);
      }
      bytes_ += (t->cap - sh.lists->cap) * sizeof(void*);
      ListTable* old = std::exchange(sh.lists, t);
      tables_[shard].store(t, std::memory_order_release);
      retire(Retired{old, old->cap * sizeof(void*),
                     [](void* p, std::size_t) { delete static_cast<ListTable*>(p); }});
    }
  }
  sh.lists->at[li].store(new_list(ids, n), std::memory_order_release);
  bytes_ += (n + 1) * sizeof(std::uint32_t);
  return li;
}

template <class Key>
void IdMultiMap<Key>::set_list(std::size_t shard, std::uint32_t li, const std::uint32_t* ids,
                               std::size_t n) {
  const std::uint32_t* old =
      shards_[shard].lists->at[li].exchange(new_list(ids, n), std::memory_order_acq_rel);
  bytes_ += (n + 1) * sizeof(std::uint32_t);
  bytes_ -= (old[0] + 1) * sizeof(std::uint32_t);
  retire(Retired{const_cast<std::uint32_t*>(old), (old[0] + 1) * sizeof(std::uint32_t),
                 &free_malloced});
}

template <class Key>
void IdMultiMap<Key>::drop_list(std::size_t shard, std::uint32_t li) {
  // The list stays where it is: a reader that read the slot's old value may still follow the
  // index to it. Once none can, it is freed and the index reused.
  Shard& sh = shards_[shard];
  const std::uint32_t* l = sh.lists->at[li].load(std::memory_order_relaxed);
  bytes_ -= (l[0] + 1) * sizeof(std::uint32_t);
  retired_bytes_ += (l[0] + 1) * sizeof(std::uint32_t);
  sh.dropping.push_back(li);
  retired_.push_back(Retired{&sh, li, [](void* p, std::size_t i) {
                               auto* s = static_cast<Shard*>(p);
                               const auto index = static_cast<std::uint32_t>(i);
                               std::free(const_cast<std::uint32_t*>(s->lists->at[index].exchange(
                                   nullptr, std::memory_order_relaxed)));
                               s->free_lists.push_back(index);
                               auto it = std::find(s->dropping.begin(), s->dropping.end(), index);
                               *it = s->dropping.back();
                               s->dropping.pop_back();
                             }});
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
  const Shard& sh = shards_[shard];
  const std::size_t keys = sh.used + sh.tombs + adds;
  const std::size_t cap = sh.slots.size();
  if (keys * 20 > cap * 17) return Need::kMust;
  if (keys * 4 > cap * 3) return Need::kShould;
  return Need::kNone;
}

template <class Key>
typename IdMultiMap<Key>::Slots IdMultiMap<Key>::grown(std::size_t shard, std::size_t adds) const {
  // The writer reads its own slots here without atomics: no one else writes them.
  const Shard& sh = shards_[shard];
  Slots out(std::max(kMinSlots, (sh.used + adds) * 2));
  for (std::size_t i = 0; i < sh.slots.size(); ++i) {
    const Slot& x = sh.slots[i];
    if (x.val != 0 && x.val != kTomb) place(out, home(hash(x.key), out.size()), x.key, x.val);
  }
  return out;
}

template <class Key>
void IdMultiMap<Key>::install(std::size_t shard, Slots& slots) {
  Shard& sh = shards_[shard];
  bytes_ += slots.size() * sizeof(Slot);
  bytes_ -= sh.slots.size() * sizeof(Slot);
  std::swap(sh.slots, slots);
  sh.tombs = 0;
  publish(shard);
  retire(std::move(slots).retire());
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
void IdMultiMap<Key>::insert_hashed(Key key, std::uint64_t h, std::uint32_t id) {
  const std::size_t s = shard_of(h);
  Shard& sh = shards_[s];
  if (need(s, 1) == Need::kMust) {
    Slots g = grown(s, 1);
    install(s, g);
  }
  Slot* slots = sh.slots.data();
  const std::size_t cap = sh.slots.size();
  std::size_t i = home(h, cap);
  while (slots[i].val != 0) {
    const std::uint32_t v = slots[i].val;
    if (v != kTomb && slots[i].key == key) {
      if ((v & kMulti) == 0) {
        if (v == id) return;
        const std::uint32_t ids[2] = {v, id};
        store_val(slots[i], add_list(s, ids, 2) | kMulti);
      } else {
        const std::uint32_t li = v & ~kMulti;
        const std::uint32_t* l = sh.lists->at[li].load(std::memory_order_relaxed);
        if (std::find(l + 1, l + 1 + l[0], id) != l + 1 + l[0]) return;
        std::vector<std::uint32_t> ids(l + 1, l + 1 + l[0]);
        ids.push_back(id);
        set_list(s, li, ids.data(), ids.size());
      }
      ++sh.entries;
      ++entries_;
      return;
    }
    if (++i == cap) i = 0;
  }
  slots[i].key = key;
  store_val(slots[i], id);
  ++sh.used;
  ++sh.entries;
  ++entries_;
}

template <class Key>
bool IdMultiMap<Key>::erase(Key key, std::uint32_t id) {
  const std::uint64_t h = hash(key);
  const std::size_t s = shard_of(h);
  Shard& sh = shards_[s];
  Slot* slots = sh.slots.data();
  const std::size_t cap = sh.slots.size();
  std::size_t i = home(h, cap);
  while (slots[i].val != 0 && (slots[i].val == kTomb || slots[i].key != key)) {
    if (++i == cap) i = 0;
  }
  const std::uint32_t v = slots[i].val;
  if (v == 0) return false;
  if ((v & kMulti) != 0) {
    const std::uint32_t li = v & ~kMulti;
    const std::uint32_t* l = sh.lists->at[li].load(std::memory_order_relaxed);
    std::vector<std::uint32_t> rest;
    for (std::uint32_t k = 1; k <= l[0]; ++k) {
      if (l[k] != id) rest.push_back(l[k]);
    }
    if (rest.size() == l[0]) return false;
    if (rest.size() == 1) {
      store_val(slots[i], rest.front());
      drop_list(s, li);
    } else {
      set_list(s, li, rest.data(), rest.size());
    }
    --sh.entries;
    --entries_;
    return true;
  }
  if (v != id) return false;
  // A tombstone, not a backward shift: a reader probing this run meanwhile must still
  // reach the keys after it.
  store_val(slots[i], kTomb);
  --sh.used;
  ++sh.tombs;
  --sh.entries;
  --entries_;
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
  reclaim();
}

MemoryIndex::~MemoryIndex() {
  // No lookup runs any more.
  for (auto& r : grace_) r.free(r.p, r.n);
  for (auto& r : retiring_) r.free(r.p, r.n);
}

MemoryIndex::ReadSection::ReadSection(const MemoryIndex& ix) {
  // Registers in the counter of the epoch it saw, and re-reads the epoch: if the writer
  // moved on meanwhile, it may already have found that counter empty and freed what this
  // lookup could reach, so it registers again. Seq_cst: the writer's epoch change and its
  // reading of the counter are ordered with these two steps in one total order.
  for (;;) {
    const std::uint64_t e = ix.epoch_.load(std::memory_order_seq_cst);
    count_ = &ix.readers_[e & 1].n;
    count_->fetch_add(1, std::memory_order_seq_cst);
    if (ix.epoch_.load(std::memory_order_seq_cst) == e) return;
    count_->fetch_sub(1, std::memory_order_release);
  }
}

void MemoryIndex::reclaim() {
  retiring_bytes_ += exact_.take_retired(&retiring_);
  for (auto& t : fuzzy_) retiring_bytes_ += t.take_retired(&retiring_);
  const bool wait = retiring_bytes_ + grace_bytes_ > kMaxRetiredBytes;
  const std::uint64_t since = wait ? now_ns() : 0;
  for (;;) {
    if (!grace_.empty()) {
      // Lookups that registered before the epoch changed may still read the batch.
      if (readers_[grace_parity_].n.load(std::memory_order_seq_cst) != 0) {
        if (!wait) break;
        std::this_thread::yield();
        continue;
      }
      for (auto& r : grace_) r.free(r.p, r.n);
      grace_.clear();
      grace_bytes_ = 0;
    }
    if (retiring_.empty()) break;
    // Everything in retiring_ is unpublished: lookups that register from the new epoch on
    // cannot reach it, and the ones before it are counted in the old epoch's counter.
    grace_.swap(retiring_);
    grace_bytes_ = retiring_bytes_;
    retiring_bytes_ = 0;
    grace_parity_ = epoch_.load(std::memory_order_relaxed) & 1;
    epoch_.fetch_add(1, std::memory_order_seq_cst);
  }
  if (wait) note_wait(max_writer_wait_ns_, since);
  std::size_t n = exact_.entries(), bytes = exact_.memory_bytes() + grace_bytes_ + retiring_bytes_;
  for (const auto& t : fuzzy_) {
    n += t.entries();
    bytes += t.memory_bytes();
  }
  entries_.store(n, std::memory_order_relaxed);
  bytes_.store(bytes, std::memory_order_relaxed);
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
  // one pointer, and the old array is freed once no lookup can be reading it.
  const std::size_t old_cap = m.capacity(shard);
  auto slots = m.grown(shard, adds);
  m.install(shard, slots);
  reclaim();
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
  // New slot arrays are built while readers keep reading the old ones, then swapped in.
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
  for (auto& [shard, slots] : grown_exact) exact_.install(shard, slots);
  for (auto& [f, slots] : grown_fuzzy) fuzzy_[f / per].install(f % per, slots);
  gs_.growths += grown_exact.size() + grown_fuzzy.size();
  for (auto& [shard, slots] : grown_exact) grown_now_[shard] = 0;
  for (auto& [f, slots] : grown_fuzzy) grown_now_[ne + f] = 0;
  reclaim();
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
  // Each update is published by itself: no lookup waits for the rest of the step.
  for (const Change& c : changes) {
    c.add ? exact_.insert(c.exact, c.id) : (void)exact_.erase(c.exact, c.id);
    if (update_hook_ != nullptr) update_hook_(update_hook_arg_);
    if (!c.fuzzy) continue;
    for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
      auto& t = fuzzy_[static_cast<std::size_t>(p)];
      auto v = c.hashes[static_cast<std::size_t>(p)];
      c.add ? t.insert(v, c.id) : (void)t.erase(v, c.id);
    }
  }
  reclaim();
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
  ReadSection section(*this);
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

}  // namespace strop::storage
