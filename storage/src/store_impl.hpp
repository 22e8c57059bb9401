// store_impl.hpp: the Store implementation (internal to storage; see store.hpp for the
// contract and docs/storage-format.md for the layouts).
//
// Structure: LMDB environment + named databases; a pool of reset read-only transactions for
// the read path; the in-memory index (serve mode) and a reporter-weight cache in front of
// LMDB; one writer thread with a queue of operations committed in batches.
// Implemented by section: store_open.cpp (open and close), store_read.cpp (read path),
// store_writer.cpp (queue, writer thread, batches, hits and expiry), store_votes.cpp (votes and
// reputation events), store_reporters.cpp (reporter administration), store_admin.cpp
// (signature administration: info, delete, allowlist).
// Locking order: map_mu_ (shared for any txn, exclusive to resize the map) before
// trust_mu_ / index shard locks; q_mu_ and hits_mu_ are leaves. Members guarded by a mutex
// say so with GUARDED_BY (base/mutex.hpp), checked by clang's -Wthread-safety.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "base/mutex.hpp"
#include "codec.hpp"
#include "index_snapshot.hpp"
#include "lmdb.hpp"
#include "memory_index.hpp"
#include "storage/store.hpp"

namespace strop::storage {

class StoreImpl;
struct MessageEvents;  // store_votes.cpp: reputation events of one judge's vote on one message

using IndexChange = MemoryIndex::Change;

// State of one write transaction (one batch attempt).
struct WriteCtx {
  lmdb::Txn* txn = nullptr;
  codec::Counts counts;
  codec::SigId next_sig_id = 1;
  codec::SigId max_sig_id = 0;  // highest id in use (valid when max_sig_id_known)
  bool max_sig_id_known = false;
  ReporterId next_reporter_id = 1;
  std::uint64_t reporters_gen = 0;
  bool reporters_changed = false;
  std::vector<IndexChange> index;
  std::vector<std::size_t> op_index_end;  // by operation of the batch: its changes end there
  std::unordered_map<ReporterId, reputation::Trust> weights;  // reporters changed in this txn
  std::unordered_map<std::uint64_t, std::vector<codec::SigId>> pending;  // new this txn, by key
  std::uint64_t expired = 0;
  std::uint64_t applied_seq = 0;  // fleet mode: read from meta at begin, written back if moved
  bool applied_seq_changed = false;
  // Federation: the feed's last sequence, read from meta on first use in the transaction and
  // written back when it moved (store_federation.cpp).
  std::uint64_t feed_seq = 0;
  bool feed_seq_loaded = false;
  bool feed_seq_changed = false;
};

// One queued write. apply() runs inside the batch transaction and returns an LMDB code (0, or
// a failure that aborts the whole batch); expected per-operation failures are kept inside the
// operation and reported by complete(). apply() may run more than once (the batch is retried
// from scratch after growing the map), so it must recompute its outcome each time.
struct Op {
  std::size_t cost = 1;  // signatures, for batch and queue bounds
  std::function<int(StoreImpl&, WriteCtx&)> apply;
  std::function<void(const Error* batch_error)> complete;
};

// The complete() of an Op whose apply() leaves its outcome in `*state`: `done` gets the batch's
// error, else that outcome, else kInternal "<what> not applied" (apply() never stored one).
template <class T, class Done>
std::function<void(const Error*)> complete_from(std::shared_ptr<std::optional<T>> state, Done done,
                                                const char* what) {
  return [state = std::move(state), done = std::move(done), what](const Error* e) {
    if (e != nullptr) {
      done(*e);
    } else if (*state) {
      done(std::move(**state));
    } else {
      done(make_error(Errc::kInternal, std::string(what) + " not applied"));
    }
  };
}

class StoreImpl final : public Store {
 public:
  explicit StoreImpl(StoreOptions options);
  ~StoreImpl() override;

  Result<void> init();

