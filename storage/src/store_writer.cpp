// store_writer.cpp: the write path: the queue, the writer thread, batches and their commit,
// map growth, hit flushing and expiry (see store_impl.hpp).

#include <time.h>

#include <algorithm>
#include <optional>

#include "store_impl.hpp"
#include "store_util.hpp"

namespace strop::storage {

using codec::SigId;

namespace {

constexpr auto kHitFlushInterval = std::chrono::seconds(1);

std::int64_t thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

// Acknowledges operations [from, to) of a batch (err: the batch's failure, or null once
// committed and published).
void complete_range(std::vector<std::unique_ptr<Op>>& ops, std::size_t from, std::size_t to,
                    const Error* err) {
  for (std::size_t i = from; i < to; ++i) {
    try {
      if (ops[i]->complete) ops[i]->complete(err);
    } catch (const std::exception& e) {
      log()->error("storage: write completion threw: {}", e.what());
    }
  }
}

void complete_all(std::vector<std::unique_ptr<Op>>& ops, const Error* err) {
  complete_range(ops, 0, ops.size(), err);
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Write path: queue, writer thread and batches

Result<void> StoreImpl::enqueue(std::unique_ptr<Op> op) {
  {
    MutexLock lk(&q_mu_);
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

// By value: the completion keeps a copy and the enqueue-failure path below still calls `done`.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
void StoreImpl::submit_vote(VoteRequest request, VoteCallback done) {
  if (request.sigs.empty()) {
    done(VoteOutcome{});
    return;
  }
  if (!request.message_sizes.empty()) {
    std::uint64_t total = 0;
    for (auto n : request.message_sizes) total += n;
    if (total != request.sigs.size()) {
      done(
          make_error(Errc::kInvalidArgument, "message sizes do not add up to the signature count"));
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
    MutexLock g(&serve_lock_mu_);
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
  op->complete = complete_from(state, done, "vote");
  auto q = enqueue(std::move(op));
  if (!q) done(q.error());
}

void StoreImpl::report(ReporterId reporter, std::vector<sigs::Signature> sigs, TimePoint now,
                       VoteCallback done) {
  submit_vote(VoteRequest{reporter, false, std::move(sigs), {}, std::nullopt, now},
              std::move(done));
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
  if (opt_.replicated_activity) {
    return make_error(Errc::kUnavailable,
                      "this store is a fleet member: expiry goes through the fleet's log");
  }
  if (std::this_thread::get_id() == writer_.get_id()) {
    return make_error(Errc::kInternal, "synchronous store write from the writer thread");
  }
  auto job = std::make_unique<ExpireJob>();
  job->now = now;
  auto f = job->done.get_future();
  {
    MutexLock lk(&q_mu_);
    if (stopping_) return make_error(Errc::kUnavailable, "store is closing");
    expire_jobs_.push_back(std::move(job));
  }
  q_cv_.notify_one();
  return f.get();
}

void StoreImpl::writer_loop() {
  using SteadyClock = std::chrono::steady_clock;
  // In a fleet, hits and the sweep's steps arrive as log events (replicated_activity).
  const bool local_activity = !opt_.replicated_activity;
  const bool sweeper = opt_.serve && opt_.expire_after.count() > 0 && local_activity;
  auto next_sweep =
      sweeper ? SteadyClock::now() + opt_.sweep_interval : SteadyClock::time_point::max();
  auto next_hits = SteadyClock::now() + kHitFlushInterval;
  bool sweeping = false;
  for (;;) {
    std::vector<std::unique_ptr<Op>> batch;
    ExpireJob* job = nullptr;
    bool exit = false;
    {
      MutexLock lk(&q_mu_);
      auto ready = [&]() REQUIRES(q_mu_) {
        return !queue_.empty() || stopping_ || !expire_jobs_.empty();
      };
      if (!ready() && !sweeping) q_cv_.wait_until(&q_mu_, std::min(next_sweep, next_hits), ready);
      if (!queue_.empty() && opt_.max_batch_delay.count() > 0 &&
          queued_cost_ < opt_.max_batch_ops) {
        q_cv_.wait_for(&q_mu_, opt_.max_batch_delay, [&]() REQUIRES(q_mu_) {
          return queued_cost_ >= opt_.max_batch_ops || stopping_;
        });
      }
      std::size_t cost = 0;
      while (!queue_.empty() &&
             (batch.empty() || cost + queue_.front()->cost <= opt_.max_batch_ops)) {
        cost += queue_.front()->cost;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_cost_ -= cost;
      if (!expire_jobs_.empty()) {
        if (stopping_) {
          for (auto& j : expire_jobs_)
            j->done.set_value(make_error(Errc::kUnavailable, "store is closing"));
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
      if (local_activity) flush_hits(now());
      return;
    }
    auto t = SteadyClock::now();
    if (t >= next_hits || job != nullptr || sweeping || t >= next_sweep) {
      if (local_activity) flush_hits(now());
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
          MutexLock lk(&q_mu_);
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
      if (!sweeping) next_sweep = SteadyClock::now() + opt_.sweep_interval;
    }
  }
}

bool StoreImpl::grow_map(std::size_t at_least) {
  const auto t0 = std::chrono::steady_clock::now();
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
  // Readers wait for this (the lock, then remapping: its cost grows with the resident pages).
  const auto stalled =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  log()->info("storage: map grown from {} MiB to {} MiB in {:.1f} ms", cur >> 20, want >> 20,
              static_cast<double>(stalled.count()) / 1000.0);
  return true;
}

void StoreImpl::maybe_grow() {
  std::size_t map = env_.map_size();
  if (env_.used_bytes() > map / 10 * 8) grow_map(0);
}

int StoreImpl::commit_batch(std::vector<std::unique_ptr<Op>>& ops, WriteCtx& c) {
  std::shared_lock lock(map_mu_);
  lmdb::Txn txn;
  int rc = lmdb::Txn::begin(env_, 0, &txn);
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
    if (rc == 0) {  // fleet mode only: absent in a standalone store
      int arc = txn.get(dbi_.meta, codec::kMetaAppliedSeq, &v);
      if (arc == 0) {
        auto d = codec::decode_u64(v);
        if (!d) {
          rc = MDB_CORRUPTED;
        } else {
          c.applied_seq = *d;
        }
      } else if (arc != MDB_NOTFOUND) {
        rc = arc;
      }
    }
    if (rc == 0 && !weights_current(c.reporters_gen)) {
      // Read outside the lock, so checks wait only for the swap. This transaction's generation
      // is the newest; it replaces whatever a check's refresh_weights() installed meanwhile.
      std::vector<reputation::Trust> w;
      rc = read_weights(txn, &w);
      if (rc == 0) {
        WriterMutexLock wl(&trust_mu_);
        install_weights(std::move(w), c.reporters_gen);
      }
    }
    // The counters are written back only when they moved: a batch that changes nothing (a
    // flush, a sweep with nothing due) then commits no page, LMDB's transaction id stays, and
    // the index snapshot taken at that id stays current (a stop does not rewrite it).
    const codec::Counts counts_read = c.counts;
    const codec::SigId next_sig_id_read = c.next_sig_id;
    const ReporterId next_reporter_id_read = c.next_reporter_id;
    for (auto& op : ops) {
      if (rc != 0) break;
      rc = op->apply(*this, c);
      c.op_index_end.push_back(c.index.size());
    }
    if (rc == 0 && c.counts != counts_read) {
      rc = txn.put(dbi_.meta, codec::kMetaCounts, codec::encode_counts(c.counts));
    }
    if (rc == 0 && c.next_sig_id != next_sig_id_read) {
      rc = txn.put(dbi_.meta, codec::kMetaNextSigId, codec::encode_u32(c.next_sig_id));
    }
    if (rc == 0 && c.next_reporter_id != next_reporter_id_read) {
      rc = txn.put(dbi_.meta, codec::kMetaNextReporterId, codec::encode_u32(c.next_reporter_id));
    }
    if (rc == 0 && c.applied_seq_changed) {
      rc = txn.put(dbi_.meta, codec::kMetaAppliedSeq, codec::encode_u64(c.applied_seq));
    }
    if (rc == 0 && c.feed_seq_changed) {
      rc = txn.put(dbi_.meta, codec::kMetaFeedSeq, codec::encode_u64(c.feed_seq));
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
  return rc;
}

void StoreImpl::publish_batch(WriteCtx& c, std::vector<std::unique_ptr<Op>>& ops, std::size_t cost,
                              std::chrono::steady_clock::time_point t0) {
  // What does not wait for the index comes first, so no acknowledgment precedes it.
  if (c.reporters_changed) {
    WriterMutexLock wl(&trust_mu_);
    if (weights_gen_ < c.reporters_gen) {
      for (auto [id, w] : c.weights) {
        if (id >= weights_.size()) weights_.resize(static_cast<std::size_t>(id) + 1, 0);
        weights_[id] = w;
      }
      weights_gen_ = c.reporters_gen;
    }
  }
  if (c.applied_seq_changed) applied_seq_ = c.applied_seq;
  ++commits_;
  committed_ops_ += cost;
  last_batch_ops_ = cost;
  expired_ += c.expired;
  // The index, in steps of at most kMaxUpdatesPerApply table updates (a step's growth is
  // bounded by its size, so no step holds the writer long), cut at operation boundaries
  // where a step can hold whole operations. An operation is acknowledged once the step
  // holding its last change is applied: never before its signatures are findable, and the
  // first reports of a large batch do not wait for the index updates of the later ones. The
  // index never leads LMDB: every step follows the commit.
  std::size_t acked = 0;             // operations acknowledged
  if (index_ && !c.index.empty()) {  // (index_ is set on this thread, or before it ran)
    const std::span<const IndexChange> all(c.index);
    std::size_t begin = 0, updates = 0;  // the step being gathered: [begin, j), its updates
    auto apply_step = [&](std::size_t end) {
      if (end > begin) {
        auto i0 = std::chrono::steady_clock::now();
        auto cpu0 = thread_cpu_us();
        index_->apply(all.subspan(begin, end - begin));
        auto ius = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - i0)
                       .count();
        if (ius > max_index_us_) max_index_us_ = ius;
        auto cpu = thread_cpu_us() - cpu0;
        if (cpu > max_index_cpu_us_) max_index_cpu_us_ = cpu;
      }
      begin = end;
      updates = 0;
    };
    std::size_t op_begin = 0;  // first change of operation i
    for (std::size_t i = 0; i < ops.size() && i < c.op_index_end.size(); ++i) {
      const std::size_t op_end = c.op_index_end[i];
      std::size_t op_updates = 0;
      for (std::size_t j = op_begin; j < op_end; ++j) op_updates += MemoryIndex::updates(all[j]);
      if (updates > 0 && updates + op_updates > MemoryIndex::kMaxUpdatesPerApply) {
        apply_step(op_begin);  // the step ends before operation i
        complete_range(ops, acked, i, nullptr);
        acked = i;
      }
      for (std::size_t j = op_begin; j < op_end; ++j) {  // an operation larger than a step
        const std::size_t u = MemoryIndex::updates(all[j]);
        if (updates > 0 && updates + u > MemoryIndex::kMaxUpdatesPerApply) apply_step(j);
        updates += u;
      }
      op_begin = op_end;
    }
    apply_step(c.index.size());
  }
  auto elapsed = std::chrono::steady_clock::now() - t0;
  if (opt_.on_commit) opt_.on_commit(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed));
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  last_commit_us_ = us;
  if (us > max_commit_us_) max_commit_us_ = us;
  complete_range(ops, acked, ops.size(), nullptr);
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
    rc = commit_batch(ops, c);
    if (rc == 0) {
      // Durable. Publish to the in-memory structures and acknowledge.
      publish_batch(c, ops, cost, t0);
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
  complete_all(ops, &err);
}

// ---------------------------------------------------------------------------------------
// Write path: hits and expiry (operations run on the writer thread)

int StoreImpl::delete_sig(WriteCtx& c, SigId id, const codec::SigRecord& rec) {
  lmdb::Txn& txn = *c.txn;
  int rc = federation_forget(c, id, rec);
  if (rc != 0) return rc;
  rc = txn.del(dbi_.sigs, codec::sv(codec::sig_id_key(id)));
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
    MutexLock g(&hits_mu_);
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

Result<std::vector<sigs::Signature>> StoreImpl::take_hits() {
  std::vector<std::pair<SigId, std::uint64_t>> hits;
  {
    MutexLock g(&hits_mu_);
    hits.swap(hits_);
  }
  std::vector<sigs::Signature> out;
  if (hits.empty()) return out;
  std::sort(hits.begin(), hits.end());
  auto rt = begin_read();
  if (!rt) return rt.error();
  out.reserve(hits.size());
  for (std::size_t i = 0; i < hits.size(); ++i) {
    if (i > 0 && hits[i - 1].first == hits[i].first) continue;
    std::string_view v;
    int rc = rt->txn().get(dbi_.sigs, codec::sv(codec::sig_id_key(hits[i].first)), &v);
    if (rc == MDB_NOTFOUND) continue;  // deleted since the check
    if (rc != 0) return lmdb::to_error(rc, "read hit signatures");
    auto p = codec::peek_sig(v);
    if (!p) return make_error(Errc::kIo, "corrupt signature record");
    out.push_back(sigs::Signature{p->engine, std::string(p->value)});
  }
  return out;
}

Result<bool> StoreImpl::expiry_due(TimePoint cutoff) {
  auto rt = begin_read();
  if (!rt) return rt.error();
  lmdb::Cursor cur;
  int rc = lmdb::Cursor::open(rt->txn(), dbi_.activity, &cur);
  if (rc != 0) return lmdb::to_error(rc, "activity cursor");
  std::string_view k, v;
  rc = cur.get(&k, &v, MDB_FIRST);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) return lmdb::to_error(rc, "activity cursor");
  // The first entry is the least recently active (a stale one too, which a step cleans up).
  return k.size() == 12 && codec::get_u64(k.data()) < to_u64(cutoff);
}

int StoreImpl::expire_due(WriteCtx& c, std::uint64_t cutoff, std::size_t limit,
                          std::uint64_t* expired, bool* more) {
  *expired = 0;
  *more = false;
  std::vector<std::pair<std::uint64_t, SigId>> due;
  {
    lmdb::Cursor cur;
    int rc = lmdb::Cursor::open(*c.txn, dbi_.activity, &cur);
    if (rc != 0) return rc;
    std::string_view k, v;
    for (rc = cur.get(&k, &v, MDB_FIRST); rc == 0; rc = cur.get(&k, &v, MDB_NEXT)) {
      if (k.size() != 12) continue;
      std::uint64_t t = codec::get_u64(k.data());
      if (t >= cutoff) break;
      if (due.size() == limit) {
        *more = true;
        break;
      }
      due.emplace_back(t, codec::get_u32(k.data() + 8));
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
  }
  for (auto [t, id] : due) {
    std::string_view v;
    int rc = c.txn->get(dbi_.sigs, codec::sv(codec::sig_id_key(id)), &v);
    auto rec = rc == 0 ? codec::decode_sig(v) : std::nullopt;
    if (rc != 0 && rc != MDB_NOTFOUND) return rc;
    if (!rec || rec->activity() != t) {
      // A stale activity entry (its signature is gone or moved on): drop it.
      rc = c.txn->del(dbi_.activity, codec::sv(codec::activity_key(t, id)));
      if (rc != 0 && rc != MDB_NOTFOUND) return rc;
      continue;
    }
    if ((rc = delete_sig(c, id, *rec)) != 0) return rc;
    ++c.expired;
    ++*expired;
  }
  return 0;
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
    return s.expire_due(c, cutoff, limit, &state->first, &state->second);
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

}  // namespace strop::storage
