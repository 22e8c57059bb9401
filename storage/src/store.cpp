#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <map>
#include <set>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <system_error>

#include "store_impl.hpp"

namespace strop::storage {

namespace fs = std::filesystem;
using codec::SigId;
using reputation::Trust;

namespace {

constexpr unsigned kMaxDbs = 16;
// Expired replay keys deleted per consumed key (StoreImpl::consume_replay_key).
constexpr std::size_t kReplaySweepPerKey = 2;
constexpr std::size_t kMaxPooledReadTxns = 64;
constexpr std::size_t kMaxPendingHits = 1 << 16;
constexpr std::size_t kMapRounding = std::size_t{1} << 20;
constexpr auto kHitFlushInterval = std::chrono::seconds(1);

std::shared_ptr<spdlog::logger> log() {
  auto l = spdlog::get("storage");
  return l ? l : spdlog::default_logger();
}

std::int64_t thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

std::uint64_t to_u64(TimePoint t) {
  auto n = t.time_since_epoch().count();
  return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

TimePoint from_u64(std::uint64_t v) {
  return TimePoint(std::chrono::seconds(static_cast<std::int64_t>(v)));
}

bool valid_engine(sigs::Engine e) {
  return std::find(sigs::kAllEngines.begin(), sigs::kAllEngines.end(), e) !=
         sigs::kAllEngines.end();
}

bool valid_reporter_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxReporterName) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '_' || ch == '@' || ch == '+' || ch == '-';
  });
}

Trust weight_of(const codec::ReporterRecord& r) {
  return (r.flags & codec::kReporterDisabled) != 0 ? Trust{0} : r.trust;
}

Reporter to_reporter(ReporterId id, const codec::ReporterRecord& r) {
  Reporter out;
  out.id = id;
  out.name = r.name;
  out.secret = r.secret;
  out.trust = reputation::trust_to_double(r.trust);
  out.base_trust = reputation::trust_to_double(r.base);
  out.pinned = (r.flags & codec::kReporterPinned) != 0;
  out.admin = (r.flags & codec::kReporterAdmin) != 0;
  out.disabled = (r.flags & codec::kReporterDisabled) != 0;
  out.vouched = (r.flags & codec::kReporterOpen) == 0;
  out.created = from_u64(r.created);
  out.last_active = from_u64(r.last_active);
  out.reports = r.reports;
  out.revokes = r.revokes;
  out.corroborated = r.corroborated;
  out.contradicted = r.contradicted;
  return out;
}

// LMDB forbids opening one environment twice in a process (closing either would drop the
// other's locks): the directories open in this process, by device and inode.
std::mutex g_open_mu;
// (A child created by fork() inherits the set: entries of another pid do not count.)
std::map<std::pair<std::uintmax_t, std::uintmax_t>, pid_t> g_open_dirs;

bool has_prefix(std::string_view key, std::string_view prefix) {
  return key.size() >= prefix.size() && key.substr(0, prefix.size()) == prefix;
}

static_assert(codec::kReporterCreditSlots == reputation::kCreditSlots);

reputation::CreditLog credit_log(const codec::ReporterRecord& r) {
  reputation::CreditLog log;
  for (std::size_t i = 0; i < log.size(); ++i) log[i] = {r.credits[i].judge, r.credits[i].day};
  return log;
}

void set_credit_log(codec::ReporterRecord& r, const reputation::CreditLog& log) {
  for (std::size_t i = 0; i < log.size(); ++i) r.credits[i] = {log[i].judge, log[i].day};
}

}  // namespace

// Reputation events of one judge's vote on one message (docs/reputation.md "Events"):
// apply_events collects them signature by signature, apply_vote applies them once at the end
// of the message, so an earlier voter is credited or penalised at most once per message of a
// request, however many of the message's signatures it shares with the judge.
struct MessageEvents {
  Trust judge_trust = 0;   // the judge's trust when the message began
  std::uint32_t day = 0;   // UTC day of the request (credit pacing)
  // Earlier voters the judge corroborates: true = credited (pacing allowed it), false =
  // refused today (their votes stay uncredited, so a later judge may still credit them).
  std::map<ReporterId, bool> credit;
  std::set<ReporterId> penalise;  // earlier opposing voters the judge contradicts
  Trust judge_penalty = 0;  // highest trust of a more trusted earlier opposing voter
};


bool can_list(sigs::EngineMask verdict_engines, std::span<const sigs::Signature> message) {
  return std::any_of(message.begin(), message.end(),
                     [&](const sigs::Signature& s) { return verdict_engines.has(s.engine); });
}

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
  report(reporter, std::move(sigs), now(), [p](Result<VoteOutcome> r) { p->set_value(std::move(r)); });
  return f;
}

std::future<Result<VoteOutcome>> Store::revoke(ReporterId reporter,
                                               std::vector<sigs::Signature> sigs) {
  auto p = std::make_shared<std::promise<Result<VoteOutcome>>>();
  auto f = p->get_future();
  revoke(reporter, std::move(sigs), now(), [p](Result<VoteOutcome> r) { p->set_value(std::move(r)); });
  return f;
}

// ---------------------------------------------------------------------------------------
// Open / close

StoreImpl::StoreImpl(StoreOptions options) : opt_(std::move(options)) {}

StoreImpl::~StoreImpl() {
  {
    std::lock_guard lk(q_mu_);
    stopping_ = true;
  }
  q_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard g(pool_mu_);
    for (MDB_txn* t : pool_) mdb_txn_abort(t);
    pool_.clear();
  }
  env_ = lmdb::Env{};  // close before another open of the same directory may start
  if (serve_lock_fd_ >= 0) ::close(serve_lock_fd_);  // releases the flock
  if (registered_) {
    std::lock_guard g(g_open_mu);
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
  bool created = fs::create_directories(opt_.dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + opt_.dir + ": " + ec.message());
  if (created) fs::permissions(opt_.dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  struct stat st {};
  if (::stat(opt_.dir.c_str(), &st) != 0) return make_error(Errc::kIo, "cannot stat " + opt_.dir);
  dir_id_ = {static_cast<std::uintmax_t>(st.st_dev), static_cast<std::uintmax_t>(st.st_ino)};
  {
    std::lock_guard g(g_open_mu);
    auto [it, fresh] = g_open_dirs.try_emplace(dir_id_, ::getpid());
    if (!fresh && it->second == ::getpid()) {
      return make_error(Errc::kExists, "the store in " + opt_.dir + " is already open in this process");
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

  // Open (create) the databases and check or write the schema version.
  for (int attempt = 0;; ++attempt) {
    lmdb::Txn txn;
    rc = lmdb::Txn::begin(env_, 0, &txn);
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
               {"replay_expiry", 0, &dbi_.replay_expiry}};
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
        return make_error(Errc::kInvalidArgument,
                          "store schema version " + std::to_string(*ver) +
                              " is not supported by this build (supports " +
                              std::to_string(codec::kSchemaVersion) + ")");
      }
    }
    rc = txn.commit();
    if (rc == MDB_MAP_FULL && attempt < 3 && grow_map(0)) continue;
    if (rc != 0) return lmdb::to_error(rc, "commit schema");
    break;
  }

  if (opt_.serve) {
    if (auto r = take_serve_lock(); !r) return r;
    auto rt = begin_read();
    if (!rt) return rt.error();
    if (rc = build_index(rt->txn()); rc != 0) return lmdb::to_error(rc, "build the index");
    refresh_weights(rt->txn());
  }

  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "strop-writer");  // visible in top -H, perf, gdb
    writer_loop();
  });
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
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - t0);
  log()->info("storage: indexed {} signatures in {} ms ({} MiB){}", n, ms.count(),
              index->memory_bytes() >> 20,
              bad ? fmt::format(", {} corrupt records skipped", bad) : std::string());
  index_ = std::move(index);
  index_ready_.store(true, std::memory_order_release);
  return 0;
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
    return make_error(Errc::kUnavailable,
                      "another process is serving the store in " + opt_.dir + " (" + path + " is locked)");
  }
  serve_lock_fd_ = fd;
  return {};
}