  Result<CheckOutcome> check(std::span<const sigs::Signature> sigs) override;
  Result<CheckOutcome> check(std::span<const sigs::Signature> sigs, TimePoint now) override;
  void report(ReporterId reporter, std::vector<sigs::Signature> sigs, TimePoint now,
              VoteCallback done) override;
  void revoke(ReporterId reporter, std::vector<sigs::Signature> sigs, TimePoint now,
              VoteCallback done) override;
  void vote(VoteRequest request, VoteCallback done) override;
  Result<Reporter> add_reporter(const ReporterSpec& spec) override;
  Result<Reporter> find_reporter(std::string_view name) override;
  Result<Reporter> find_reporter(ReporterId id) override;
  Result<std::vector<Reporter>> list_reporters() override;
  Result<Reporter> set_trust(std::string_view name, double trust, bool pinned) override;
  Result<Reporter> set_disabled(std::string_view name, bool disabled) override;
  StoreStats stats() override;
  Result<void> flush() override;
  Result<std::uint64_t> expire(TimePoint now) override;
  Result<void> backup(const std::string& dest_dir) override;
  TimePoint now() const override;
  Result<std::vector<SignatureInfo>> signature_info(std::span<const sigs::Signature> sigs) override;
  Result<std::vector<bool>> delete_signatures(std::span<const sigs::Signature> sigs) override;
  Result<std::vector<bool>> set_allowed(std::span<const sigs::Signature> sigs,
                                        bool allowed) override;
  void apply_logged(LoggedWrite w, LoggedCallback done) override;
  std::uint64_t applied_sequence() override;
  Result<std::vector<sigs::Signature>> take_hits() override;
  Result<bool> expiry_due(TimePoint cutoff) override;
  Result<Peer> add_peer(const PeerSpec& spec) override;
  Result<Peer> find_peer(std::string_view name) override;
  Result<std::vector<Peer>> list_peers() override;
  Result<void> remove_peer(std::string_view name) override;
  void apply_peer_batch(PeerBatch batch,
                        std::function<void(Result<PeerBatchOutcome>)> done) override;
  Result<FeedPage> read_feed(std::uint64_t after, std::size_t limit) override;

 private:
  // ---- read path
  // A pooled read-only txn plus map_mu_ held shared; returns the txn to the pool on exit.
  class ReadTxn {
   public:
    ReadTxn(StoreImpl* s, std::shared_lock<std::shared_mutex> lock, lmdb::Txn txn)
        : s_(s), lock_(std::move(lock)), txn_(std::move(txn)) {}
    ReadTxn(ReadTxn&& o) noexcept = default;
    ReadTxn& operator=(ReadTxn&&) = delete;
    ~ReadTxn() {
      if (txn_) s_->return_read(std::move(txn_));
    }
    lmdb::Txn& txn() { return txn_; }

   private:
    StoreImpl* s_;
    std::shared_lock<std::shared_mutex> lock_;
    lmdb::Txn txn_;
  };
  Result<ReadTxn> begin_read();
  void return_read(lmdb::Txn txn);
  void handle_map_resized();
  struct Candidate {
    std::size_t query = 0;
    codec::SigId id = 0;
    const sigs::FuzzyHashes* fuzzy = nullptr;  // set for fuzzy queries
  };
  // Opens (creates) the databases and checks or writes the schema version.
  Result<void> open_databases();
  int build_index(lmdb::Txn& txn);  // sets index_ (writer thread, or before it starts)
  // Serve mode, before the writer starts: loads <dir>/index.snap when it matches the state
  // `txn` (a read transaction) sees, else builds the index from LMDB (index_snapshot.hpp).
  int open_index(lmdb::Txn& txn);
  // At close, after the writer stopped: saves the index for the next open.
  void save_index_snapshot();
  // The stamp an index of the state `txn` sees carries; `txnid` is the state's LMDB txn id.
  IndexStamp index_stamp(lmdb::Txn& txn, std::uint64_t txnid);
  std::string index_snapshot_path() const { return opt_.dir + "/index.snap"; }
  Result<void> ensure_index();  // builds the index on first use (admin mode)
  Result<void> take_serve_lock() REQUIRES(serve_lock_mu_);
  // Reads every reporter's weight as `txn` sees it, with no lock held: the exclusive section
  // that installs them (a check waits for it) is then a vector swap.
  int read_weights(lmdb::Txn& txn, std::vector<reputation::Trust>* out) const;
  // Installs `w` read at reporters generation `gen`.
  void install_weights(std::vector<reputation::Trust> w, std::uint64_t gen) REQUIRES(trust_mu_);
  // Whether the installed weights are of generation `gen` (any other: stale).
  bool weights_current(std::uint64_t gen) EXCLUDES(trust_mu_);
  void refresh_weights(lmdb::Txn& txn) EXCLUDES(trust_mu_);
  Result<Reporter> read_reporter(lmdb::Txn& txn, ReporterId id);
  // The index's candidates for sigs (fz: their decoded fuzzy hashes), sorted by query.
  std::vector<Candidate> index_candidates(std::span<const sigs::Signature> sigs,
                                          const std::vector<std::optional<sigs::FuzzyHashes>>& fz);

