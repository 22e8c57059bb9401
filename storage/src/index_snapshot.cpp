#include "index_snapshot.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <type_traits>
#include <vector>

namespace strop::storage {

namespace {

constexpr char kMagic[8] = {'S', 'T', 'R', 'O', 'P', 'I', 'X', '1'};
constexpr std::uint32_t kByteOrder = 0x01020304u;
constexpr std::uint64_t kHeaderBytes = 4096;
constexpr std::uint64_t kMaxSlots = std::uint64_t{1} << 32;  // home() scales 32 bits

// The file's first page (docs/storage-format.md, "Index snapshot"); host byte order, which
// byte_order pins.
struct Header {
  char magic[8];
  std::uint32_t version;
  std::uint32_t byte_order;
  std::uint32_t exact_shard_bits;
  std::uint32_t fuzzy_shard_bits;
  std::uint32_t fuzzy_positions;
  std::uint32_t exact_slot_bytes;
  std::uint32_t fuzzy_slot_bytes;
  std::uint32_t reserved;
  std::uint64_t txnid;
  std::uint64_t created;
  std::uint64_t next_sig_id;
  std::uint64_t seeds[1 + sigs::kFuzzyHashes];  // the exact table's, then each position's
  std::uint64_t shards;                         // over all tables
  std::uint64_t dir_offset;
  std::uint64_t dir_bytes;
  std::uint64_t lists_offset;
  std::uint64_t lists_bytes;
  std::uint64_t file_bytes;
  std::uint64_t checksum;  // XXH3-64 of this header (checksum 0), the directory and the lists
};
static_assert(sizeof(Header) <= kHeaderBytes);
static_assert(std::is_trivially_copyable_v<Header>);

// One shard, in table order: the exact table's shards, then each fuzzy position's.
struct DirEntry {
  std::uint64_t offset;      // of its slot array (kSnapshotAlign-aligned)
  std::uint64_t cap;         // slots
  std::uint64_t used;        // slots holding a key
  std::uint64_t tombs;       // slots of erased keys (tombstones)
  std::uint64_t entries;     // (key, id) pairs
  std::uint64_t lists;       // side lists (multi-id keys), in the lists area
  std::uint64_t free_lists;  // indexes of emptied side lists, after them
};
static_assert(sizeof(DirEntry) == 56);

std::uint64_t align_up(std::uint64_t n) {
  return (n + kSnapshotAlign - 1) / kSnapshotAlign * kSnapshotAlign;
}

Error sys_error(const std::string& what, const std::string& path) {
  return make_error(Errc::kIo, what + " " + path + ": " + std::strerror(errno));
}

Error damaged(const std::string& path, const std::string& why) {
  return make_error(Errc::kMalformed, "index snapshot " + path + " is damaged: " + why);
}

bool pwrite_all(int fd, const void* p, std::uint64_t n, std::uint64_t off) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t w = ::pwrite(fd, c, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    n -= static_cast<std::uint64_t>(w);
    off += static_cast<std::uint64_t>(w);
  }
  return true;
}

bool pread_all(int fd, void* p, std::uint64_t n, std::uint64_t off) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::pread(fd, c, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r;
    n -= static_cast<std::uint64_t>(r);
    off += static_cast<std::uint64_t>(r);
  }
  return true;
}