// ---------------------------------------------------------------------------------------
// Read path

Result<StoreImpl::ReadTxn> StoreImpl::begin_read() {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::shared_lock lock(map_mu_);
    MDB_txn* pooled = nullptr;
    {
      std::lock_guard g(pool_mu_);
      if (!pool_.empty()) {
        pooled = pool_.back();
        pool_.pop_back();
      }
    }
    lmdb::Txn txn;
    int rc;
    if (pooled != nullptr) {
      txn = lmdb::Txn::adopt(pooled);
      rc = txn.renew();
      if (rc != 0) txn.abort();
    } else {
      rc = lmdb::Txn::begin(env_, MDB_RDONLY, &txn);
    }
    if (rc == 0) return ReadTxn(this, std::move(lock), std::move(txn));
    lock.unlock();
    if (rc == MDB_MAP_RESIZED) {
      handle_map_resized();
    } else if (rc == MDB_READERS_FULL) {
      env_.reader_check();
    } else {
      return lmdb::to_error(rc, "begin read transaction");
    }
  }
  return make_error(Errc::kUnavailable, "no LMDB reader slot available");
}

void StoreImpl::return_read(lmdb::Txn txn) {
  txn.reset();
  std::lock_guard g(pool_mu_);
  if (pool_.size() < kMaxPooledReadTxns) {
    pool_.push_back(txn.release());
  }
  // else: txn's destructor aborts it
}

void StoreImpl::handle_map_resized() {
  std::unique_lock lock(map_mu_);
  // Another process grew the map: adopt its size (0 = the size recorded in the file).
  mdb_env_set_mapsize(env_.get(), 0);
}

int StoreImpl::load_weights(lmdb::Txn& txn, std::uint64_t gen) {
  // REQUIRES: trust_mu_ held exclusively.
  std::vector<Trust> w;
  lmdb::Cursor cur;
  int rc = lmdb::Cursor::open(txn, dbi_.reporters, &cur);
  if (rc != 0) return rc;
  std::string_view k, v;
  for (rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    if (k.size() != 4) continue;
    auto r = codec::decode_reporter(v);
    if (!r) continue;
    ReporterId id = codec::get_u32(k.data());
    if (id >= w.size()) w.resize(static_cast<std::size_t>(id) + 1, 0);
    w[id] = weight_of(*r);
  }
  if (rc != MDB_NOTFOUND) return rc;
  weights_ = std::move(w);
  weights_gen_ = gen;
  weights_loaded_ = true;
  return 0;
}

void StoreImpl::refresh_weights(lmdb::Txn& txn) {
  std::string_view v;
  std::uint64_t gen = 0;
  if (txn.get(dbi_.meta, codec::kMetaReportersGen, &v) == 0) gen = codec::decode_u64(v).value_or(0);
  {
    std::shared_lock lk(trust_mu_);
    if (weights_loaded_ && gen <= weights_gen_) return;
  }
  std::unique_lock lk(trust_mu_);
  if (weights_loaded_ && gen <= weights_gen_) return;
  if (int rc = load_weights(txn, gen); rc != 0) {
    log()->warn("storage: cannot load reporter weights: {}", mdb_strerror(rc));
  }
}

Result<CheckOutcome> StoreImpl::check(std::span<const sigs::Signature> sigs) {
  return check(sigs, now());
}

Result<CheckOutcome> StoreImpl::check(std::span<const sigs::Signature> sigs, TimePoint now) {
  CheckOutcome out;
  std::vector<std::optional<sigs::FuzzyHashes>> fz(sigs.size());
  std::vector<Candidate> cands;
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    if (sigs[i].engine == sigs::Engine::kFuzzy) fz[i] = codec::decode_fuzzy(sigs[i].value);
  }
  if (auto r = ensure_index(); !r) return r.error();
  {
    std::vector<std::uint64_t> exact_keys;
    std::vector<std::size_t> exact_query;
    std::vector<const sigs::FuzzyHashes*> fuzzy;
    std::vector<std::size_t> fuzzy_query;
    for (std::size_t i = 0; i < sigs.size(); ++i) {
      const auto& s = sigs[i];
      if (s.engine == sigs::Engine::kFuzzy) {
        if (!fz[i]) continue;
        fuzzy.push_back(&*fz[i]);
        fuzzy_query.push_back(i);
      } else {
        if (s.value.empty() || s.value.size() > opt_.max_value_bytes) continue;
        exact_keys.push_back(codec::exact_key64(s.engine, s.value));
        exact_query.push_back(i);
      }
    }
    std::vector<MemoryIndex::ExactHit> eh;
    std::vector<MemoryIndex::FuzzyHit> fh;
    index_->lookup(exact_keys, fuzzy, sigs::kFuzzyMatchMin, &eh, &fh);
    for (auto& h : eh) cands.push_back({exact_query[h.query], h.id, nullptr});
    for (auto& h : fh) cands.push_back({fuzzy_query[h.query], h.id, fuzzy[h.query]});
    if (cands.empty()) return out;  // the common case: no LMDB access at all
    std::stable_sort(cands.begin(), cands.end(),
                     [](const Candidate& a, const Candidate& b) { return a.query < b.query; });
  }

  auto rt = begin_read();
  if (!rt) return rt.error();
  lmdb::Txn& txn = rt->txn();
  refresh_weights(txn);

  std::vector<std::pair<SigId, std::uint64_t>> hits;
  const std::uint64_t now_s = to_u64(now);
  const auto resolution = static_cast<std::uint64_t>(opt_.hit_resolution.count());
  std::vector<reputation::Vote> votes;
  lmdb::Cursor vc;
  int rc = lmdb::Cursor::open(txn, dbi_.votes, &vc);
  if (rc != 0) return lmdb::to_error(rc, "cursor");
  std::shared_lock wl(trust_mu_);
  for (const Candidate& c : cands) {
    const sigs::Signature& q = sigs[c.query];
    std::string_view v;
    rc = txn.get(dbi_.sigs, codec::sv(codec::sig_id_key(c.id)), &v);
    if (rc == MDB_NOTFOUND) continue;  // expired since the index was read
    if (rc != 0) return lmdb::to_error(rc, "read signature");
    auto rec = codec::peek_sig(v);  // views into the map, valid during this txn
    if (!rec || rec->engine != q.engine) continue;
    double similarity = 1.0;
    if (c.fuzzy != nullptr) {
      int eq = codec::fuzzy_equal_positions_text(rec->value, q.value);
      if (eq < sigs::kFuzzyMatchMin) continue;
      similarity = static_cast<double>(eq) / sigs::kFuzzyHashes;
    } else if (rec->value != q.value) {
      continue;
    }
    const std::uint64_t last_hit = rec->last_hit;
    Match m;
    m.engine = rec->engine;
    {
      std::string_view name = sigs::engine_name(rec->engine);
      m.id.reserve(name.size() + 1 + rec->value.size());
      m.id.append(name).append(1, ':').append(rec->value);
    }
    m.query_index = c.query;
    m.similarity = similarity;
    votes.clear();
    auto first = codec::vote_key(c.id, 0);
    const auto prefix_key = codec::sig_id_key(c.id);
    const std::string_view prefix = codec::sv(prefix_key);
    std::string_view k;
    for (rc = vc.seek(codec::sv(first), &k, &v); rc == 0 && has_prefix(k, prefix);
         rc = vc.get(&k, &v, MDB_NEXT)) {
      auto vr = codec::decode_vote(v);
      if (!vr || vr->kind == codec::VoteKind::kWithdrawn || k.size() != 8) continue;
      ReporterId r = codec::get_u32(k.data() + 4);
      Trust w = r < weights_.size() ? weights_[r] : Trust{0};
      bool revoke = vr->kind == codec::VoteKind::kRevoke;
      (revoke ? m.revokes : m.reports) += 1;
      votes.push_back({w, revoke});
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::to_error(rc, "read votes");
    m.confidence = reputation::confidence(votes);
    if (opt_.verdict_engines.has(m.engine)) out.confidence = std::max(out.confidence, m.confidence);
    if (resolution == 0 || now_s >= last_hit + resolution) hits.emplace_back(c.id, now_s);
    out.matches.push_back(std::move(m));
  }
  wl.unlock();
  vc.close();
  std::stable_sort(out.matches.begin(), out.matches.end(),
                   [](const Match& a, const Match& b) { return a.query_index < b.query_index; });
  out.spam = out.confidence >= opt_.threshold && !out.matches.empty();
  if (!hits.empty()) {
    std::lock_guard g(hits_mu_);
    for (auto& h : hits) {
      if (hits_.size() >= kMaxPendingHits) break;
      hits_.push_back(h);
    }
  }
  return out;
}

