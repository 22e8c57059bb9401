#include "lmdb.hpp"

#include <stdexcept>
#include <utility>

namespace strop::storage::lmdb {

Error to_error(int rc, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += mdb_strerror(rc);
  if (rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH) {
    msg += " (not an LMDB file, or written by an incompatible LMDB version)";
  } else if (rc == MDB_CORRUPTED || rc == MDB_PANIC) {
    msg += " (the store is damaged: restore from a backup)";
  }
  return make_error(Errc::kIo, std::move(msg));
}

// ---- Env

Env::~Env() {
  if (env_ != nullptr) mdb_env_close(env_);
}

Env& Env::operator=(Env&& o) noexcept {
  if (this != &o) {
    if (env_ != nullptr) mdb_env_close(env_);
    env_ = std::exchange(o.env_, nullptr);
  }
  return *this;
}

int Env::open(const std::string& dir, unsigned flags, unsigned max_dbs, unsigned max_readers,
              std::size_t map_bytes, Env* out) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != 0) return rc;
  Env e;
  e.env_ = env;
  if ((rc = mdb_env_set_maxdbs(env, max_dbs)) != 0) return rc;
  if ((rc = mdb_env_set_maxreaders(env, max_readers)) != 0) return rc;
  if ((rc = mdb_env_set_mapsize(env, map_bytes)) != 0) return rc;
  if ((rc = mdb_env_open(env, dir.c_str(), flags | MDB_NOTLS, 0600)) != 0) return rc;
  // mdb_env_open adopts the size recorded in the file when it is larger than ours.
  *out = std::move(e);
  return 0;
}

int Env::reader_check() {
  int dead = 0;
  if (mdb_reader_check(env_, &dead) != 0) return 0;
  return dead;
}

int Env::set_map_size(std::size_t bytes) { return mdb_env_set_mapsize(env_, bytes); }

std::size_t Env::map_size() const {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

std::size_t Env::page_size() const {
  MDB_stat st{};
  mdb_env_stat(env_, &st);
  return st.ms_psize;
}

std::size_t Env::used_bytes() const {
  MDB_envinfo info{};
  mdb_env_info(env_, &info);
  return (info.me_last_pgno + 1) * page_size();
}

int Env::copy_compact(const std::string& dest_dir) const {
  return mdb_env_copy2(env_, dest_dir.c_str(), MDB_CP_COMPACT);
}

// ---- Txn

Txn& Txn::operator=(Txn&& o) noexcept {
  if (this != &o) {
    abort();
    txn_ = std::exchange(o.txn_, nullptr);
    open_cursors_ = std::exchange(o.open_cursors_, 0);
  }
  return *this;
}

int Txn::begin(const Env& env, unsigned flags, Txn* out, MDB_txn* parent) {
  MDB_txn* t = nullptr;
  int rc = mdb_txn_begin(env.get(), parent, flags, &t);
  if (rc != 0) return rc;
  *out = adopt(t);
  return 0;
}

int Txn::commit() {
  if (open_cursors_ != 0) throw std::logic_error("lmdb::Txn::commit with open cursors");
  MDB_txn* t = std::exchange(txn_, nullptr);
  if (t == nullptr) return EINVAL;
  return mdb_txn_commit(t);  // frees t whatever the result
}

void Txn::abort() {
  if (txn_ == nullptr) return;
  if (open_cursors_ != 0) {
    // A bug in the caller; leaking beats a double free. Fail loudly in debug builds.
    throw std::logic_error("lmdb::Txn::abort with open cursors");
  }
  mdb_txn_abort(std::exchange(txn_, nullptr));
}

void Txn::reset() {
  if (open_cursors_ != 0) throw std::logic_error("lmdb::Txn::reset with open cursors");
  if (txn_ != nullptr) mdb_txn_reset(txn_);
}

int Txn::renew() { return mdb_txn_renew(txn_); }

int Txn::open_dbi(const char* name, unsigned flags, Dbi* out) {
  return mdb_dbi_open(txn_, name, flags, &out->id);
}

int Txn::get(Dbi dbi, std::string_view key, std::string_view* out) const {
  MDB_val k = to_val(key);
  MDB_val v{};
  int rc = mdb_get(txn_, dbi.id, &k, &v);
  if (rc == 0) *out = from_val(v);
  return rc;
}

int Txn::put(Dbi dbi, std::string_view key, std::string_view value, unsigned flags) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return mdb_put(txn_, dbi.id, &k, &v, flags);
}

int Txn::del(Dbi dbi, std::string_view key) {
  MDB_val k = to_val(key);
  return mdb_del(txn_, dbi.id, &k, nullptr);
}

int Txn::del(Dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return mdb_del(txn_, dbi.id, &k, &v);
}

int Txn::stat(Dbi dbi, MDB_stat* out) const { return mdb_stat(txn_, dbi.id, out); }

int Txn::drop(Dbi dbi) { return mdb_drop(txn_, dbi.id, 0); }

// ---- Cursor

Cursor& Cursor::operator=(Cursor&& o) noexcept {
  if (this != &o) {
    close();
    cur_ = std::exchange(o.cur_, nullptr);
    txn_ = std::exchange(o.txn_, nullptr);
  }
  return *this;
}

int Cursor::open(Txn& txn, Dbi dbi, Cursor* out) {
  MDB_cursor* c = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbi.id, &c);
  if (rc != 0) return rc;
  out->close();
  out->cur_ = c;
  out->txn_ = &txn;
  ++txn.open_cursors_;
  return 0;
}

void Cursor::close() {
  if (cur_ == nullptr) return;
  mdb_cursor_close(std::exchange(cur_, nullptr));
  if (txn_ != nullptr) --txn_->open_cursors_;
  txn_ = nullptr;
}

int Cursor::get(std::string_view* key, std::string_view* value, MDB_cursor_op op) {
  MDB_val k{};
  MDB_val v{};
  if (key != nullptr) k = to_val(*key);
  if (value != nullptr) v = to_val(*value);
  int rc = mdb_cursor_get(cur_, &k, &v, op);
  if (rc == 0) {
    if (key != nullptr) *key = from_val(k);
    if (value != nullptr) *value = from_val(v);
  }
  return rc;
}

int Cursor::seek(std::string_view key, std::string_view* key_out, std::string_view* value_out) {
  MDB_val k = to_val(key);
  MDB_val v{};
  int rc = mdb_cursor_get(cur_, &k, &v, MDB_SET_RANGE);
  if (rc == 0) {
    if (key_out != nullptr) *key_out = from_val(k);
    if (value_out != nullptr) *value_out = from_val(v);
  }
  return rc;
}

int Cursor::put(std::string_view key, std::string_view value, unsigned flags) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return mdb_cursor_put(cur_, &k, &v, flags);
}

int Cursor::del(unsigned flags) { return mdb_cursor_del(cur_, flags); }

}  // namespace strop::storage::lmdb
