// store_read.cpp: the read path (pooled read transactions, check, reporter lookups, stats,
// backup; see store_impl.hpp).

#include <algorithm>
#include <filesystem>
#include <optional>
#include <system_error>

#include "store_impl.hpp"
#include "store_util.hpp"

namespace strop::storage {

namespace fs = std::filesystem;
using codec::SigId;
using reputation::Trust;

namespace {

constexpr std::size_t kMaxPooledReadTxns = 64;
constexpr std::size_t kMaxPendingHits = 1 << 16;

}  // namespace

bool can_list(sigs::EngineMask verdict_engines, std::span<const sigs::Signature> message) {
  return std::any_of(message.begin(), message.end(),
                     [&](const sigs::Signature& s) { return verdict_engines.has(s.engine); });
}

// ---------------------------------------------------------------------------------------
// Read path

Result<StoreImpl::ReadTxn> StoreImpl::begin_read() {
  for (int attempt = 0; attempt < 5; ++attempt) {
    std::shared_lock lock(map_mu_);
    MDB_txn* pooled = nullptr;
    {
      MutexLock g(&pool_mu_);
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
  MutexLock g(&pool_mu_);
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

int StoreImpl::read_weights(lmdb::Txn& txn, std::vector<Trust>* out) const {
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
  *out = std::move(w);
  return 0;
}

void StoreImpl::install_weights(std::vector<Trust> w, std::uint64_t gen) {
  weights_ = std::move(w);
  weights_gen_ = gen;
  weights_loaded_ = true;
}

bool StoreImpl::weights_current(std::uint64_t gen) {
  ReaderMutexLock lk(&trust_mu_);
  return weights_loaded_ && weights_gen_ == gen;
}

void StoreImpl::refresh_weights(lmdb::Txn& txn) {
  std::string_view v;
  std::uint64_t gen = 0;
  if (txn.get(dbi_.meta, codec::kMetaReportersGen, &v) == 0) gen = codec::decode_u64(v).value_or(0);
  {
    ReaderMutexLock lk(&trust_mu_);
    if (weights_loaded_ && gen <= weights_gen_) return;
  }
  std::vector<Trust> w;
  if (int rc = read_weights(txn, &w); rc != 0) {
    log()->warn("storage: cannot load reporter weights: {}", mdb_strerror(rc));
    return;
  }
  WriterMutexLock lk(&trust_mu_);
  if (weights_loaded_ && gen <= weights_gen_) return;  // another thread was first
  install_weights(std::move(w), gen);
}

Result<CheckOutcome> StoreImpl::check(std::span<const sigs::Signature> sigs) {
  return check(sigs, now());
}

std::vector<StoreImpl::Candidate> StoreImpl::index_candidates(
    std::span<const sigs::Signature> sigs,
    const std::vector<std::optional<sigs::FuzzyHashes>>& fz) {
  std::vector<Candidate> cands;
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
  // From kFuzzyUrlMatchMin: a weaker agreement still backs a url/1 match (the node decides).
  index_->lookup(exact_keys, fuzzy, sigs::kFuzzyUrlMatchMin, &eh, &fh);
  cands.reserve(cands.size() + eh.size() + fh.size());
  for (auto& h : eh) cands.push_back({exact_query[h.query], h.id, nullptr});
  for (auto& h : fh) cands.push_back({fuzzy_query[h.query], h.id, fuzzy[h.query]});
  std::stable_sort(cands.begin(), cands.end(),
                   [](const Candidate& a, const Candidate& b) { return a.query < b.query; });
  return cands;
}

Result<CheckOutcome> StoreImpl::check(std::span<const sigs::Signature> sigs, TimePoint now) {
  CheckOutcome out;
  std::vector<std::optional<sigs::FuzzyHashes>> fz(sigs.size());
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    if (sigs[i].engine == sigs::Engine::kFuzzy) fz[i] = codec::decode_fuzzy(sigs[i].value);
  }
  if (auto r = ensure_index(); !r) return r.error();
  std::vector<Candidate> cands = index_candidates(sigs, fz);
  if (cands.empty()) return out;  // the common case: no LMDB access at all

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
  // The allowlist is looked up for matches only, and not at all while it is empty.
  const bool allowlist = !allowlist_empty(txn);
  std::vector<std::int8_t> query_allowed(allowlist ? sigs.size() : 0, -1);  // -1: not read
  auto is_allowed = [&](sigs::Engine engine, std::string_view value, int* err) {
    std::uint64_t since = 0;
    int r = find_allowed(txn, engine, value, &since);
    if (r != 0 && r != MDB_NOTFOUND) *err = r;
    return r == 0;
  };
  ReaderMutexLock wl(&trust_mu_);
  std::size_t strong = 0;  // matches other than weak fuzzy/1 agreements
  for (const Candidate& c : cands) {
    const sigs::Signature& q = sigs[c.query];
    std::string_view v;
    rc = txn.get(dbi_.sigs, codec::sv(codec::sig_id_key(c.id)), &v);
    if (rc == MDB_NOTFOUND) continue;  // expired since the index was read
    if (rc != 0) return lmdb::to_error(rc, "read signature");
    auto rec = codec::peek_sig(v);  // views into the map, valid during this txn
    if (!rec || rec->engine != q.engine) continue;
    double similarity = 1.0;
    bool weak = false;  // a fuzzy/1 agreement under kFuzzyMatchMin: reported, never a hit
    if (c.fuzzy != nullptr) {
      int eq = codec::fuzzy_equal_positions_text(rec->value, q.value);
      if (eq < sigs::kFuzzyUrlMatchMin) continue;
      weak = eq < sigs::kFuzzyMatchMin;
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
    m.first_seen = from_u64(rec->first_seen);
    if (allowlist) {
      int err = 0;
      m.allowed = is_allowed(rec->engine, rec->value, &err);
      if (!m.allowed && c.fuzzy != nullptr) {
        // An allowed fuzzy query: nothing similar to it lists either.
        std::int8_t& qa = query_allowed[c.query];
        if (qa < 0) qa = is_allowed(q.engine, q.value, &err) ? 1 : 0;
        m.allowed = qa == 1;
      }
      if (err != 0) return lmdb::to_error(err, "read allowlist");
    }
    std::uint64_t last_report = 0, first_revoke = 0, last_revoke = 0;
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
      if ((vr->flags & codec::kVotePeer) != 0) w = hop_weight(w, vr->hop);
      bool revoke = vr->kind == codec::VoteKind::kRevoke;
      (revoke ? m.revokes : m.reports) += 1;
      votes.push_back({w, revoke});
      if (revoke) {
        if (first_revoke == 0 || vr->time < first_revoke) first_revoke = vr->time;
        last_revoke = std::max(last_revoke, vr->time);
      } else {
        last_report = std::max(last_report, vr->time);
      }
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return lmdb::to_error(rc, "read votes");
    m.last_report = from_u64(last_report);
    m.first_revoke = from_u64(first_revoke);
    m.last_revoke = from_u64(last_revoke);
    m.confidence = reputation::confidence(votes);
    if (!weak && opt_.verdict_engines.has(m.engine))
      out.confidence = std::max(out.confidence, m.confidence);
    strong += !weak;
    if (!weak && (resolution == 0 || now_s >= last_hit + resolution))
      hits.emplace_back(c.id, now_s);
    out.matches.push_back(std::move(m));
  }
  wl.unlock();
  vc.close();
  std::stable_sort(out.matches.begin(), out.matches.end(),
                   [](const Match& a, const Match& b) { return a.query_index < b.query_index; });
  out.spam = out.confidence >= opt_.threshold && strong > 0;
  if (!hits.empty()) {
    MutexLock g(&hits_mu_);
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
    if (rt->txn().get(dbi_.meta, codec::kMetaAppliedSeq, &v) == 0) {
      if (auto a = codec::decode_u64(v)) s.applied_sequence = *a;
    }
  }
  {
    MutexLock lk(&q_mu_);
    s.writer_queue_depth = queued_cost_;
  }
  s.commits = commits_.load();
  s.committed_ops = committed_ops_.load();
  s.last_commit_latency = std::chrono::microseconds(last_commit_us_.load());
  s.max_commit_latency = std::chrono::microseconds(max_commit_us_.load());
  s.max_index_latency = std::chrono::microseconds(max_index_us_.load());
  s.max_index_cpu = std::chrono::microseconds(max_index_cpu_us_.load());
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
    s.max_index_writer_wait = std::chrono::microseconds(index_->max_writer_wait_ns() / 1000);
    s.index_from_snapshot = snapshot_stamp_.has_value();  // set before the writer started
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

}  // namespace strop::storage