  // ---- signature administration (store_admin.cpp)
  // A stored signature found by its exact text (id 0: not stored).
  struct Located {
    codec::SigId id = 0;
    codec::SigRecord rec;
  };
  // The allowlist entry of (engine, value): 0 with *since set, MDB_NOTFOUND, or an error.
  int find_allowed(lmdb::Txn& txn, sigs::Engine engine, std::string_view value,
                   std::uint64_t* since);
  // Whether the allowlist has any entry (checks skip its lookups when it is empty).
  bool allowlist_empty(lmdb::Txn& txn);
  // The stored records of sigs, in order. Serve mode: through the in-memory index (c: this
  // batch's new signatures too); admin mode: one scan of the sigs database, since the serving
  // node's index may know records this process's does not.
  int locate_sigs(lmdb::Txn& txn, WriteCtx* c, std::span<const sigs::Signature> sigs,
                  std::vector<Located>* out);
  // Fills the stored part of *info (times, counts, votes, confidence) from rec's votes.
  int describe_stored(lmdb::Txn& txn, const Located& loc, SignatureInfo* info);
  Result<void> check_admin_sigs(std::span<const sigs::Signature> sigs) const;

  // ---- write path
  Result<void> enqueue(std::unique_ptr<Op> op) EXCLUDES(q_mu_);
  template <class T>
  Result<T> run_sync(std::size_t cost, std::function<int(StoreImpl&, WriteCtx&, Result<T>*)> fn);
  void submit_vote(VoteRequest request, VoteCallback done);
  void writer_loop();
  void run_batch(std::vector<std::unique_ptr<Op>>& ops);
  // One attempt at ops in a write transaction: reads the meta counters into c, applies the
  // operations, writes the counters back and commits. Returns 0 or an LMDB code.
  int commit_batch(std::vector<std::unique_ptr<Op>>& ops, WriteCtx& c);
  // After a commit: publishes c to the weight cache and the index, records the figures and
  // acknowledges the operations, each once its own index changes are applied (the index is
  // updated in steps of at most MemoryIndex::kMaxUpdatesPerApply table updates).
  void publish_batch(WriteCtx& c, std::vector<std::unique_ptr<Op>>& ops, std::size_t cost,
                     std::chrono::steady_clock::time_point t0);
  bool grow_map(std::size_t at_least);
  void maybe_grow();
  void flush_hits(TimePoint now);
  std::uint64_t sweep_step(TimePoint now, bool* more, Error* err);
  // Deletes up to `limit` signatures last active before `cutoff` (Unix seconds), least
  // recently active first: *expired of them, *more when others were due past the limit.
  int expire_due(WriteCtx& c, std::uint64_t cutoff, std::size_t limit, std::uint64_t* expired,
                 bool* more);

