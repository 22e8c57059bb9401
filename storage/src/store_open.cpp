// store_open.cpp: opening and closing a store (see store_impl.hpp).

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <system_error>

#include "store_impl.hpp"
#include "store_util.hpp"

namespace strop::storage {

namespace fs = std::filesystem;

namespace {

constexpr unsigned kMaxDbs = 16;

// LMDB forbids opening one environment twice in a process (closing either would drop the
// other's locks): the directories open in this process, by device and inode.
Mutex g_open_mu;
// (A child created by fork() inherits the set: entries of another pid do not count.)
std::map<std::pair<std::uintmax_t, std::uintmax_t>, pid_t> g_open_dirs GUARDED_BY(g_open_mu);

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const StoreOptions& options) {
  auto impl = std::make_unique<StoreImpl>(options);
  auto r = impl->init();
  if (!r) return r.error();
  return std::unique_ptr<Store>(std::move(impl));
}

std::future<Result<VoteOutcome>> Store::report(ReporterId reporter,
                                               std::vector<sigs::Signature> sigs) {
  auto p = std::make_shared<std::promise<Result<VoteOutcome>>>();
  auto f = p->get_future();
  report(reporter, std::move(sigs), now(),
         [p](Result<VoteOutcome> r) { p->set_value(std::move(r)); });
  return f;
}

std::future<Result<VoteOutcome>> Store::revoke(ReporterId reporter,
                                               std::vector<sigs::Signature> sigs) {
  auto p = std::make_shared<std::promise<Result<VoteOutcome>>>();
  auto f = p->get_future();
  revoke(reporter, std::move(sigs), now(),
         [p](Result<VoteOutcome> r) { p->set_value(std::move(r)); });
  return f;
}

// ---------------------------------------------------------------------------------------
// Open / close

StoreImpl::StoreImpl(StoreOptions options) : opt_(std::move(options)) {}

StoreImpl::~StoreImpl() {
  {
    MutexLock lk(&q_mu_);
    stopping_ = true;
  }
  q_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  save_index_snapshot();
  {
    MutexLock g(&pool_mu_);
    for (MDB_txn* t : pool_) mdb_txn_abort(t);
    pool_.clear();
  }
  env_ = lmdb::Env{};  // close before another open of the same directory may start
  if (serve_lock_fd_ >= 0) ::close(serve_lock_fd_);  // releases the flock
  if (registered_) {
    MutexLock g(&g_open_mu);
    if (auto it = g_open_dirs.find(dir_id_); it != g_open_dirs.end() && it->second == ::getpid()) {
      g_open_dirs.erase(it);
    }
  }
}

TimePoint StoreImpl::now() const {
  if (opt_.clock) return opt_.clock();
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

Result<void> StoreImpl::init() {
  if (opt_.dir.empty()) return make_error(Errc::kInvalidArgument, "store directory not set");
  if (opt_.max_batch_ops == 0 || opt_.sweep_batch == 0 || opt_.max_readers == 0 ||
      opt_.max_queue_ops == 0) {
    return make_error(Errc::kInvalidArgument, "store limits must be positive");
  }
  if (opt_.initial_map_bytes < kMapRounding) opt_.initial_map_bytes = kMapRounding;
  if (opt_.max_map_bytes < opt_.initial_map_bytes) opt_.max_map_bytes = opt_.initial_map_bytes;
  if (opt_.map_growth_step_bytes < kMapRounding) opt_.map_growth_step_bytes = kMapRounding;

  std::error_code ec;
  if (!opt_.create && !fs::exists(fs::path(opt_.dir) / "data.mdb", ec)) {
    return make_error(Errc::kNotFound, "no store in " + opt_.dir + " (no data.mdb)");
  }
  bool created = fs::create_directories(opt_.dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + opt_.dir + ": " + ec.message());
  if (created) fs::permissions(opt_.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  struct stat st {};
  if (::stat(opt_.dir.c_str(), &st) != 0) return make_error(Errc::kIo, "cannot stat " + opt_.dir);
  dir_id_ = {static_cast<std::uintmax_t>(st.st_dev), static_cast<std::uintmax_t>(st.st_ino)};
  {
    MutexLock g(&g_open_mu);
    auto [it, fresh] = g_open_dirs.try_emplace(dir_id_, ::getpid());
    if (!fresh && it->second == ::getpid()) {
      return make_error(Errc::kExists,
                        "the store in " + opt_.dir + " is already open in this process");
    }
    it->second = ::getpid();
    registered_ = true;
  }

  int rc = lmdb::Env::open(opt_.dir, MDB_NORDAHEAD, kMaxDbs, opt_.max_readers,
                           opt_.initial_map_bytes, &env_);
  if (rc != 0) return lmdb::to_error(rc, "open LMDB environment in " + opt_.dir);
  if (int dead = env_.reader_check(); dead > 0) {
    log()->info("storage: cleared {} stale LMDB reader slot(s)", dead);
  }

  if (auto r = open_databases(); !r) return r;
  if (auto rt = begin_read()) {  // fleet mode: where this store's log position stands
    std::string_view v;
    if (rt->txn().get(dbi_.meta, codec::kMetaAppliedSeq, &v) == 0) {
      if (auto a = codec::decode_u64(v)) applied_seq_ = *a;
    }
  }

  if (opt_.serve) {
    {
      MutexLock g(&serve_lock_mu_);  // (no other thread yet: for the analysis)
      if (auto r = take_serve_lock(); !r) return r;
    }
    auto rt = begin_read();
    if (!rt) return rt.error();
    if (rc = open_index(rt->txn()); rc != 0) return lmdb::to_error(rc, "build the index");
    refresh_weights(rt->txn());
  }

  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "strop-writer");  // visible in top -H, perf, gdb
    if (opt_.writer_idle_priority) {
      // Lowering a thread's own policy needs no privilege (sched(7)).
      sched_param param{};
      if (int e = pthread_setschedparam(pthread_self(), SCHED_IDLE, &param); e != 0) {
        log()->warn("storage: the writer keeps its CPU priority (SCHED_IDLE: {})",
                    std::system_category().message(e));
      }
    }
    writer_loop();
  });
  return {};
}