void put_u32(std::string* out, std::uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

int shard_bits(std::size_t shards) { return std::countr_zero(shards); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

// Friend of IdMultiMap and MemoryIndex: the only code that sees their shards' layout.
struct IndexSnapshotIo {
  template <class F>
  static void each_table(const MemoryIndex& ix, F&& f) {
    f(ix.exact_);
    for (const auto& t : ix.fuzzy_) f(t);
  }

  static Result<IndexSnapshotStats> write(const MemoryIndex& ix, const IndexStamp& stamp,
                                          const std::string& path) {
    Header h{};
    std::memcpy(h.magic, kMagic, sizeof kMagic);
    h.version = kIndexSnapshotVersion;
    h.byte_order = kByteOrder;
    h.exact_shard_bits = static_cast<std::uint32_t>(shard_bits(ix.exact_.shards()));
    h.fuzzy_shard_bits = static_cast<std::uint32_t>(shard_bits(ix.fuzzy_.front().shards()));
    h.fuzzy_positions = static_cast<std::uint32_t>(ix.fuzzy_.size());
    h.exact_slot_bytes = sizeof(IdMultiMap<std::uint64_t>::Slot);
    h.fuzzy_slot_bytes = sizeof(IdMultiMap<std::uint32_t>::Slot);
    h.txnid = stamp.txnid;
    h.created = stamp.created;
    h.next_sig_id = stamp.next_sig_id;
    h.seeds[0] = ix.exact_.seed_;
    for (std::size_t p = 0; p < ix.fuzzy_.size(); ++p) h.seeds[1 + p] = ix.fuzzy_[p].seed_;

    // Layout: header page, directory, slot arrays (each aligned), lists area.
    std::vector<DirEntry> dir;
    std::string lists;
    std::uint64_t keys = 0;
    each_table(ix, [&](const auto& m) {
      for (std::size_t s = 0; s < m.shards(); ++s) {
        const auto& sh = m.shards_[s];
        dir.push_back(
            DirEntry{0, sh.slots.size(), sh.used, sh.tombs, sh.entries, sh.list_count, 0});
        keys += sh.used;
        // Free indexes: every emptied list, also those still waiting for a grace period.
        std::vector<std::uint32_t> free;
        for (std::uint32_t i = 0; i < sh.list_count; ++i) {
          const std::uint32_t* l = sh.lists->at[i].load(std::memory_order_relaxed);
          if (std::find(sh.dropping.begin(), sh.dropping.end(), i) != sh.dropping.end()) {
            l = nullptr;
          }
          put_u32(&lists, l == nullptr ? 0 : l[0]);
          if (l == nullptr) {
            free.push_back(i);
          } else {
            lists.append(reinterpret_cast<const char*>(l + 1), l[0] * sizeof(std::uint32_t));
          }
        }
        dir.back().free_lists = free.size();
        lists.append(reinterpret_cast<const char*>(free.data()),
                     free.size() * sizeof(std::uint32_t));
      }
    });
    h.shards = dir.size();
    h.dir_offset = kHeaderBytes;
    h.dir_bytes = dir.size() * sizeof(DirEntry);
    std::uint64_t off = align_up(h.dir_offset + h.dir_bytes);
    {
      std::size_t g = 0;
      each_table(ix, [&](const auto& m) {
        using Slot = typename std::remove_cvref_t<decltype(m)>::Slot;
        for (std::size_t s = 0; s < m.shards(); ++s, ++g) {
          dir[g].offset = off;
          off += align_up(dir[g].cap * sizeof(Slot));
        }
      });
    }
    h.lists_offset = off;
    h.lists_bytes = lists.size();
    h.file_bytes = h.lists_offset + h.lists_bytes;
    h.checksum = 0;
    XXH3_state_t* st = XXH3_createState();
    if (st == nullptr) throw std::bad_alloc();
    XXH3_64bits_reset(st);
    XXH3_64bits_update(st, &h, sizeof h);
    XXH3_64bits_update(st, dir.data(), h.dir_bytes);
    XXH3_64bits_update(st, lists.data(), lists.size());
    h.checksum = XXH3_64bits_digest(st);
    XXH3_freeState(st);

    const std::string tmp = path + ".tmp";
    Fd f;
    f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (f.fd < 0) return sys_error("cannot create", tmp);
    auto fail = [&](const char* what) {
      Error e = sys_error(what, tmp);
      ::unlink(tmp.c_str());
      return e;
    };
    if (::ftruncate(f.fd, static_cast<off_t>(h.file_bytes)) != 0) return fail("cannot size");
    std::vector<char> page(kHeaderBytes, 0);
    std::memcpy(page.data(), &h, sizeof h);
    if (!pwrite_all(f.fd, page.data(), page.size(), 0) ||
        !pwrite_all(f.fd, dir.data(), h.dir_bytes, h.dir_offset)) {
      return fail("cannot write");
    }
    bool ok = true;
    std::size_t g = 0;
    each_table(ix, [&](const auto& m) {
      using Slot = typename std::remove_cvref_t<decltype(m)>::Slot;
      for (std::size_t s = 0; s < m.shards() && ok; ++s, ++g) {
        ok = pwrite_all(f.fd, m.shards_[s].slots.data(), dir[g].cap * sizeof(Slot), dir[g].offset);
      }
    });
    if (!ok || !pwrite_all(f.fd, lists.data(), lists.size(), h.lists_offset)) {
      return fail("cannot write");
    }
    // Durable before it replaces anything: a renamed file whose pages were lost in a crash
    // would be a silently incomplete index.
    if (::fsync(f.fd) != 0) return fail("cannot fsync");
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot rename");
    const std::string dir_path = std::filesystem::path(path).parent_path().string();
    Fd d;
    d.fd = ::open(dir_path.empty() ? "." : dir_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d.fd >= 0) ::fsync(d.fd);
    return IndexSnapshotStats{h.file_bytes, keys};
  }

  static Result<std::unique_ptr<MemoryIndex>> load(const std::string& path,
                                                   const IndexStamp& stamp) {
    Fd f;
    f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
      if (errno == ENOENT) return make_error(Errc::kNotFound, "no index snapshot " + path);
      return sys_error("cannot open", path);
    }
    struct stat sb {};
    if (::fstat(f.fd, &sb) != 0) return sys_error("cannot stat", path);
    const auto size = static_cast<std::uint64_t>(sb.st_size);
    Header h{};
    if (size < kHeaderBytes || !pread_all(f.fd, &h, sizeof h, 0)) {
      return damaged(path, "shorter than its header");
    }
    if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.byte_order != kByteOrder) {
      return damaged(path, "not an index snapshot of this byte order");
    }
    if (h.version != kIndexSnapshotVersion) {
      return make_error(Errc::kInvalidArgument, "index snapshot " + path + " has format version " +
                                                    std::to_string(h.version) + ", not " +
                                                    std::to_string(kIndexSnapshotVersion));
    }
    const IndexStamp found{h.txnid, h.created, h.next_sig_id};
    if (!(found == stamp)) {
      return make_error(Errc::kInvalidArgument,
                        "index snapshot " + path + " reflects LMDB transaction " +
                            std::to_string(h.txnid) + " of store " + std::to_string(h.created) +
                            ", the store is at " + std::to_string(stamp.txnid) + " of " +
                            std::to_string(stamp.created));
    }
    const std::uint64_t eb = h.exact_shard_bits, fb = h.fuzzy_shard_bits;
    if (eb > kMaxSnapshotShardBits || fb > kMaxSnapshotShardBits ||
        h.fuzzy_positions != static_cast<std::uint32_t>(sigs::kFuzzyHashes) ||
        h.exact_slot_bytes != sizeof(IdMultiMap<std::uint64_t>::Slot) ||
        h.fuzzy_slot_bytes != sizeof(IdMultiMap<std::uint32_t>::Slot)) {
      return damaged(path, "table geometry outside this build's");
    }
    const std::uint64_t shards =
        (std::uint64_t{1} << eb) + h.fuzzy_positions * (std::uint64_t{1} << fb);
    if (h.shards != shards || h.dir_offset != kHeaderBytes ||
        h.dir_bytes != shards * sizeof(DirEntry) || h.file_bytes != size ||
        h.lists_offset % kSnapshotAlign != 0 || h.lists_offset > size ||
        h.lists_bytes != size - h.lists_offset ||
        h.lists_offset < align_up(h.dir_offset + h.dir_bytes)) {
      return damaged(path, "layout does not add up (truncated?)");
    }
    std::vector<DirEntry> dir(shards);
    std::vector<char> lists(h.lists_bytes);
    if (!pread_all(f.fd, dir.data(), h.dir_bytes, h.dir_offset) ||
        !pread_all(f.fd, lists.data(), lists.size(), h.lists_offset)) {
      return sys_error("cannot read", path);
    }
    {
      Header z = h;
      z.checksum = 0;
      XXH3_state_t* st = XXH3_createState();
      if (st == nullptr) throw std::bad_alloc();
      XXH3_64bits_reset(st);
      XXH3_64bits_update(st, &z, sizeof z);
      XXH3_64bits_update(st, dir.data(), h.dir_bytes);
      XXH3_64bits_update(st, lists.data(), lists.size());
      const bool match = XXH3_64bits_digest(st) == h.checksum;
      XXH3_freeState(st);
      if (!match) return damaged(path, "checksum mismatch");
    }

    // One anonymous region with transparent huge pages, read from the file: a file mapping
    // would start faster but has only 4 KiB pages, and the page walks of random probes cost
    // a check up to twice the CPU (docs/performance.md, "Index snapshot").
    void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) return sys_error("cannot allocate memory for", path);
    std::shared_ptr<void> region(map, [size](void* p) { ::munmap(p, size); });
    ::madvise(map, size, MADV_HUGEPAGE);
    // Read once, front to back; each chunk's page-cache copy is dropped once read, so that
    // the load does not hold the index twice (at 100M, 7 GB of file pages would crowd out
    // the huge pages being filled and LMDB's pages; measured: 16-18 s to start with the
    // file's pages cached and memory full, 3.8 s from a cold cache).
    (void)::posix_fadvise(f.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    constexpr std::uint64_t kChunk = std::uint64_t{64} << 20;
    for (std::uint64_t off = 0; off < size; off += kChunk) {
      const std::uint64_t n = std::min(kChunk, size - off);
      if (!pread_all(f.fd, static_cast<char*>(map) + off, n, off)) {
        return sys_error("cannot read", path);
      }
      (void)::posix_fadvise(f.fd, static_cast<off_t>(off), static_cast<off_t>(n),
                            POSIX_FADV_DONTNEED);
    }
    auto ix = std::make_unique<MemoryIndex>(static_cast<int>(eb), static_cast<int>(fb),
                                            /*seed=*/1);
    ix->snapshot_map_ = std::move(region);
    char* base = static_cast<char*>(map);

    std::uint64_t expect = align_up(h.dir_offset + h.dir_bytes);
    std::size_t lpos = 0;
    auto take_u32 = [&](std::uint32_t* v) {
      if (lists.size() - lpos < sizeof *v) return false;
      std::memcpy(v, lists.data() + lpos, sizeof *v);
      lpos += sizeof *v;
      return true;
    };
    std::size_t g = 0;
    std::string why;
    auto fill = [&](auto& m, std::uint64_t seed) {
      using Map = std::remove_cvref_t<decltype(m)>;
      using Slot = typename Map::Slot;
      m.seed_ = seed;
      for (std::size_t s = 0; s < m.shards() && why.empty(); ++s, ++g) {
        const DirEntry& e = dir[g];
        if (e.offset != expect || e.cap < Map::kMinSlots || e.cap > kMaxSlots || e.used >= e.cap ||
            e.tombs >= e.cap - e.used || e.entries < e.used ||
            e.offset + e.cap * sizeof(Slot) > h.lists_offset ||
            e.lists > (lists.size() - lpos) / sizeof(std::uint32_t) || e.free_lists > e.lists) {
          why = "shard " + std::to_string(g) + " out of bounds";
          return;
        }
        expect += align_up(e.cap * sizeof(Slot));
        auto& sh = m.shards_[s];
        // No reader sees this index yet: what the defaults held is replaced in place.
        m.bytes_ -= sh.slots.size() * sizeof(Slot);
        sh.slots = Map::Slots::borrow(reinterpret_cast<Slot*>(base + e.offset), e.cap);
        m.bytes_ += e.cap * sizeof(Slot);
        sh.used = e.used;
        sh.tombs = e.tombs;
        sh.entries = e.entries;
        m.entries_ += e.entries;
        if (e.lists > (Map::kTomb & ~Map::kMulti)) {
          why = "too many side lists";
          return;
        }
        auto* t = new typename Map::ListTable;
        t->cap = e.lists;
        t->at = std::make_unique<std::atomic<const std::uint32_t*>[]>(e.lists);
        delete std::exchange(sh.lists, t);
        m.tables_[s].store(t, std::memory_order_release);
        sh.list_count = static_cast<std::uint32_t>(e.lists);
        m.bytes_ += e.lists * sizeof(void*);
        m.publish(s);
        for (std::uint32_t i = 0; i < sh.list_count; ++i) {
          std::uint32_t n = 0;
          if (!take_u32(&n) || (lists.size() - lpos) / sizeof(std::uint32_t) < n) {
            why = "side lists truncated";
            return;
          }
          if (n > 0) {
            std::vector<std::uint32_t> ids(n);
            std::memcpy(ids.data(), lists.data() + lpos, n * sizeof(std::uint32_t));
            t->at[i].store(Map::new_list(ids.data(), n), std::memory_order_relaxed);
            m.bytes_ += (n + 1) * sizeof(std::uint32_t);
          }
          lpos += n * sizeof(std::uint32_t);
        }
        sh.free_lists.resize(e.free_lists);
        for (auto& fl : sh.free_lists) {
          if (!take_u32(&fl) || fl >= e.lists ||
              t->at[fl].load(std::memory_order_relaxed) != nullptr) {
            why = "free list out of bounds";
            return;
          }
        }
      }
    };
    fill(ix->exact_, h.seeds[0]);
    for (std::size_t p = 0; p < ix->fuzzy_.size() && why.empty(); ++p) {
      fill(ix->fuzzy_[p], h.seeds[1 + p]);
    }
    if (why.empty() && (expect != h.lists_offset || lpos != lists.size())) {
      why = "layout does not add up";
    }
    if (!why.empty()) return damaged(path, why);
    // Shards already due for growth wait for background growth, as in a built index.
    for (std::size_t i = 0; i < ix->global_shard_count(); ++i) {
      if (ix->need(i, 0) != IdMultiMap<std::uint64_t>::Need::kNone) {
        ix->is_pending_[i] = 1;
        ix->pending_.push_back(static_cast<std::uint32_t>(i));
      }
    }
    ix->reclaim();  // frees the default shards' views at once (no reader yet), sets the counts
    return ix;
  }
};

Result<IndexSnapshotStats> write_index_snapshot(const MemoryIndex& index, const IndexStamp& stamp,
                                                const std::string& path) {
  return IndexSnapshotIo::write(index, stamp, path);
}

Result<std::unique_ptr<MemoryIndex>> load_index_snapshot(const std::string& path,
                                                         const IndexStamp& stamp) {
  return IndexSnapshotIo::load(path, stamp);
}

}  // namespace strop::storage
