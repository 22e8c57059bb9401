#include "memory_index.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <new>
#include <random>
#include <thread>

namespace strop::storage {

// ---- HugeArray

void* huge_alloc(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  if (bytes >= (std::size_t{2} << 20)) madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

void huge_free(void* p, std::size_t bytes) { munmap(p, bytes); }

// ---- RwSpinLock

void RwSpinLock::lock_shared() {
  for (;;) {
    std::uint32_t s = state_.fetch_add(1, std::memory_order_acquire);
    if ((s & kWriter) == 0) return;
    state_.fetch_sub(1, std::memory_order_relaxed);
    while ((state_.load(std::memory_order_relaxed) & kWriter) != 0) std::this_thread::yield();
  }
}

void RwSpinLock::lock() {
  // Claim the writer bit (one writer at a time), then wait for readers to leave.
  while ((state_.fetch_or(kWriter, std::memory_order_acquire) & kWriter) != 0) {
    std::this_thread::yield();
  }
  while ((state_.load(std::memory_order_acquire) & ~kWriter) != 0) std::this_thread::yield();
}

// ---- IdMultiMap

template <class Key>
IdMultiMap<Key>::IdMultiMap(std::uint64_t seed, std::size_t capacity)
    : seed_(seed), slots_(std::bit_ceil(std::max<std::size_t>(capacity, 16))) {
  mask_ = slots_.size() - 1;
}

template <class Key>
void IdMultiMap<Key>::place(Key key, std::uint32_t val) {
  std::size_t i = slot_of(key);
  while (slots_[i].val != 0) i = (i + 1) & mask_;
  slots_[i].key = key;
  slots_[i].val = val;
}

template <class Key>
IdMultiMap<Key> IdMultiMap<Key>::grown(std::size_t extra) const {
  std::size_t want = (used_ + extra) * 3 / 2 + 16;  // load factor <= 2/3 after the adds
  IdMultiMap out(seed_, std::max(want, slots_.size()));
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].val != 0) out.place(slots_[i].key, slots_[i].val);
  }
  out.lists_ = lists_;
  out.free_lists_ = free_lists_;
  out.used_ = used_;
  out.entries_ = entries_;
  return out;
}

template <class Key>
std::size_t IdMultiMap<Key>::memory_bytes() const {
  std::size_t n = slots_.size() * sizeof(Slot);
  for (const auto& l : lists_) {
    // sizeof(l): the vector object itself, besides its heap block.
    // NOLINTNEXTLINE(bugprone-sizeof-container)
    n += l.capacity() * sizeof(std::uint32_t) + sizeof(l);
  }
  return n;
}

template <class Key>
void IdMultiMap<Key>::insert(Key key, std::uint32_t id) {
  if (needs_grow(1)) *this = grown(used_ + 1);
  std::size_t i = slot_of(key);
  while (slots_[i].val != 0) {
    if (slots_[i].key == key) {
      std::uint32_t v = slots_[i].val;
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
        slots_[i].val = li | kMulti;
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
  slots_[i].key = key;
  slots_[i].val = id;
  ++used_;
  ++entries_;
}

template <class Key>
bool IdMultiMap<Key>::erase(Key key, std::uint32_t id) {
  std::size_t i = slot_of(key);
  while (slots_[i].val != 0 && slots_[i].key != key) i = (i + 1) & mask_;
  if (slots_[i].val == 0) return false;
  std::uint32_t v = slots_[i].val;
  if ((v & kMulti) != 0) {
    std::uint32_t li = v & ~kMulti;
    auto& l = lists_[li];
    auto it = std::find(l.begin(), l.end(), id);
    if (it == l.end()) return false;
    l.erase(it);
    --entries_;
    if (l.size() == 1) {
      slots_[i].val = l.front();
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
    if (slots_[j].val == 0) break;
    std::size_t home = slot_of(slots_[j].key);
    // Move j into the hole when its home is not in the cyclic range (hole, j].
    bool in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!in_range) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
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

MemoryIndex::MemoryIndex() : exact_(random_seed()) {
  fuzzy_.reserve(sigs::kFuzzyHashes);
  for (int p = 0; p < sigs::kFuzzyHashes; ++p) fuzzy_.emplace_back(random_seed());
}

void MemoryIndex::grow_for(std::size_t exact_adds, std::size_t fuzzy_adds) {
  // Only the writer mutates, so it may copy a table while readers still read it; the
  // swap is the only step under the exclusive lock, and the old table is freed after it.
  if (exact_adds > 0 && exact_.needs_grow(exact_adds)) {
    auto g = exact_.grown(std::max(exact_adds, exact_.keys()));
    {
      ExclusiveGuard lk(mu_);
      std::swap(exact_, g);
    }
  }
  if (fuzzy_adds > 0) {
    for (auto& t : fuzzy_) {
      if (!t.needs_grow(fuzzy_adds)) continue;
      auto g = t.grown(std::max(fuzzy_adds, t.keys()));
      ExclusiveGuard lk(mu_);
      std::swap(t, g);
    }
  }
}

void MemoryIndex::reserve(std::size_t exact, std::size_t fuzzy) { grow_for(exact, fuzzy); }

void MemoryIndex::apply(std::span<const Change> changes) {
  std::size_t exact_adds = 0, fuzzy_adds = 0;
  for (const Change& c : changes) {
    if (!c.add) continue;
    ++exact_adds;
    if (c.fuzzy) ++fuzzy_adds;
  }
  grow_for(exact_adds, fuzzy_adds);
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
  SharedGuard lk(mu_);
  // Issue every probe's first cache line before touching any: the probes then overlap
  // their memory latency instead of paying it one after another.
  for (auto k : exact) exact_.prefetch(k);
  for (const auto* h : fuzzy) {
    for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
      fuzzy_[static_cast<std::size_t>(p)].prefetch((*h)[static_cast<std::size_t>(p)]);
    }
  }
  for (std::size_t q = 0; q < exact.size(); ++q) {
    exact_.for_each(exact[q], [&](std::uint32_t id) { out_exact->push_back({q, id}); });
  }
  for (std::size_t q = 0; q < fuzzy.size(); ++q) {
    ids.clear();
    for (int p = 0; p < sigs::kFuzzyHashes; ++p) {
      fuzzy_[static_cast<std::size_t>(p)].for_each((*fuzzy[q])[static_cast<std::size_t>(p)],
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