Result<void> StoreImpl::open_databases() {
  for (int attempt = 0;; ++attempt) {
    lmdb::Txn txn;
    int rc = lmdb::Txn::begin(env_, 0, &txn);
    if (rc == MDB_MAP_RESIZED && attempt < 3) {
      mdb_env_set_mapsize(env_.get(), 0);
      continue;
    }
    if (rc != 0) return lmdb::to_error(rc, "begin transaction");
    struct {
      const char* name;
      unsigned flags;
      lmdb::Dbi* dbi;
    } dbs[] = {{"meta", 0, &dbi_.meta},
               {"sigs", 0, &dbi_.sigs},
               {"votes", 0, &dbi_.votes},
               {"activity", 0, &dbi_.activity},
               {"reporters", 0, &dbi_.reporters},
               {"reporter_names", 0, &dbi_.reporter_names},
               {"replay", 0, &dbi_.replay},
               {"replay_expiry", 0, &dbi_.replay_expiry},
               {"allowed", 0, &dbi_.allowed},
               {"peers", 0, &dbi_.peers},
               {"feed", 0, &dbi_.feed},
               {"feed_index", 0, &dbi_.feed_index},
               {"peer_entries", 0, &dbi_.peer_entries},
               {"origin_versions", 0, &dbi_.origin_versions}};
    for (auto& d : dbs) {
      rc = txn.open_dbi(d.name, d.flags | MDB_CREATE, d.dbi);
      if (rc != 0) return lmdb::to_error(rc, std::string("open database ") + d.name);
    }
    std::string_view v;
    rc = txn.get(dbi_.meta, codec::kMetaSchema, &v);
    if (rc == MDB_NOTFOUND) {
      const std::pair<std::string_view, std::string> init[] = {
          {codec::kMetaSchema, codec::encode_u32(codec::kSchemaVersion)},
          {codec::kMetaCreated, codec::encode_u64(to_u64(now()))},
          {codec::kMetaNextSigId, codec::encode_u32(1)},
          {codec::kMetaNextReporterId, codec::encode_u32(1)},
          {codec::kMetaReportersGen, codec::encode_u64(1)},
          {codec::kMetaCounts, codec::encode_counts({})}};
      for (const auto& [k, val] : init) {
        if ((rc = txn.put(dbi_.meta, k, val)) != 0) return lmdb::to_error(rc, "write meta");
      }
    } else if (rc != 0) {
      return lmdb::to_error(rc, "read schema version");
    } else {
      auto ver = codec::decode_u32(v);
      if (!ver) return make_error(Errc::kIo, "corrupt schema record in " + opt_.dir);
      if (*ver != codec::kSchemaVersion) {
        return make_error(Errc::kInvalidArgument, "store schema version " + std::to_string(*ver) +
                                                      " is not supported by this build (supports " +
                                                      std::to_string(codec::kSchemaVersion) + ")");
      }
    }
    rc = txn.commit();
    if (rc == MDB_MAP_FULL && attempt < 3 && grow_map(0)) continue;
    if (rc != 0) return lmdb::to_error(rc, "commit schema");
    break;
  }
  return {};
}