Result<Reporter> StoreImpl::read_reporter(lmdb::Txn& txn, ReporterId id) {
  std::string_view v;
  int rc = txn.get(dbi_.reporters, codec::sv(codec::reporter_key(id)), &v);
  if (rc == MDB_NOTFOUND) return make_error(Errc::kNotFound, "no such reporter");
  if (rc != 0) return lmdb::to_error(rc, "read reporter");
  auto r = codec::decode_reporter(v);
  if (!r) return make_error(Errc::kIo, "corrupt reporter record");
  return to_reporter(id, *r);
}

int StoreImpl::find_reporter_id(lmdb::Txn& txn, std::string_view name, ReporterId* out) {
  if (name.empty() || name.size() > kMaxReporterName) return MDB_NOTFOUND;
  std::string_view v;
  int rc = txn.get(dbi_.reporter_names, name, &v);
  if (rc != 0) return rc;
  auto id = codec::decode_id(v);
  if (!id) return MDB_CORRUPTED;
  *out = *id;
  return 0;
}

Result<Reporter> StoreImpl::find_reporter(std::string_view name) {
  auto rt = begin_read();
  if (!rt) return rt.error();
  ReporterId id = 0;
  int rc = find_reporter_id(rt->txn(), name, &id);
  if (rc == MDB_NOTFOUND) return make_error(Errc::kNotFound, "no such reporter");
  if (rc != 0) return lmdb::to_error(rc, "read reporter name");
  return read_reporter(rt->txn(), id);
}

Result<Reporter> StoreImpl::find_reporter(ReporterId id) {
  auto rt = begin_read();
  if (!rt) return rt.error();
  return read_reporter(rt->txn(), id);
}

Result<std::vector<Reporter>> StoreImpl::list_reporters() {
  auto rt = begin_read();
  if (!rt) return rt.error();
  std::vector<Reporter> out;
  lmdb::Cursor cur;
  int rc = lmdb::Cursor::open(rt->txn(), dbi_.reporters, &cur);
  if (rc != 0) return lmdb::to_error(rc, "cursor");
  std::string_view k, v;
  for (rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
    auto r = codec::decode_reporter(v);
    if (!r || k.size() != 4) continue;
    out.push_back(to_reporter(codec::get_u32(k.data()), *r));
  }
  if (rc != MDB_NOTFOUND) return lmdb::to_error(rc, "list reporters");
  return out;
}

StoreStats StoreImpl::stats() {
  StoreStats s;
  if (auto rt = begin_read()) {
    std::string_view v;
    if (rt->txn().get(dbi_.meta, codec::kMetaCounts, &v) == 0) {
      if (auto c = codec::decode_counts(v)) {
        s.signatures = c->signatures();
        s.signatures_by_engine = c->by_engine;
        s.votes = c->votes;
        s.reporters = c->reporters;
      }
    }
  }
  {
    std::lock_guard lk(q_mu_);
    s.writer_queue_depth = queued_cost_;
  }
  s.commits = commits_.load();
  s.committed_ops = committed_ops_.load();
  s.last_commit_latency = std::chrono::microseconds(last_commit_us_.load());
  s.max_commit_latency = std::chrono::microseconds(max_commit_us_.load());
  s.last_sync_latency = std::chrono::microseconds(last_sync_us_.load());
  s.last_batch_ops = last_batch_ops_.load();
  s.writer_cpu = std::chrono::microseconds(writer_cpu_us_.load());
  s.write_errors = write_errors_.load();
  s.expired = expired_.load();
  s.map_bytes = env_.map_size();
  s.used_bytes = env_.used_bytes();
  s.map_resizes = map_resizes_.load();
  if (index_ready_.load(std::memory_order_acquire)) {
    s.index_entries = index_->entries();
    s.index_bytes = index_->memory_bytes();
  }
  return s;
}

Result<void> StoreImpl::backup(const std::string& dest_dir) {
  std::error_code ec;
  fs::create_directories(dest_dir, ec);
  if (ec) return make_error(Errc::kIo, "cannot create " + dest_dir + ": " + ec.message());
  if (fs::exists(fs::path(dest_dir) / "data.mdb", ec)) {
    return make_error(Errc::kExists, dest_dir + " already holds a store (data.mdb)");
  }
  // The copy runs its own read transaction; holding map_mu_ shared keeps the map in place.
  std::shared_lock lock(map_mu_);
  int rc = env_.copy_compact(dest_dir);
  if (rc != 0) return lmdb::to_error(rc, "backup to " + dest_dir);
  return {};
}

// ---------------------------------------------------------------------------------------
// Write path: queue and writer thread

Result<void> StoreImpl::enqueue(std::unique_ptr<Op> op) {
  {
    std::lock_guard lk(q_mu_);
    if (stopping_) return make_error(Errc::kUnavailable, "store is closing");
    if (queued_cost_ > 0 && queued_cost_ + op->cost > opt_.max_queue_ops) {
      return make_error(Errc::kUnavailable, "writer queue full");
    }
    queued_cost_ += op->cost;
    queue_.push_back(std::move(op));
  }
  q_cv_.notify_one();
  return {};
}

template <class T>
Result<T> StoreImpl::run_sync(std::size_t cost,
                              std::function<int(StoreImpl&, WriteCtx&, Result<T>*)> fn) {
  if (std::this_thread::get_id() == writer_.get_id()) {
    return make_error(Errc::kInternal, "synchronous store write from the writer thread");
  }
  auto state = std::make_shared<std::optional<Result<T>>>();
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  auto op = std::make_unique<Op>();
  op->cost = cost;
  op->apply = [state, fn = std::move(fn)](StoreImpl& s, WriteCtx& c) {
    state->reset();
    Result<T> r = make_error(Errc::kInternal, "operation not run");
    int rc = fn(s, c, &r);
    state->emplace(std::move(r));
    return rc;
  };
  op->complete = [state, promise](const Error* e) {
    if (e != nullptr) {
      promise->set_value(*e);
    } else if (*state) {
      promise->set_value(std::move(**state));
    } else {
      promise->set_value(make_error(Errc::kInternal, "operation not run"));
    }
  };
  auto q = enqueue(std::move(op));
  if (!q) return q.error();
  return future.get();
}

void StoreImpl::submit_vote(VoteRequest request, VoteCallback done) {
  if (request.sigs.empty()) {
    done(VoteOutcome{});
    return;
  }
  if (!request.message_sizes.empty()) {
    std::uint64_t total = 0;
    for (auto n : request.message_sizes) total += n;
    if (total != request.sigs.size()) {
      done(make_error(Errc::kInvalidArgument, "message sizes do not add up to the signature count"));
      return;
    }
  }
  if (request.replay &&
      (request.replay->nonce.empty() || request.replay->nonce.size() > kMaxReplayNonce)) {
    done(make_error(Errc::kInvalidArgument, "replay nonce must be 1-128 bytes"));
    return;
  }
  if (!opt_.serve) {
    // Votes change the index only of the process that makes them: only the process holding
    // the serve lock may vote, so a running node never misses a signature.
    std::lock_guard g(serve_lock_mu_);
    if (serve_lock_fd_ < 0) {
      if (auto r = take_serve_lock(); !r) {
        done(make_error(Errc::kUnavailable, r.error().message + "; report through the node"));
        return;
      }
    }
  }
  auto state = std::make_shared<std::optional<Result<VoteOutcome>>>();
  auto op = std::make_unique<Op>();
  op->cost = request.sigs.size();
  op->apply = [state, req = std::move(request)](StoreImpl& s, WriteCtx& c) {
    Result<VoteOutcome> r = VoteOutcome{};
    int rc = s.apply_vote(c, req, &r);
    state->emplace(std::move(r));
    return rc;
  };
  op->complete = [state, done](const Error* e) {
    if (e != nullptr) {
      done(*e);
    } else if (*state) {
      done(std::move(**state));
    } else {
      done(make_error(Errc::kInternal, "vote not applied"));
    }
  };
  auto q = enqueue(std::move(op));
  if (!q) done(q.error());
}

