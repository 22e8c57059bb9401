// index_snapshot.hpp: the in-memory index saved at a clean close and loaded at the next open
// (internal to storage; format in docs/storage-format.md, "Index snapshot").
//
// A serving store rebuilds its MemoryIndex from LMDB at open, which takes minutes at 100M
// signatures. Instead, when it closes cleanly it writes the index's shards to
// <dir>/index.snap (0600, written to a temporary file, fsynced, renamed), stamped with the
// LMDB transaction id the index reflects and the store's identity. At the next open, when
// the stamp still matches (no transaction committed since, by anyone, and the same store),
// the file is read, at disk or page-cache speed, into one anonymous region (transparent huge
// pages) and every shard's slot array is borrowed from it: no hashing, no inserts. A shard
// that grows later moves to memory of its own and its pages in the region are released. Any
// mismatch, damage or other format is reported as an error and the caller rebuilds; a crash
// leaves a stale stamp (LMDB moved on), so it costs a rebuild, never a wrong index.
//
// Thread-safety: write_index_snapshot() reads the writer's side of the index: call it when
// no writer runs (readers may). load_index_snapshot() returns an index no one else sees yet.
// Lifetime: a loaded index owns its region and unmaps it when destroyed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "memory_index.hpp"

namespace strop::storage {

// What an index snapshot must match to be used: the LMDB transaction it reflects and the
// identity of the store (its creation time and next signature id from the meta table).
struct IndexStamp {
  std::uint64_t txnid = 0;
  std::uint64_t created = 0;
  std::uint64_t next_sig_id = 0;
  friend bool operator==(const IndexStamp&, const IndexStamp&) = default;
};

// Format limits (a snapshot outside them is refused and the index rebuilt).
inline constexpr std::uint32_t kIndexSnapshotVersion = 2;
inline constexpr int kMaxSnapshotShardBits = 16;
inline constexpr std::uint64_t kSnapshotAlign = 4096;  // slot arrays start on this boundary

struct IndexSnapshotStats {
  std::uint64_t bytes = 0;  // file size
  std::uint64_t keys = 0;   // distinct keys over all tables
};

// Writes `index` to `path` (via path + ".tmp", fsync, rename, fsync of the directory).
// Errors: kIo.
Result<IndexSnapshotStats> write_index_snapshot(const MemoryIndex& index, const IndexStamp& stamp,
                                                const std::string& path);

// Loads the snapshot at `path` when its stamp equals `stamp`. Errors: kNotFound (no file),
// kInvalidArgument (a stamp from another state of the store, or another format version),
// kMalformed (damaged: a limit, the layout or the checksum), kIo.
Result<std::unique_ptr<MemoryIndex>> load_index_snapshot(const std::string& path,
                                                         const IndexStamp& stamp);

}  // namespace strop::storage