  // ---- write path: operations (writer thread, inside the batch transaction). Private: each
  // Op's lambda is defined inside a StoreImpl member, so it has that member's access and calls
  // these through the StoreImpl& it is given.
  int apply_vote(WriteCtx& c, const VoteRequest& req, Result<VoteOutcome>* out);
  // Loads the judge's record and checks the request (judge enabled, replay key, signature
  // values). Returns 0 with *jrec set to proceed, 0 with *out set to a refusal, or an LMDB code.
  int admit_vote(WriteCtx& c, const VoteRequest& req, std::optional<codec::ReporterRecord>* jrec,
                 Result<VoteOutcome>* out);
  // Applies ev, the events of one message, to the judge (jrec) and the earlier voters.
  int apply_message_events(WriteCtx& c, ReporterId judge, codec::ReporterRecord& jrec,
                           const MessageEvents& ev);
  // Consumes req's replay key (if any) in this transaction: *replayed = true when it was
  // already consumed. Also deletes a few keys expired before `now`, the request's time (not
  // the store's clock, so the writer's outcome depends only on the requests it applies).
  int consume_replay_key(WriteCtx& c, ReporterId reporter, const ReplayKey& key, TimePoint now,
                         bool* replayed);
  // Finds the stored record of sig (0, MDB_NOTFOUND or an LMDB error).
  int find_sig(WriteCtx& c, const sigs::Signature& sig, std::uint64_t key, codec::SigId* id,
               codec::SigRecord* rec);
  // Starts the record of a signature not stored yet (id allocated, index change queued).
  int add_sig(WriteCtx& c, const sigs::Signature& sig, std::uint64_t key, std::uint64_t now,
              codec::SigId* id, codec::SigRecord* rec);
  // Reads the vote record at `key`: 0 with *had = true and *out set, 0 with *had = false (no
  // vote), or an LMDB error (MDB_CORRUPTED for a record that does not decode).
  int read_vote(lmdb::Txn& txn, const codec::VoteKey& key, codec::VoteRecord* out, bool* had);
  // Files signature id under rec.activity() in the activity index, removing its entry at
  // old_activity (none when fresh: a signature new in this transaction).
  int update_activity(WriteCtx& c, codec::SigId id, const codec::SigRecord& rec,
                      std::uint64_t old_activity, bool fresh);
  int vote_one(WriteCtx& c, ReporterId j, codec::ReporterRecord& jrec, const sigs::Signature& sig,
               std::uint64_t now, bool revoke, MessageEvents& ev, VoteEffect* effect);
  // Collects into ev the events of j's vote (kind) on signature id; the caller applies them
  // once per message.
  int apply_events(WriteCtx& c, codec::SigId id, ReporterId j, codec::VoteKind kind,
                   std::uint8_t* flags, MessageEvents& ev);
  // The bodies of the synchronous writes, shared by their direct form and apply_logged
  // (store_reporters.cpp, store_admin.cpp, store_logged.cpp).
  Result<void> check_reporter_spec(const ReporterSpec& spec) const;
  int apply_add_reporter(WriteCtx& c, const ReporterSpec& spec, std::uint64_t created,
                         Result<Reporter>* out);
  int apply_edit_reporter(WriteCtx& c, std::string_view name,
                          const std::function<void(codec::ReporterRecord&)>& edit,
                          Result<Reporter>* out);
  int apply_delete_signatures(WriteCtx& c, const std::vector<sigs::Signature>& targets,
                              Result<std::vector<bool>>* out);
  int apply_set_allowed(WriteCtx& c, const std::vector<sigs::Signature>& targets, bool allowed,
                        std::uint64_t now_s, Result<std::vector<bool>>* out);
  int apply_logged_op(WriteCtx& c, const LoggedOp& op, LoggedOutcome* out);
  int update_reporter(WriteCtx& c, ReporterId id,
                      const std::function<void(codec::ReporterRecord&)>& f);
  // Applies `edit` to the named reporter through the writer (kNotFound when there is none)
  // and publishes its weight; set_trust and set_disabled are edits.
  Result<Reporter> edit_reporter(std::string_view name,
                                 std::function<void(codec::ReporterRecord&)> edit);
  int delete_sig(WriteCtx& c, codec::SigId id, const codec::SigRecord& rec);
  // ---- federation (store_federation.cpp); no-ops while opt_.federation_site is empty
  // Re-evaluates the listing state this site serves for signature id and appends a feed
  // entry when it changed (docs/federation.md "What a site puts in its feed").
  int federation_refresh(WriteCtx& c, codec::SigId id, const codec::SigRecord& rec);
  // Before id is deleted: serves its withdrawal if it was listed, and drops its peer state.
  int federation_forget(WriteCtx& c, codec::SigId id, const codec::SigRecord& rec);
  int apply_peer_batch_txn(WriteCtx& c, const PeerBatch& b, Result<PeerBatchOutcome>* out);
  // The bodies of add_peer / remove_peer, shared with apply_logged (store_logged.cpp).
  Result<void> check_peer_spec(const PeerSpec& spec) const;
  int apply_add_peer(WriteCtx& c, const PeerSpec& spec, std::uint64_t created, Result<Peer>* out);
  int apply_remove_peer(WriteCtx& c, std::string_view name, Result<bool>* out);
  // Why a pulled entry cannot be applied here ("feed entry N: ..."), or "" when all can.
  std::string peer_entries_problem(const std::vector<FeedEntry>& entries) const;
  // A logged batch: the peer by name, the entries checked, then apply_peer_batch_txn.
  int apply_logged_peer_batch(WriteCtx& c, const LoggedPeerBatch& b, LoggedOutcome* out);
  // Sets peer's vote on id: a peer report at `hop` (listed) or withdrawn; updates the counts.
  int set_peer_vote(WriteCtx& c, codec::SigId id, codec::SigRecord& rec, ReporterId peer,
                    bool listed, std::uint8_t hop, std::uint64_t now);
  int next_feed_seq(WriteCtx& c, std::uint64_t* seq);
  Result<Peer> read_peer(lmdb::Txn& txn, ReporterId id);
  int touch_hit(WriteCtx& c, codec::SigId id, std::uint64_t when);
  int allocate_sig_id(WriteCtx& c, codec::SigId* out);
  reputation::Trust weight(const WriteCtx& c, ReporterId id);
  static void set_effective_trust(codec::ReporterRecord& r);
  int find_reporter_id(lmdb::Txn& txn, std::string_view name, ReporterId* out);