void StoreImpl::report(ReporterId reporter, std::vector<sigs::Signature> sigs, TimePoint now,
                       VoteCallback done) {
  submit_vote(VoteRequest{reporter, false, std::move(sigs), {}, std::nullopt, now}, std::move(done));
}

void StoreImpl::revoke(ReporterId reporter, std::vector<sigs::Signature> sigs, TimePoint now,
                       VoteCallback done) {
  submit_vote(VoteRequest{reporter, true, std::move(sigs), {}, std::nullopt, now}, std::move(done));
}

void StoreImpl::vote(VoteRequest request, VoteCallback done) {
  submit_vote(std::move(request), std::move(done));
}

Result<void> StoreImpl::flush() {
  auto r = run_sync<bool>(0, [](StoreImpl&, WriteCtx&, Result<bool>* out) {
    *out = true;
    return 0;
  });
  if (!r) return r.error();
  return {};
}

Result<std::uint64_t> StoreImpl::expire(TimePoint now) {
  if (std::this_thread::get_id() == writer_.get_id()) {
    return make_error(Errc::kInternal, "synchronous store write from the writer thread");
  }
  auto job = std::make_unique<ExpireJob>();
  job->now = now;
  auto f = job->done.get_future();
  {
    std::lock_guard lk(q_mu_);
    if (stopping_) return make_error(Errc::kUnavailable, "store is closing");
    expire_jobs_.push_back(std::move(job));
  }
  q_cv_.notify_one();
  return f.get();
}

void StoreImpl::writer_loop() {
  using steady = std::chrono::steady_clock;
  const bool sweeper = opt_.serve && opt_.expire_after.count() > 0;
  auto next_sweep = sweeper ? steady::now() + opt_.sweep_interval : steady::time_point::max();
  auto next_hits = steady::now() + kHitFlushInterval;
  bool sweeping = false;
  for (;;) {
    std::vector<std::unique_ptr<Op>> batch;
    ExpireJob* job = nullptr;
    bool exit = false;
    {
      std::unique_lock lk(q_mu_);
      auto ready = [&] { return !queue_.empty() || stopping_ || !expire_jobs_.empty(); };
      if (!ready() && !sweeping) q_cv_.wait_until(lk, std::min(next_sweep, next_hits), ready);
      if (!queue_.empty() && opt_.max_batch_delay.count() > 0 && queued_cost_ < opt_.max_batch_ops) {
        q_cv_.wait_for(lk, opt_.max_batch_delay,
                       [&] { return queued_cost_ >= opt_.max_batch_ops || stopping_; });
      }
      std::size_t cost = 0;
      while (!queue_.empty() && (batch.empty() || cost + queue_.front()->cost <= opt_.max_batch_ops)) {
        cost += queue_.front()->cost;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_cost_ -= cost;
      if (!expire_jobs_.empty()) {
        if (stopping_) {
          for (auto& j : expire_jobs_) j->done.set_value(make_error(Errc::kUnavailable, "store is closing"));
          expire_jobs_.clear();
        } else {
          job = expire_jobs_.front().get();
        }
      }
      exit = stopping_ && batch.empty() && queue_.empty();
    }
    if (!batch.empty()) run_batch(batch);
    writer_cpu_us_ = thread_cpu_us();
    if (exit) {
      flush_hits(now());
      return;
    }
    auto t = steady::now();
    if (t >= next_hits || job != nullptr || sweeping || t >= next_sweep) {
      flush_hits(now());
      next_hits = t + kHitFlushInterval;
    }
    if (job != nullptr) {
      bool more = false;
      Error err{Errc::kOk, {}};
      std::uint64_t n = sweep_step(job->now, &more, &err);
      job->deleted += n;
      if (err.code != Errc::kOk || !more) {
        std::unique_ptr<ExpireJob> done;
        {
          std::lock_guard lk(q_mu_);
          done = std::move(expire_jobs_.front());
          expire_jobs_.pop_front();
        }
        if (err.code != Errc::kOk) {
          done->done.set_value(err);
        } else {
          done->done.set_value(done->deleted);
        }
      }
    } else if (sweeper && (sweeping || t >= next_sweep)) {
      bool more = false;
      Error err{Errc::kOk, {}};
      std::uint64_t n = sweep_step(now(), &more, &err);
      if (err.code != Errc::kOk) log()->warn("storage: expiry sweep failed: {}", err.to_string());
      if (n > 0) log()->debug("storage: expired {} signatures", n);
      sweeping = more && err.code == Errc::kOk;
      if (!sweeping) next_sweep = steady::now() + opt_.sweep_interval;
    }
  }
}

bool StoreImpl::grow_map(std::size_t at_least) {
  std::unique_lock lock(map_mu_);
  std::size_t cur = env_.map_size();
  if (cur >= opt_.max_map_bytes) return false;
  std::size_t want = cur + std::min(cur, opt_.map_growth_step_bytes);
  want = std::max(want, at_least);
  want = (want + kMapRounding - 1) / kMapRounding * kMapRounding;
  want = std::min(want, opt_.max_map_bytes);
  // No transaction of this process is open: every holder of one holds map_mu_ shared.
  int rc = env_.set_map_size(want);
  if (rc != 0) {
    log()->error("storage: cannot grow the map to {} bytes: {}", want, mdb_strerror(rc));
    return false;
  }
  ++map_resizes_;
  log()->info("storage: map grown from {} MiB to {} MiB", cur >> 20, want >> 20);
  return true;
}

void StoreImpl::maybe_grow() {
  std::size_t map = env_.map_size();
  if (env_.used_bytes() > map / 10 * 8) grow_map(0);
}

void StoreImpl::run_batch(std::vector<std::unique_ptr<Op>>& ops) {
  if (ops.empty()) return;
  std::size_t cost = 0;
  for (auto& op : ops) cost += op->cost;
  int rc = 0;
  for (int attempt = 0; attempt < 16; ++attempt) {
    maybe_grow();
    auto t0 = std::chrono::steady_clock::now();
    WriteCtx c;
    {
      std::shared_lock lock(map_mu_);
      lmdb::Txn txn;
      rc = lmdb::Txn::begin(env_, 0, &txn);
      if (rc == 0) {
        c.txn = &txn;
        std::string_view v;
        auto read_meta = [&](std::string_view key, auto decode, auto* out) {
          if (rc != 0) return;
          rc = txn.get(dbi_.meta, key, &v);
          if (rc != 0) return;
          auto d = decode(v);
          if (!d) {
            rc = MDB_CORRUPTED;
            return;
          }
          *out = *d;
        };
        read_meta(codec::kMetaCounts, codec::decode_counts, &c.counts);
        read_meta(codec::kMetaNextSigId, codec::decode_u32, &c.next_sig_id);
        read_meta(codec::kMetaNextReporterId, codec::decode_u32, &c.next_reporter_id);
        read_meta(codec::kMetaReportersGen, codec::decode_u64, &c.reporters_gen);
        if (rc == 0) {
          std::unique_lock wl(trust_mu_);
          if (!weights_loaded_ || weights_gen_ != c.reporters_gen) rc = load_weights(txn, c.reporters_gen);
        }
        for (auto& op : ops) {
          if (rc != 0) break;
          rc = op->apply(*this, c);
        }
        if (rc == 0) rc = txn.put(dbi_.meta, codec::kMetaCounts, codec::encode_counts(c.counts));
        if (rc == 0) rc = txn.put(dbi_.meta, codec::kMetaNextSigId, codec::encode_u32(c.next_sig_id));
        if (rc == 0) {
          rc = txn.put(dbi_.meta, codec::kMetaNextReporterId, codec::encode_u32(c.next_reporter_id));
        }
        if (rc == 0 && c.reporters_changed) {
          ++c.reporters_gen;
          rc = txn.put(dbi_.meta, codec::kMetaReportersGen, codec::encode_u64(c.reporters_gen));
        }
        if (rc == 0) {
          auto s0 = std::chrono::steady_clock::now();
          rc = txn.commit();  // synchronous: returns after the data is on disk
          last_sync_us_ = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - s0)
                              .count();
        } else {
          txn.abort();
        }
      }
    }
    if (rc == 0) {
      // Durable. Publish to the in-memory structures, then acknowledge.
      if (index_) index_->apply(c.index);  // (index_ is set on this thread, or before it ran)
      if (c.reporters_changed) {
        std::unique_lock wl(trust_mu_);
        if (weights_gen_ < c.reporters_gen) {
          for (auto [id, w] : c.weights) {
            if (id >= weights_.size()) weights_.resize(static_cast<std::size_t>(id) + 1, 0);
            weights_[id] = w;
          }
          weights_gen_ = c.reporters_gen;
        }
      }
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
      last_commit_us_ = us;
      if (us > max_commit_us_) max_commit_us_ = us;
      ++commits_;
      committed_ops_ += cost;
      last_batch_ops_ = cost;
      expired_ += c.expired;
      for (auto& op : ops) {
        try {
          if (op->complete) op->complete(nullptr);
        } catch (const std::exception& e) {
          log()->error("storage: write completion threw: {}", e.what());
        }
      }
      return;
    }
    if (rc == MDB_MAP_RESIZED) {
      handle_map_resized();
      continue;
    }
    if (rc == MDB_MAP_FULL && grow_map(0)) continue;
    if (rc == MDB_TXN_FULL && ops.size() > 1) {
      std::vector<std::unique_ptr<Op>> second;
      for (std::size_t i = ops.size() / 2; i < ops.size(); ++i) second.push_back(std::move(ops[i]));
      ops.resize(ops.size() / 2);
      run_batch(ops);
      run_batch(second);
      return;
    }
    break;
  }
  ++write_errors_;
  Error err = lmdb::to_error(rc, "write transaction");
  log()->error("storage: {} ({} operations failed)", err.message, ops.size());
  for (auto& op : ops) {
    try {
      if (op->complete) op->complete(&err);
    } catch (const std::exception& e) {
      log()->error("storage: write completion threw: {}", e.what());
    }
  }
}