int StoreImpl::build_index(lmdb::Txn& txn) {
  auto t0 = std::chrono::steady_clock::now();
  auto index = std::make_unique<MemoryIndex>();
  std::string_view v;
  if (txn.get(dbi_.meta, codec::kMetaCounts, &v) == 0) {
    if (auto c = codec::decode_counts(v)) {
      auto fuzzy = c->by_engine[static_cast<std::size_t>(sigs::Engine::kFuzzy)];
      index->reserve(c->signatures() - fuzzy, fuzzy);
    }
  }
  lmdb::Cursor cur;
  int rc = lmdb::Cursor::open(txn, dbi_.sigs, &cur);
  if (rc != 0) return rc;
  std::string_view k;
  std::size_t n = 0, bad = 0;
  std::vector<IndexChange> changes;
  changes.reserve(4096);
  for (rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    auto p = codec::peek_sig(v);
    if (!p || k.size() != 4) {
      ++bad;
      continue;
    }
    IndexChange ch;
    ch.id = codec::get_u32(k.data());
    ch.exact = codec::exact_key64(p->engine, p->value);
    if (p->engine == sigs::Engine::kFuzzy) {
      auto h = codec::decode_fuzzy(p->value);
      if (!h) {
        ++bad;
        continue;
      }
      ch.fuzzy = true;
      ch.hashes = *h;
    }
    changes.push_back(ch);
    if (changes.size() == 4096) {
      index->apply(changes);
      changes.clear();
    }
    ++n;
  }
  if (rc != MDB_NOTFOUND) return rc;
  index->apply(changes);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  log()->info("storage: indexed {} signatures in {} ms ({} MiB){}", n, ms.count(),
              index->memory_bytes() >> 20,
              bad ? fmt::format(", {} corrupt records skipped", bad) : std::string());
  index_ = std::move(index);
  index_ready_.store(true, std::memory_order_release);
  return 0;
}

IndexStamp StoreImpl::index_stamp(lmdb::Txn& txn, std::uint64_t txnid) {
  IndexStamp st;
  st.txnid = txnid;
  std::string_view v;
  if (txn.get(dbi_.meta, codec::kMetaCreated, &v) == 0) {
    if (auto c = codec::decode_u64(v)) st.created = *c;
  }
  if (txn.get(dbi_.meta, codec::kMetaNextSigId, &v) == 0) {
    if (auto n = codec::decode_u32(v)) st.next_sig_id = *n;
  }
  return st;
}

int StoreImpl::open_index(lmdb::Txn& txn) {
  if (!opt_.index_snapshot) return build_index(txn);
  const std::string path = index_snapshot_path();
  const IndexStamp stamp = index_stamp(txn, mdb_txn_id(txn.get()));
  auto t0 = std::chrono::steady_clock::now();
  auto loaded = load_index_snapshot(path, stamp);
  if (!loaded) {
    if (loaded.error().code != Errc::kNotFound) {
      log()->warn("storage: {}; rebuilding the index from LMDB", loaded.error().message);
    }
    return build_index(txn);
  }
  index_ = std::move(*loaded);
  snapshot_stamp_ = stamp;
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  log()->info("storage: loaded the index snapshot {} ({} entries, {} MiB) in {} ms", path,
              index_->entries(), index_->memory_bytes() >> 20, ms.count());
  index_ready_.store(true, std::memory_order_release);
  return 0;
}

void StoreImpl::save_index_snapshot() {
  if (!opt_.serve || !opt_.index_snapshot || !index_ready_.load(std::memory_order_acquire)) {
    return;
  }
  {
    MutexLock g(&serve_lock_mu_);  // only the serving process writes the file
    if (serve_lock_fd_ < 0) return;
  }
  auto rt = begin_read();
  if (!rt) {
    log()->warn("storage: index snapshot not saved: {}", rt.error().message);
    return;
  }
  const IndexStamp stamp = index_stamp(rt->txn(), mdb_txn_id(rt->txn().get()));
  if (snapshot_stamp_ && *snapshot_stamp_ == stamp) return;  // the file is still current
  auto t0 = std::chrono::steady_clock::now();
  auto r = write_index_snapshot(*index_, stamp, index_snapshot_path());
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  if (!r) {
    log()->warn("storage: index snapshot not saved ({}); the next open rebuilds the index",
                r.error().message);
    return;
  }
  log()->info("storage: saved the index snapshot ({} keys, {} MiB) in {} ms", r->keys,
              r->bytes >> 20, ms.count());
}

Result<void> StoreImpl::ensure_index() {
  if (index_ready_.load(std::memory_order_acquire)) return {};
  // Built by the writer, between batches, from the newest state: every later commit then
  // updates it, so it cannot miss a write.
  auto r = run_sync<bool>(0, [](StoreImpl& s, WriteCtx& c, Result<bool>* out) {
    *out = true;
    if (s.index_ready_.load(std::memory_order_acquire)) return 0;
    return s.build_index(*c.txn);
  });
  if (!r) return r.error();
  return {};
}

Result<void> StoreImpl::take_serve_lock() {
  std::string path = opt_.dir + "/serve.lock";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(Errc::kIo, "cannot open " + path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return make_error(Errc::kUnavailable, "another process is serving the store in " + opt_.dir +
                                              " (" + path + " is locked)");
  }
  serve_lock_fd_ = fd;
  return {};
}

}  // namespace strop::storage