  StoreOptions opt_;
  std::pair<std::uintmax_t, std::uintmax_t> dir_id_{};  // (st_dev, st_ino) of opt_.dir
  bool registered_ = false;
  lmdb::Env env_;
  struct Dbis {
    lmdb::Dbi meta, sigs, votes, activity, reporters, reporter_names, replay, replay_expiry,
        allowed, peers, feed, feed_index, peer_entries, origin_versions;
  } dbi_;

  // Shared: a txn of this process is open; exclusive: resize. It guards the LMDB map, not
  // members, and a ReadTxn carries its shared lock out of begin_read(), so it stays a
  // std::shared_mutex (the analysis cannot follow a moved lock).
  std::shared_mutex map_mu_;
  Mutex pool_mu_;
  std::vector<MDB_txn*> pool_ GUARDED_BY(pool_mu_);

  // Built at open (serve mode) or on first check (admin mode, by the writer thread); published
  // by index_ready_. Only the writer thread changes it after that.
  std::unique_ptr<MemoryIndex> index_;
  std::atomic<bool> index_ready_{false};
  // The stamp of the snapshot index_ was loaded from (open_index, before the writer starts;
  // read at close after it stopped): unchanged at close, the file is still current.
  std::optional<IndexStamp> snapshot_stamp_;
  Mutex serve_lock_mu_;
  int serve_lock_fd_ GUARDED_BY(serve_lock_mu_) = -1;

  SharedMutex trust_mu_;
  std::vector<reputation::Trust> weights_ GUARDED_BY(trust_mu_);  // by reporter id; disabled = 0
  std::uint64_t weights_gen_ GUARDED_BY(trust_mu_) = 0;
  bool weights_loaded_ GUARDED_BY(trust_mu_) = false;

  // The writer queue.
  Mutex q_mu_;
  CondVar q_cv_;
  std::deque<std::unique_ptr<Op>> queue_ GUARDED_BY(q_mu_);
  std::size_t queued_cost_ GUARDED_BY(q_mu_) = 0;
  bool stopping_ GUARDED_BY(q_mu_) = false;
  struct ExpireJob {
    TimePoint now;
    std::uint64_t deleted = 0;
    std::promise<Result<std::uint64_t>> done;
  };
  std::deque<std::unique_ptr<ExpireJob>> expire_jobs_ GUARDED_BY(q_mu_);
  std::thread writer_;

  Mutex hits_mu_;
  std::vector<std::pair<codec::SigId, std::uint64_t>> hits_ GUARDED_BY(hits_mu_);

  std::atomic<std::uint64_t> commits_{0}, committed_ops_{0}, write_errors_{0}, expired_{0},
      map_resizes_{0};
  std::atomic<std::int64_t> last_commit_us_{0}, max_commit_us_{0}, last_sync_us_{0},
      max_index_us_{0}, max_index_cpu_us_{0};
  std::atomic<std::uint64_t> last_batch_ops_{0};
  std::atomic<std::int64_t> writer_cpu_us_{0};
  std::atomic<std::uint64_t> applied_seq_{0};  // committed; set at open and after each batch
};

// Runs fn on the writer thread inside a batch and waits for its result (synchronous writes:
// reporters, flush, building the index in admin mode).
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

}  // namespace strop::storage