// ---------------------------------------------------------------------------------------
// Write path: operations (run on the writer thread inside the batch transaction)

Trust StoreImpl::weight(const WriteCtx& c, ReporterId id) {
  if (auto it = c.weights.find(id); it != c.weights.end()) return it->second;
  std::shared_lock lk(trust_mu_);
  return id < weights_.size() ? weights_[id] : Trust{0};
}

void StoreImpl::set_effective_trust(codec::ReporterRecord& r) {
  reputation::TrustState s;
  s.base = r.base;
  s.pinned = (r.flags & codec::kReporterPinned) != 0;
  s.open = (r.flags & codec::kReporterOpen) != 0;
  s.good = r.good;
  s.bad = r.bad;
  r.trust = reputation::trust(s);
}

int StoreImpl::update_reporter(WriteCtx& c, ReporterId id,
                               const std::function<void(codec::ReporterRecord&)>& f) {
  auto key = codec::reporter_key(id);
  std::string_view v;
  int rc = c.txn->get(dbi_.reporters, codec::sv(key), &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  auto r = codec::decode_reporter(v);
  if (!r) return MDB_CORRUPTED;
  Trust before = weight_of(*r);
  f(*r);
  set_effective_trust(*r);
  rc = c.txn->put(dbi_.reporters, codec::sv(key), codec::encode_reporter(*r));
  if (rc != 0) return rc;
  Trust after = weight_of(*r);
  if (after != before || c.weights.count(id) != 0) {
    c.weights[id] = after;
    c.reporters_changed = true;
  }
  return 0;
}

int StoreImpl::allocate_sig_id(WriteCtx& c, SigId* out) {
  if (!c.max_sig_id_known) {
    // Ids above the highest one in use are free: no lookup needed until the ids wrap.
    lmdb::Cursor cur;
    int rc = lmdb::Cursor::open(*c.txn, dbi_.sigs, &cur);
    if (rc != 0) return rc;
    std::string_view k, v;
    rc = cur.get(&k, &v, MDB_LAST);
    if (rc == 0 && k.size() == 4) {
      c.max_sig_id = codec::get_u32(k.data());
    } else if (rc != MDB_NOTFOUND && rc != 0) {
      return rc;
    }
    c.max_sig_id_known = true;
  }
  SigId id = c.next_sig_id;
  for (std::uint64_t tries = 0; tries <= codec::kMaxSigId; ++tries, ++id) {
    if (id == 0 || id > codec::kMaxSigId) id = 1;
    if (id > c.max_sig_id) break;
    std::string_view v;
    int rc = c.txn->get(dbi_.sigs, codec::sv(codec::sig_id_key(id)), &v);
    if (rc == MDB_NOTFOUND) break;
    if (rc != 0) return rc;
    if (tries == codec::kMaxSigId) return MDB_MAP_FULL;  // every id in use
  }
  *out = id;
  c.max_sig_id = std::max(c.max_sig_id, id);
  c.next_sig_id = id + 1;
  return 0;
}

int StoreImpl::consume_replay_key(WriteCtx& c, ReporterId reporter, const ReplayKey& key,
                                  bool* replayed) {
  *replayed = false;
  const std::uint64_t expires = to_u64(key.expires);
  std::string k = codec::replay_key(reporter, key.nonce);
  std::string_view v;
  int rc = c.txn->get(dbi_.replay, k, &v);
  if (rc == 0) {
    // A key past its expiry that the sweep has not reached yet still counts: the request it
    // belonged to is refused as stale by the caller's window check anyway.
    *replayed = true;
    return 0;
  }
  if (rc != MDB_NOTFOUND) return rc;
  // Amortised sweep: each consumed key deletes up to kReplaySweepPerKey expired keys, so the
  // tables hold about one window's worth of keys without a timer.
  const std::uint64_t now_s = to_u64(now());
  {
    lmdb::Cursor cur;
    if ((rc = lmdb::Cursor::open(*c.txn, dbi_.replay_expiry, &cur)) != 0) return rc;
    std::string_view ek, ev;
    std::vector<std::string> due;
    for (rc = cur.get(&ek, &ev, MDB_FIRST); rc == 0 && due.size() < kReplaySweepPerKey;
         rc = cur.get(&ek, &ev, MDB_NEXT)) {
      if (ek.size() < 12 || codec::get_u64(ek.data()) >= now_s) break;
      due.emplace_back(ek);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    for (const auto& d : due) {
      if ((rc = c.txn->del(dbi_.replay_expiry, d)) != 0 && rc != MDB_NOTFOUND) return rc;
      std::string rk = codec::replay_key(codec::get_u32(d.data() + 8), std::string_view(d).substr(12));
      if ((rc = c.txn->del(dbi_.replay, rk)) != 0 && rc != MDB_NOTFOUND) return rc;
    }
  }
  if ((rc = c.txn->put(dbi_.replay, k, codec::encode_u64(expires))) != 0) return rc;
  return c.txn->put(dbi_.replay_expiry, codec::replay_expiry_key(expires, reporter, key.nonce), std::string_view());
}

int StoreImpl::apply_vote(WriteCtx& c, const VoteRequest& req, Result<VoteOutcome>* out) {
  const ReporterId reporter = req.reporter;
  const auto& sigs = req.sigs;
  const TimePoint now = req.now;
  const bool revoke = req.revoke;
  auto key = codec::reporter_key(reporter);
  std::string_view v;
  int rc = c.txn->get(dbi_.reporters, codec::sv(key), &v);
  if (rc == MDB_NOTFOUND) {
    *out = make_error(Errc::kNotFound, "unknown reporter");
    return 0;
  }
  if (rc != 0) return rc;
  auto jrec = codec::decode_reporter(v);
  if (!jrec) {
    *out = make_error(Errc::kInternal, "corrupt reporter record");
    return 0;
  }
  if ((jrec->flags & codec::kReporterDisabled) != 0) {
    *out = make_error(Errc::kForbidden, "reporter is disabled");
    return 0;
  }
  if (req.replay) {
    // Consumed before validation: a signed request is spent once it reached the store,
    // whatever its outcome.
    bool replayed = false;
    if ((rc = consume_replay_key(c, reporter, *req.replay, &replayed)) != 0) return rc;
    if (replayed) {
      *out = make_error(Errc::kReplayed, "request already accepted once (replayed nonce)");
      return 0;
    }
  }
  for (const auto& s : sigs) {
    if (!valid_engine(s.engine) || s.value.empty() || s.value.size() > opt_.max_value_bytes ||
        (s.engine == sigs::Engine::kFuzzy && !codec::decode_fuzzy(s.value))) {
      *out = make_error(Errc::kInvalidArgument, "unusable signature value");
      return 0;
    }
  }
  if (!index_ready_.load(std::memory_order_acquire)) {
    // Admin mode: the writer finds records through the index, so build it first (from this
    // transaction, which sees every committed write).
    if ((rc = build_index(*c.txn)) != 0) return rc;
  }
  VoteOutcome outcome;
  outcome.effects.reserve(sigs.size());
  const std::uint64_t now_s = to_u64(now);
  Trust before = weight_of(*jrec);
  // Message by message: the reputation events of each message are applied once, at its end
  // (an earlier voter gains or loses at most once per message; docs/reputation.md "Events").
  const std::vector<std::uint32_t> whole{static_cast<std::uint32_t>(sigs.size())};
  const auto& sizes = req.message_sizes.empty() ? whole : req.message_sizes;
  std::size_t next = 0;
  for (std::uint32_t n : sizes) {
    MessageEvents ev;
    ev.judge_trust = weight_of(*jrec);
    ev.day = reputation::day_of(now_s);
    for (std::uint32_t i = 0; i < n && next < sigs.size(); ++i, ++next) {
      VoteEffect e = VoteEffect::kUnchanged;
      rc = vote_one(c, reporter, *jrec, sigs[next], now_s, revoke, ev, &e);
      if (rc != 0) return rc;
      outcome.effects.push_back(e);
    }
    const std::uint64_t w = reputation::event_weight(ev.judge_trust);
    for (const auto& [r, ok] : ev.credit) {
      if (!ok) continue;
      rc = update_reporter(c, r, [&](codec::ReporterRecord& x) {
        x.good += w;
        ++x.corroborated;
        auto log = credit_log(x);
        reputation::record_credit(log, reporter, ev.day);
        set_credit_log(x, log);
      });
      if (rc != 0) return rc;
    }
    for (ReporterId r : ev.penalise) {
      rc = update_reporter(c, r, [&](codec::ReporterRecord& x) {
        x.bad += w;
        ++x.contradicted;
      });
      if (rc != 0) return rc;
    }
    if (ev.judge_penalty > 0) {
      jrec->bad += reputation::event_weight(ev.judge_penalty);
      ++jrec->contradicted;
      set_effective_trust(*jrec);
      c.weights[reporter] = weight_of(*jrec);
      c.reporters_changed = true;
    }
  }
  set_effective_trust(*jrec);
  rc = c.txn->put(dbi_.reporters, codec::sv(key), codec::encode_reporter(*jrec));
  if (rc != 0) return rc;
  if (weight_of(*jrec) != before) {
    c.weights[reporter] = weight_of(*jrec);
    c.reporters_changed = true;
  }
  *out = std::move(outcome);
  return 0;
}

int StoreImpl::find_sig(WriteCtx& c, const sigs::Signature& sig, std::uint64_t key, SigId* id,
                        codec::SigRecord* rec) {
  // Candidates: the committed index (only this thread changes it) and this batch's new
  // signatures. Each is verified against its record; a vanished one is dropped from the index.
  std::vector<std::uint32_t> ids;
  index_->find_exact(key, &ids);
  if (auto it = c.pending.find(key); it != c.pending.end()) {
    ids.insert(ids.end(), it->second.begin(), it->second.end());
  }
  for (SigId cand : ids) {
    std::string_view v;
    int rc = c.txn->get(dbi_.sigs, codec::sv(codec::sig_id_key(cand)), &v);
    if (rc == MDB_NOTFOUND) {
      IndexChange gone;
      gone.add = false;
      gone.exact = key;
      gone.id = cand;
      c.index.push_back(gone);  // (fuzzy postings of a vanished id are verified away on read)
      continue;
    }
    if (rc != 0) return rc;
    auto p = codec::peek_sig(v);
    if (!p) return MDB_CORRUPTED;
    if (p->engine != sig.engine || p->value != sig.value) continue;  // a 64-bit key collision
    auto r = codec::decode_sig(v);
    if (!r) return MDB_CORRUPTED;
    *id = cand;
    *rec = std::move(*r);
    return 0;
  }
  return MDB_NOTFOUND;
}

int StoreImpl::vote_one(WriteCtx& c, ReporterId j, codec::ReporterRecord& jrec,
                        const sigs::Signature& sig, std::uint64_t now, bool revoke,
                        MessageEvents& ev, VoteEffect* effect) {
  lmdb::Txn& txn = *c.txn;
  const std::uint64_t key = codec::exact_key64(sig.engine, sig.value);
  std::string_view v;
  SigId id = 0;
  codec::SigRecord rec;
  bool fresh = false;
  int rc = find_sig(c, sig, key, &id, &rec);
  if (rc == MDB_NOTFOUND) {
    if (revoke) {
      *effect = VoteEffect::kUnknown;
      return 0;
    }
    if ((rc = allocate_sig_id(c, &id)) != 0) return rc;
    rec.engine = sig.engine;
    rec.first_seen = now;
    rec.value = sig.value;
    IndexChange ch;
    ch.add = true;
    ch.id = id;
    ch.exact = key;
    if (sig.engine == sigs::Engine::kFuzzy) {
      ch.fuzzy = true;
      ch.hashes = *codec::decode_fuzzy(sig.value);  // validated by apply_vote
    }
    c.index.push_back(ch);
    c.pending[key].push_back(id);
    ++c.counts.by_engine[static_cast<std::size_t>(sig.engine) & 7];
    fresh = true;
  } else if (rc != 0) {
    return rc;
  }
  const std::uint64_t old_activity = fresh ? 0 : rec.activity();

  auto vk = codec::vote_key(id, j);
  codec::VoteRecord vr;
  bool had = false;
  // A new signature has no votes yet (delete_sig removes a signature's votes with it).
  rc = fresh ? MDB_NOTFOUND : txn.get(dbi_.votes, codec::sv(vk), &v);
  if (rc == 0) {
    auto d = codec::decode_vote(v);
    if (!d) return MDB_CORRUPTED;
    vr = *d;
    had = true;
  } else if (rc != MDB_NOTFOUND) {
    return rc;
  }
  using K = codec::VoteKind;
  K next;
  if (!revoke) {
    if (had && vr.kind == K::kReport) {
      *effect = VoteEffect::kUnchanged;
      return 0;
    }
    *effect = had && vr.kind == K::kRevoke ? VoteEffect::kChanged : VoteEffect::kRecorded;
    next = K::kReport;
  } else {
    if (had && (vr.kind == K::kRevoke || vr.kind == K::kWithdrawn)) {
      *effect = VoteEffect::kUnchanged;
      return 0;
    }
    if (had && vr.kind == K::kReport) {
      *effect = VoteEffect::kWithdrawn;
      next = K::kWithdrawn;
    } else {
      *effect = VoteEffect::kRecorded;
      next = K::kRevoke;
    }
  }
  if (had && vr.kind == K::kReport && rec.reports > 0) --rec.reports;
  if (had && vr.kind == K::kRevoke && rec.revokes > 0) --rec.revokes;
  if (next == K::kReport) ++rec.reports;
  if (next == K::kRevoke) ++rec.revokes;
  vr.kind = next;
  vr.time = now;
  if (next != K::kWithdrawn && !fresh) {  // nobody else voted on a new signature
    if ((rc = apply_events(c, id, j, next, &vr.flags, ev)) != 0) return rc;
  }
  if ((rc = txn.put(dbi_.votes, codec::sv(vk), codec::encode_vote(vr))) != 0) return rc;
  if (!had) ++c.counts.votes;
  rec.last_vote = std::max(rec.last_vote, now);
  if (fresh || rec.activity() != old_activity) {
    if (!fresh) {
      rc = txn.del(dbi_.activity, codec::sv(codec::activity_key(old_activity, id)));
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    }
    rc = txn.put(dbi_.activity, codec::sv(codec::activity_key(rec.activity(), id)),
                 std::string_view("\x01", 1));
    if (rc != 0) return rc;
  }
  if ((rc = txn.put(dbi_.sigs, codec::sv(codec::sig_id_key(id)), codec::encode_sig(rec))) != 0) {
    return rc;
  }
  if (next == K::kReport) {
    ++jrec.reports;
  } else {
    ++jrec.revokes;
  }
  jrec.last_active = std::max(jrec.last_active, now);
  return 0;
}

int StoreImpl::apply_events(WriteCtx& c, SigId id, ReporterId j, codec::VoteKind kind,
                            std::uint8_t* flags, MessageEvents& ev) {
  const Trust tj = ev.judge_trust;
  lmdb::Cursor cur;
  int rc = lmdb::Cursor::open(*c.txn, dbi_.votes, &cur);
  if (rc != 0) return rc;
  auto first = codec::vote_key(id, 0);
  auto prefix_key = codec::sig_id_key(id);
  std::string_view prefix = codec::sv(prefix_key);
  Trust max_opposing = 0;
  std::string_view k, v;
  for (rc = cur.seek(codec::sv(first), &k, &v); rc == 0 && has_prefix(k, prefix);
       rc = cur.get(&k, &v, MDB_NEXT)) {
    if (k.size() != 8) continue;
    ReporterId r = codec::get_u32(k.data() + 4);
    if (r == j) continue;
    auto vr = codec::decode_vote(v);
    if (!vr || vr->kind == codec::VoteKind::kWithdrawn) continue;
    const bool same = vr->kind == kind;
    const Trust tr = weight(c, r);
    std::uint8_t nf = vr->flags;
    if (same && reputation::corroborates(tj) && (nf & codec::kVoteCredited) == 0) {
      auto [it, inserted] = ev.credit.try_emplace(r, false);
      if (inserted) {
        // Credit pacing: one credit per (judge, reporter) per UTC day, kCreditSlots a day.
        std::string_view rv;
        int grc = c.txn->get(dbi_.reporters, codec::sv(codec::reporter_key(r)), &rv);
        if (grc != 0 && grc != MDB_NOTFOUND) return grc;
        auto rrec = grc == 0 ? codec::decode_reporter(rv) : std::nullopt;
        it->second = rrec && reputation::may_credit(credit_log(*rrec), j, ev.day);
      }
      if (it->second) nf |= codec::kVoteCredited;  // refused: a later judge may still credit
    }
    if (!same && reputation::contradicts(tj, tr) && (nf & codec::kVotePenalised) == 0) {
      nf |= codec::kVotePenalised;
      ev.penalise.insert(r);
    }
    if (!same && reputation::contradicts(tr, tj)) max_opposing = std::max(max_opposing, tr);
    if (nf != vr->flags) {
      vr->flags = nf;
      std::string key(k);  // k points into a page the put may move
      if ((rc = cur.put(key, codec::encode_vote(*vr), MDB_CURRENT)) != 0) return rc;
    }
  }
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  cur.close();
  if (max_opposing > 0 && (*flags & codec::kVotePenalised) == 0) {
    *flags |= codec::kVotePenalised;
    ev.judge_penalty = std::max(ev.judge_penalty, max_opposing);
  }
  return 0;
}

int StoreImpl::delete_sig(WriteCtx& c, SigId id, const codec::SigRecord& rec) {
  lmdb::Txn& txn = *c.txn;
  int rc = txn.del(dbi_.sigs, codec::sv(codec::sig_id_key(id)));
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  std::string_view v;
  IndexChange ch;
  ch.add = false;
  ch.id = id;
  ch.exact = codec::exact_key64(rec.engine, rec.value);
  if (rec.engine == sigs::Engine::kFuzzy) {
    if (auto h = codec::decode_fuzzy(rec.value)) {
      ch.fuzzy = true;
      ch.hashes = *h;
    }
  }
  c.index.push_back(ch);
  // Votes: re-seek after each delete (a sig has few votes; keeps cursor rules simple).
  {
    lmdb::Cursor cur;
    if ((rc = lmdb::Cursor::open(txn, dbi_.votes, &cur)) != 0) return rc;
    auto first = codec::vote_key(id, 0);
    auto prefix_key = codec::sig_id_key(id);
    std::string_view k;
    for (;;) {
      rc = cur.seek(codec::sv(first), &k, &v);
      if (rc == MDB_NOTFOUND || (rc == 0 && !has_prefix(k, codec::sv(prefix_key)))) break;
      if (rc != 0) return rc;
      if ((rc = cur.del()) != 0) return rc;
      if (c.counts.votes > 0) --c.counts.votes;
    }
  }
  rc = txn.del(dbi_.activity, codec::sv(codec::activity_key(rec.activity(), id)));
  if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  auto& n = c.counts.by_engine[static_cast<std::size_t>(rec.engine) & 7];
  if (n > 0) --n;
  ++c.expired;
  return 0;
}

int StoreImpl::touch_hit(WriteCtx& c, SigId id, std::uint64_t when) {
  lmdb::Txn& txn = *c.txn;
  auto key = codec::sig_id_key(id);
  std::string_view v;
  int rc = txn.get(dbi_.sigs, codec::sv(key), &v);
  if (rc == MDB_NOTFOUND) return 0;
  if (rc != 0) return rc;
  auto rec = codec::decode_sig(v);
  if (!rec) return 0;
  if (when <= rec->last_hit) return 0;
  std::uint64_t old_activity = rec->activity();
  rec->last_hit = when;
  if (rec->activity() != old_activity) {
    rc = txn.del(dbi_.activity, codec::sv(codec::activity_key(old_activity, id)));
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    rc = txn.put(dbi_.activity, codec::sv(codec::activity_key(rec->activity(), id)),
                 std::string_view("\x01", 1));
    if (rc != 0) return rc;
  }
  return txn.put(dbi_.sigs, codec::sv(key), codec::encode_sig(*rec));
}

void StoreImpl::flush_hits(TimePoint) {
  std::vector<std::pair<SigId, std::uint64_t>> hits;
  {
    std::lock_guard g(hits_mu_);
    hits.swap(hits_);
  }
  if (hits.empty()) return;
  std::sort(hits.begin(), hits.end());
  std::vector<std::unique_ptr<Op>> ops;
  auto op = std::make_unique<Op>();
  op->cost = hits.size();
  op->apply = [hits = std::move(hits)](StoreImpl& s, WriteCtx& c) {
    for (std::size_t i = 0; i < hits.size(); ++i) {
      // Sorted by (id, time): the last entry of an id is its latest hit.
      if (i + 1 < hits.size() && hits[i + 1].first == hits[i].first) continue;
      if (int rc = s.touch_hit(c, hits[i].first, hits[i].second); rc != 0) return rc;
    }
    return 0;
  };
  ops.push_back(std::move(op));
  run_batch(ops);
}

std::uint64_t StoreImpl::sweep_step(TimePoint now, bool* more, Error* err) {
  *more = false;
  if (opt_.expire_after.count() <= 0) return 0;
  const std::uint64_t now_s = to_u64(now);
  const auto age = static_cast<std::uint64_t>(opt_.expire_after.count());
  if (now_s < age) return 0;
  const std::uint64_t cutoff = now_s - age;
  auto state = std::make_shared<std::pair<std::uint64_t, bool>>(0, false);
  auto failed = std::make_shared<std::optional<Error>>();
  std::vector<std::unique_ptr<Op>> ops;
  auto op = std::make_unique<Op>();
  op->cost = opt_.sweep_batch;
  const std::size_t limit = opt_.sweep_batch;
  op->apply = [state, cutoff, limit](StoreImpl& s, WriteCtx& c) {
    *state = {0, false};
    std::vector<std::pair<std::uint64_t, SigId>> due;
    {
      lmdb::Cursor cur;
      int rc = lmdb::Cursor::open(*c.txn, s.dbi_.activity, &cur);
      if (rc != 0) return rc;
      std::string_view k, v;
      for (rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
        if (k.size() != 12) continue;
        std::uint64_t t = codec::get_u64(k.data());
        if (t >= cutoff) break;
        if (due.size() == limit) {
          state->second = true;  // more remain
          break;
        }
        due.emplace_back(t, codec::get_u32(k.data() + 8));
      }
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    }
    for (auto [t, id] : due) {
      std::string_view v;
      int rc = c.txn->get(s.dbi_.sigs, codec::sv(codec::sig_id_key(id)), &v);
      auto rec = rc == 0 ? codec::decode_sig(v) : std::nullopt;
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
      if (!rec || rec->activity() != t) {
        // A stale activity entry (its signature is gone or moved on): drop it.
        rc = c.txn->del(s.dbi_.activity, codec::sv(codec::activity_key(t, id)));
        if (rc != 0 && rc != MDB_NOTFOUND) return rc;
        continue;
      }
      if ((rc = s.delete_sig(c, id, *rec)) != 0) return rc;
      ++state->first;
    }
    return 0;
  };
  op->complete = [failed](const Error* e) {
    if (e != nullptr) *failed = *e;
  };
  ops.push_back(std::move(op));
  run_batch(ops);
  if (*failed) {
    *err = **failed;
    return 0;
  }
  *more = state->second;
  return state->first;
}

// ---------------------------------------------------------------------------------------
// Reporters (synchronous writes through the writer)

Result<Reporter> StoreImpl::add_reporter(const ReporterSpec& spec) {
  if (!valid_reporter_name(spec.name)) {
    return make_error(Errc::kInvalidArgument,
                      "reporter name must be 1-64 characters of [A-Za-z0-9._@+-]");
  }
  if (spec.secret.empty() || spec.secret.size() > kMaxReporterSecret) {
    return make_error(Errc::kInvalidArgument, "reporter secret must be 1-128 bytes");
  }
  if (spec.trust && !(*spec.trust >= 0.0 && *spec.trust <= 1.0)) {
    return make_error(Errc::kInvalidArgument, "trust must be between 0 and 1");
  }
  const std::uint64_t created = to_u64(now());
  return run_sync<Reporter>(1, [spec, created](StoreImpl& s, WriteCtx& c, Result<Reporter>* out) {
    ReporterId existing = 0;
    int rc = s.find_reporter_id(*c.txn, spec.name, &existing);
    if (rc == 0) {
      *out = make_error(Errc::kExists, "reporter '" + spec.name + "' exists");
      return 0;
    }
    if (rc != MDB_NOTFOUND) return rc;
    ReporterId id = c.next_reporter_id++;
    codec::ReporterRecord r;
    r.base = spec.trust ? reputation::trust_from_double(*spec.trust) : reputation::kNewReporterTrust;
    if (spec.trust && spec.pinned) r.flags |= codec::kReporterPinned;
    if (spec.admin) r.flags |= codec::kReporterAdmin;
    if (spec.open_registration) r.flags |= codec::kReporterOpen;  // capped until vouched
    r.created = created;
    r.name = spec.name;
    r.secret = spec.secret;
    set_effective_trust(r);
    rc = c.txn->put(s.dbi_.reporters, codec::sv(codec::reporter_key(id)), codec::encode_reporter(r));
    if (rc != 0) return rc;
    rc = c.txn->put(s.dbi_.reporter_names, spec.name, codec::encode_id(id), MDB_NOOVERWRITE);
    if (rc != 0) return rc;
    ++c.counts.reporters;
    c.weights[id] = weight_of(r);
    c.reporters_changed = true;
    *out = to_reporter(id, r);
    return 0;
  });
}

Result<Reporter> StoreImpl::set_trust(std::string_view name, double trust, bool pinned) {
  if (!(trust >= 0.0 && trust <= 1.0)) {
    return make_error(Errc::kInvalidArgument, "trust must be between 0 and 1");
  }
  std::string n(name);
  return run_sync<Reporter>(1, [n, trust, pinned](StoreImpl& s, WriteCtx& c, Result<Reporter>* out) {
    ReporterId id = 0;
    int rc = s.find_reporter_id(*c.txn, n, &id);
    if (rc == MDB_NOTFOUND) {
      *out = make_error(Errc::kNotFound, "no such reporter");
      return 0;
    }
    if (rc != 0) return rc;
    rc = s.update_reporter(c, id, [&](codec::ReporterRecord& r) {
      r.base = reputation::trust_from_double(trust);
      r.flags &= static_cast<std::uint8_t>(~codec::kReporterOpen);  // an admin vouches for it
      if (pinned) {
        r.flags |= codec::kReporterPinned;
      } else {
        r.flags &= static_cast<std::uint8_t>(~codec::kReporterPinned);
      }
    });
    if (rc != 0) return rc;
    c.weights.try_emplace(id, 0);  // force publication of the new weight
    c.reporters_changed = true;
    std::string_view v;
    if ((rc = c.txn->get(s.dbi_.reporters, codec::sv(codec::reporter_key(id)), &v)) != 0) return rc;
    auto r = codec::decode_reporter(v);
    if (!r) return MDB_CORRUPTED;
    c.weights[id] = weight_of(*r);
    *out = to_reporter(id, *r);
    return 0;
  });
}

Result<Reporter> StoreImpl::set_disabled(std::string_view name, bool disabled) {
  std::string n(name);
  return run_sync<Reporter>(1, [n, disabled](StoreImpl& s, WriteCtx& c, Result<Reporter>* out) {
    ReporterId id = 0;
    int rc = s.find_reporter_id(*c.txn, n, &id);
    if (rc == MDB_NOTFOUND) {
      *out = make_error(Errc::kNotFound, "no such reporter");
      return 0;
    }
    if (rc != 0) return rc;
    rc = s.update_reporter(c, id, [&](codec::ReporterRecord& r) {
      if (disabled) {
        r.flags |= codec::kReporterDisabled;
      } else {
        r.flags &= static_cast<std::uint8_t>(~codec::kReporterDisabled);
      }
    });
    if (rc != 0) return rc;
    std::string_view v;
    if ((rc = c.txn->get(s.dbi_.reporters, codec::sv(codec::reporter_key(id)), &v)) != 0) return rc;
    auto r = codec::decode_reporter(v);
    if (!r) return MDB_CORRUPTED;
    c.weights[id] = weight_of(*r);
    c.reporters_changed = true;
    *out = to_reporter(id, *r);
    return 0;
  });
}

}  // namespace strop::storage
