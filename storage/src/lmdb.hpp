// lmdb.hpp: the project's small RAII wrapper over the LMDB C API (internal to storage).
//
// One move-only type per handle: Env (MDB_env), Txn (MDB_txn), Cursor (MDB_cursor); Dbi is a
// plain value (LMDB dbi handles are opened once and never closed). Functions return the
// LMDB return code (0 = MDB_SUCCESS) so callers can react to MDB_NOTFOUND, MDB_MAP_FULL,
// MDB_MAP_RESIZED and MDB_READERS_FULL; anything else is turned into an Error by to_error().
//
// Lifetime rules:
//  - A Txn aborts in its destructor. commit() moves the handle out before calling
//    mdb_txn_commit, because LMDB frees the transaction even when the commit fails.
//  - A Cursor must be destroyed before its Txn commits, aborts or resets; Txn counts its open
//    cursors and treats a commit/abort with open cursors as a bug (std::logic_error).
//  - Values returned by get()/Cursor point into the memory map: valid only until the txn
//    ends or the next write in it. LMDB only guarantees 2-byte alignment: decode with
//    memcpy / byte access, never a struct cast.
// Thread-safety: the environment is opened with MDB_NOTLS, so a read-only Txn may be used on
// any thread, but by one thread at a time; a write Txn must stay on the thread that began it.
#pragma once

#include <lmdb.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace strop::storage::lmdb {

// Maps a non-zero LMDB return code to an Error (kIo; MDB_INVALID/VERSION_MISMATCH explained).
Error to_error(int rc, std::string_view what);

inline MDB_val to_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view from_val(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

class Env {
 public:
  Env() = default;
  ~Env();
  Env(Env&& o) noexcept : env_(o.env_) { o.env_ = nullptr; }
  Env& operator=(Env&& o) noexcept;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // mdb_env_create + set_maxdbs/maxreaders/mapsize + mdb_env_open(dir, flags | MDB_NOTLS).
  // The map size is raised to the data file's current size when that is larger.
  [[nodiscard]] static int open(const std::string& dir, unsigned flags, unsigned max_dbs,
                                unsigned max_readers, std::size_t map_bytes, Env* out);

  MDB_env* get() const { return env_; }
  explicit operator bool() const { return env_ != nullptr; }

  // Clears reader slots of dead processes/threads; returns how many were cleared.
  int reader_check();
  // REQUIRES: no transaction of this process is active (the caller guarantees it).
  [[nodiscard]] int set_map_size(std::size_t bytes);
  std::size_t map_size() const;
  std::size_t page_size() const;
  std::size_t used_bytes() const;  // (last used page + 1) * page size
  [[nodiscard]] int copy_compact(const std::string& dest_dir) const;

 private:
  MDB_env* env_ = nullptr;
};

struct Dbi {
  MDB_dbi id = 0;
};

class Txn {
 public:
  Txn() = default;
  ~Txn() { abort(); }
  Txn(Txn&& o) noexcept : txn_(o.txn_), open_cursors_(o.open_cursors_) {
    o.txn_ = nullptr;
    o.open_cursors_ = 0;
  }
  Txn& operator=(Txn&& o) noexcept;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;

  [[nodiscard]] static int begin(const Env& env, unsigned flags, Txn* out,
                                 MDB_txn* parent = nullptr);

  // Moves the handle out, then commits. After the call the Txn is empty whatever the result.
  [[nodiscard]] int commit();
  void abort();
  // Read-only txns: release the snapshot but keep the handle (and reader slot) for renew().
  void reset();
  [[nodiscard]] int renew();

  MDB_txn* get() const { return txn_; }
  explicit operator bool() const { return txn_ != nullptr; }
  // Releases ownership (used by the read-txn pool).
  MDB_txn* release() {
    MDB_txn* t = txn_;
    txn_ = nullptr;
    return t;
  }
  static Txn adopt(MDB_txn* t) {
    Txn x;
    x.txn_ = t;
    return x;
  }

  // Opens (creating when flags has MDB_CREATE) a named database.
  [[nodiscard]] int open_dbi(const char* name, unsigned flags, Dbi* out);

  // get: 0, MDB_NOTFOUND or an error. *out points into the map (see lifetime rules).
  [[nodiscard]] int get(Dbi dbi, std::string_view key, std::string_view* out) const;
  [[nodiscard]] int put(Dbi dbi, std::string_view key, std::string_view value, unsigned flags = 0);
  // del: 0, MDB_NOTFOUND or an error. With a value: deletes that duplicate only (DUPSORT).
  [[nodiscard]] int del(Dbi dbi, std::string_view key);
  [[nodiscard]] int del(Dbi dbi, std::string_view key, std::string_view value);
  [[nodiscard]] int stat(Dbi dbi, MDB_stat* out) const;
  [[nodiscard]] int drop(Dbi dbi);  // empties the database

 private:
  friend class Cursor;
  MDB_txn* txn_ = nullptr;
  int open_cursors_ = 0;
};

class Cursor {
 public:
  Cursor() = default;
  ~Cursor() { close(); }
  Cursor(Cursor&& o) noexcept : cur_(o.cur_), txn_(o.txn_) {
    o.cur_ = nullptr;
    o.txn_ = nullptr;
  }
  Cursor& operator=(Cursor&& o) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  [[nodiscard]] static int open(Txn& txn, Dbi dbi, Cursor* out);
  void close();

  // mdb_cursor_get with op; key/value in and out. 0, MDB_NOTFOUND or an error.
  [[nodiscard]] int get(std::string_view* key, std::string_view* value, MDB_cursor_op op);
  // Positions at the first key >= key.
  [[nodiscard]] int seek(std::string_view key, std::string_view* key_out,
                         std::string_view* value_out);
  [[nodiscard]] int put(std::string_view key, std::string_view value, unsigned flags = 0);
  [[nodiscard]] int del(unsigned flags = 0);  // deletes the current item

  MDB_cursor* get() const { return cur_; }

 private:
  MDB_cursor* cur_ = nullptr;
  Txn* txn_ = nullptr;
};

}  // namespace strop::storage::lmdb
