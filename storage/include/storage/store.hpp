// store.hpp: the node's durable store: signatures, similarity index, votes (reports and
// revokes), reporters and reputation, on LMDB (docs/storage-format.md).
//
// Threading:
//  - A Store is safe for concurrent use by any number of threads.
//  - check() and the reporter readers (find_reporter, list_reporters, stats) run on the
//    caller's thread, in their own read-only LMDB transaction, behind an in-memory index
//    rebuilt from LMDB at open; they never wait for a commit.
//  - Every write goes through one writer thread owned by the Store, which batches all queued
//    operations into one transaction (group commit), commits synchronously, and only then
//    completes the operations: a VoteCallback runs (or a future becomes ready) after
//    mdb_txn_commit returned success, so an acknowledged write survives kill -9 / power loss.
//  - VoteCallbacks run on the writer thread: they must be short and must not block or call
//    back into write operations of the same Store synchronously (post the result to your own
//    executor instead). Synchronous writes (the *_sync / reporter admin methods) must not be
//    called from a VoteCallback.
// Lifetime: open() returns the only handle; one Store per data directory per process (a
// second open in the same process gets Errc::kExists). The
// destructor stops accepting writes, commits everything already queued (completing its
// callbacks), stops the writer and sweeper, and closes the environment. Other processes (the
// admin commands) may open the same directory at the same time with StoreOptions::serve =
// false; LMDB serialises their writes with ours.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/result.hpp"
#include "sigs/signature.hpp"
#include "storage/federation.hpp"
#include "storage/reporter.hpp"
#include "storage/reputation.hpp"

namespace strop::storage {

using Clock = std::function<TimePoint()>;

// The engines that may decide a verdict by default: the native engines and razor-e4, whose
// measured false-positive profile equals body/1's (docs/reputation.md "Which engines
// decide"). razor-e8 (URL hosts) and pyzor (digests of little text) collide across unrelated
// legitimate mail; their matches are returned with their confidence but never decide.
inline constexpr sigs::EngineMask kDefaultVerdictEngines =
    sigs::EngineMask(sigs::EngineMask::native()).add(sigs::Engine::kRazorE4);

// Whether reports of a message with these signatures can ever make it spam under
// `verdict_engines`: true when at least one signature is of a deciding engine.
bool can_list(sigs::EngineMask verdict_engines, std::span<const sigs::Signature> message);

struct StoreOptions {
  // Data directory (created 0700 if missing); holds data.mdb and lock.mdb.
  std::string dir;
  // Map size at open (LMDB adopts the size recorded in the file when that is larger); the map
  // grows on demand past it. Address space, not disk or memory: data.mdb grows with the data.
  // Growing remaps, and every check waits for the remap, whose cost grows with the resident
  // pages (measured 1.4 ms at 256 MiB, 20 ms at 6 GiB, ~45 ms at 16 GiB), so the default
  // reserves room for about 400M signatures at once. Default: 64 GiB.
  std::size_t initial_map_bytes = std::size_t{64} << 30;
  // Largest growth step; growth doubles the map up to this step. Default: 64 GiB.
  std::size_t map_growth_step_bytes = std::size_t{64} << 30;
  // The map never grows past this (MDB_MAP_FULL then fails the batch). Default: 1 TiB.
  std::size_t max_map_bytes = std::size_t{1} << 40;
  // LMDB reader slots (check threads + admin processes). Default: 126.
  unsigned max_readers = 126;
  // Group commit: most operations (signatures) in one write transaction. Default: 8192.
  std::size_t max_batch_ops = 8192;
  // Group commit: after the first queued operation, wait up to this long for more before
  // committing. Default: 0 (batch whatever queued while the previous commit ran).
  std::chrono::microseconds max_batch_delay{0};
  // Writer queue bound (queued signatures); beyond it a write fails with Errc::kUnavailable
  // (the node answers 503). Default: 200000.
  std::size_t max_queue_ops = 200000;
  // Signatures neither reported, revoked nor hit for this long are deleted. 0 disables
  // expiry. Default: 180 days.
  std::chrono::seconds expire_after = std::chrono::hours(24 * 180);
  // How often the background sweeper runs (serve mode). Default: 10 minutes.
  std::chrono::seconds sweep_interval = std::chrono::minutes(10);
  // Most signatures one sweep transaction deletes. Default: 1000.
  std::size_t sweep_batch = 1000;
  // A hit is written back only when the stored last-hit time is older than this.
  // Default: 1 hour.
  std::chrono::seconds hit_resolution = std::chrono::hours(1);
  // Fleet mode (docs/fleet.md "Activity and expiry"): hits and expiry go through the
  // replicated log, so that every member's signatures expire alike. The writer neither writes
  // hits nor sweeps: take_hits() hands the pending hits to the fleet, which publishes them
  // (LoggedTouch), and one member publishes the sweep's steps (LoggedExpire); expire() is
  // refused (kUnavailable). Default: false (a standalone node writes and sweeps itself).
  bool replicated_activity = false;
  // Longest signature value accepted for storage, bytes. Default: 512.
  std::size_t max_value_bytes = 512;
  // Confidence at/above which check() says spam. Default: reputation::kRecommendedThreshold.
  int threshold = reputation::kRecommendedThreshold;
  // Engines whose match alone may make the message verdict spam. Default:
  // kDefaultVerdictEngines (the native engines and razor-e4).
  sigs::EngineMask verdict_engines = kDefaultVerdictEngines;
  // true: a serving node: builds the in-memory index at open, runs the background sweeper
  // and holds <dir>/serve.lock (a second serving process gets Errc::kUnavailable).
  // false: an admin command: quick to open, no sweeper; the in-memory index is built on the
  // first check() or vote. Votes need the serve lock: while a node serves the directory an
  // admin process's report()/revoke() fail with Errc::kUnavailable. Default: true.
  bool serve = true;
  // Serve mode: save the in-memory index to <dir>/index.snap at a clean close and load it at
  // the next open when no transaction committed in between, instead of rebuilding it from
  // LMDB (minutes at 100M signatures; docs/storage-format.md, "Index snapshot"). Costs the
  // index's size on disk and its write (with fsync) at close. Default: true.
  bool index_snapshot = true;
  // true: the writer thread runs SCHED_IDLE, below every other thread on the host. A thread
  // that wakes to answer a check then takes the CPU from the writer at once, and the kernel
  // places it on the writer's CPU as on an idle one; measured on 2 vCPUs while the store grew,
  // a woken check thread otherwise queued behind the writer for up to 4-5 ms (docs/
  // performance.md, "The writer at idle priority"). Off by default, because SCHED_IDLE has no
  // priority inheritance: where other processes keep every CPU busy (spamd, clamd under a
  // burst) the writer gets almost no CPU, reports wait for it, and a check thread that meets
  // it inside a short shared critical section (the reporter weights, an I/O thread's queue
  // as the writer hands it a commit's response) waits as long. For hosts whose CPUs serve
  // the node alone. Default: false.
  bool writer_idle_priority = false;
  // Time source (tests inject one). Default (empty): the system clock.
  Clock clock;
  // Called on the writer thread after each committed batch with its latency (first operation
  // taken -> commit done and published), e.g. for a metrics histogram. Must be cheap and must
  // not call back into the store. Default (empty): none.
  std::function<void(std::chrono::nanoseconds)> on_commit;
  // false: open() fails with Errc::kNotFound when `dir` holds no store (no data.mdb) and
  // creates nothing; for commands that only read or change an existing store. Default: true.
  bool create = true;
  // Federation (docs/federation.md): this site's name, the origin of its own listings. Set,
  // the writer keeps the site's feed of listing changes up to date in every transaction that
  // may change a listing; empty (the default), no feed is kept and peers' batches are refused.
  std::string federation_site;
};

// One stored signature that a checked signature matched.
struct Match {
  sigs::Engine engine = sigs::Engine::kBody;
  std::string id;               // the stored signature's text form "engine:value"
  std::size_t query_index = 0;  // index of the checked signature that matched
  // 1.0 for exact engines; equal positions / 32 for fuzzy/1, from sigs::kFuzzyUrlMatchMin:
  // under sigs::kFuzzyMatchMin a weak agreement, which only backs a url/1 match (the node's
  // verdict), counts for neither CheckOutcome::confidence nor spam, and is no hit.
  double similarity = 1.0;
  std::uint32_t reports = 0;  // active reports (distinct reporters)
  std::uint32_t revokes = 0;  // active revokes by other reporters
  int confidence = 0;         // 0..100
  // The operator allowed the stored signature, or the checked one (a fuzzy query allowed
  // neutralises every stored signature similar to it). The Store only reports it; the
  // node's SignatureService applies the policy (an allowed match never lists).
  bool allowed = false;
  TimePoint first_seen{};    // the first report of the stored signature
  TimePoint last_report{};   // the latest active report (epoch: none active)
  TimePoint first_revoke{};  // the earliest active revoke by another reporter (epoch: none)
  TimePoint last_revoke{};   // the latest active revoke (epoch: none)
};

struct CheckOutcome {
  std::vector<Match> matches;  // in query order; several per fuzzy query possible
  int confidence = 0;          // max confidence over matches of verdict_engines (not weak)
  bool spam = false;           // confidence >= StoreOptions::threshold
};

enum class VoteEffect : std::uint8_t {
  kRecorded = 1,   // a new vote by this reporter
  kUnchanged = 2,  // the same vote was already recorded (idempotent repeat)
  kChanged = 3,    // the reporter's earlier opposite vote was replaced
  kWithdrawn = 4,  // revoke of the reporter's own report: the report is withdrawn
  kUnknown = 5,    // revoke of a signature nobody reported: nothing stored
};

struct VoteOutcome {
  std::vector<VoteEffect> effects;  // one per submitted signature, in order
};

using VoteCallback = std::function<void(Result<VoteOutcome>)>;

// Named limit: longest replay nonce the store accepts (bytes).
inline constexpr std::size_t kMaxReplayNonce = 128;

// The replay key of a signed request (docs/storage-format.md "Replay keys"). The store
// records (reporter, nonce) in the same write transaction as the request's votes, so a
// request is applied at most once, across restarts; a second request with the same key
// fails with Errc::kReplayed and changes nothing. Keys are kept until `expires` (the time
// after which the request would be refused as stale anyway), then swept.
struct ReplayKey {
  std::string nonce;  // non-empty, <= kMaxReplayNonce bytes; scoped to the reporter
  TimePoint expires{};
};

// One report or revoke request: all of it is applied in one transaction, or none of it.
struct VoteRequest {
  ReporterId reporter = 0;
  bool revoke = false;  // false: report ("spam"); true: revoke ("not spam")
  std::vector<sigs::Signature> sigs;
  // Signatures per message, in order, summing to sigs.size(); empty means one message.
  // Reputation credit is given per message, not per signature (docs/reputation.md).
  std::vector<std::uint32_t> message_sizes;
  std::optional<ReplayKey> replay;  // signed requests: consumed with the votes
  TimePoint now{};
};

// One reporter's active vote on a signature (SignatureInfo).
struct SignatureVote {
  ReporterId reporter = 0;
  std::string name;     // "" when the reporter record cannot be read
  bool revoke = false;  // false: report ("spam"); true: revoke ("not spam")
  TimePoint time{};     // when the vote got its current kind
  double weight = 0;    // the reporter's current weight (trust; 0 while disabled)
};

// What the store knows of one signature (the admin's `sig show`): docs/storage-format.md.
// Times are Unix seconds; the epoch means "unknown" (not stored, or never happened).
struct SignatureInfo {
  sigs::Signature sig;
  bool stored = false;     // a record exists (reported, not deleted or expired)
  TimePoint first_seen{};  // the first report
  // The latest report, revoke or matching check. Checks are written back lazily: at most
  // once per StoreOptions::hit_resolution, about a second after the check.
  TimePoint last_seen{};
  std::uint32_t reports = 0;  // active reports (distinct reporters)
  std::uint32_t revokes = 0;  // active revokes by other reporters
  int confidence = 0;         // 0..100, from the votes' current weights
  bool allowed = false;       // on the operator's allowlist
  TimePoint allowed_since{};
  std::vector<SignatureVote> votes;  // active votes, by reporter id
};

struct StoreStats {
  std::uint64_t signatures = 0;
  std::array<std::uint64_t, 8> signatures_by_engine{};  // index = Engine value
  std::uint64_t votes = 0;                              // vote records (incl. withdrawn)
  std::uint64_t reporters = 0;
  std::size_t writer_queue_depth = 0;                // queued signatures
  std::uint64_t commits = 0;                         // write transactions committed
  std::uint64_t committed_ops = 0;                   // operations (signatures) committed
  std::chrono::microseconds last_commit_latency{0};  // last batch: begin -> commit done
  std::chrono::microseconds max_commit_latency{0};
  std::chrono::microseconds last_sync_latency{0};  // last batch: mdb_txn_commit alone
  std::uint64_t last_batch_ops = 0;                // operations (signatures) in it
  std::chrono::microseconds writer_cpu{0};         // CPU time of the writer thread
  std::uint64_t write_errors = 0;                  // failed batches
  std::uint64_t expired = 0;                       // signatures expired since open
  std::uint64_t map_bytes = 0;                     // current map size
  std::uint64_t used_bytes = 0;                    // pages in use * page size
  std::uint64_t map_resizes = 0;                   // growths since open
  std::uint64_t index_entries = 0;                 // in-memory index entries (serve)
  std::uint64_t index_bytes = 0;                   // in-memory index size (serve)
  bool index_from_snapshot = false;  // serve: the index was loaded from its snapshot at open
  // Longest in-memory index step after a commit (a batch's index update is cut into steps of
  // at most MemoryIndex's kMaxUpdatesPerApply table updates; shard growth included): wall
  // time, and the writer thread's CPU time (without its waits for the CPU).
  std::chrono::microseconds max_index_latency{0};
  std::chrono::microseconds max_index_cpu{0};
  // Longest time the index writer waited for lookups to leave memory it had replaced (only
  // when more than MemoryIndex::kMaxRetiredBytes waited; serve; since open). Lookups never
  // wait for the writer.
  std::chrono::microseconds max_index_writer_wait{0};
  // Fleet mode: the sequence of the last replicated-log event this store applied (0: none;
  // always 0 for a standalone node). Read from LMDB, so an admin process sees it too.
  std::uint64_t applied_sequence = 0;
};

// ---- fleet mode: writes taken from the replicated log (docs/fleet.md)
// Each names its reporter by name (ids are local to a store) and carries the acceptance time
// the accepting node chose, so every node applies it identically.
struct LoggedVote {
  std::string reporter;  // name; request.reporter is ignored and resolved in the transaction
  VoteRequest request;
};
struct LoggedAddReporter {
  ReporterSpec spec;
  TimePoint created{};
};
struct LoggedSetTrust {
  std::string name;
  double trust = 0;
  bool pinned = true;
};
struct LoggedSetDisabled {
  std::string name;
  bool disabled = true;
};
struct LoggedSetAllowed {
  std::vector<sigs::Signature> sigs;
  bool allowed = true;
  TimePoint now{};
};
struct LoggedDeleteSignatures {
  std::vector<sigs::Signature> sigs;
};
// Federation in a fleet (docs/federation.md "In a fleet"): peers are added and removed through
// the log, and a batch pulled from a peer's feed is applied, with the cursor, by every node.
struct LoggedAddPeer {
  PeerSpec spec;
  TimePoint created{};
};
struct LoggedRemovePeer {
  std::string name;
};
struct LoggedPeerBatch {
  std::string peer;  // name; resolved in the transaction
  std::uint64_t after = 0;
  std::uint64_t cursor = 0;
  std::vector<FeedEntry> entries;
  TimePoint now{};  // the event's time: every node applies the batch at the same time
};
// Activity in a fleet (StoreOptions::replicated_activity): hits at some member, written at the
// event's time on every node, and one step of the expiry sweep.
struct LoggedTouch {
  std::vector<sigs::Signature> sigs;  // unknown ones are ignored
  TimePoint now{};
};
struct LoggedExpire {
  TimePoint cutoff{};     // signatures last active before this are due
  std::size_t limit = 0;  // at most this many deleted, least recently active first
};
using LoggedOp = std::variant<LoggedVote, LoggedAddReporter, LoggedSetTrust, LoggedSetDisabled,
                              LoggedSetAllowed, LoggedDeleteSignatures, LoggedAddPeer,
                              LoggedRemovePeer, LoggedPeerBatch, LoggedTouch, LoggedExpire>;

// One event of the log at sequence `seq` (1..).
struct LoggedWrite {
  std::uint64_t seq = 0;
  LoggedOp op;
};

// What applying a LoggedWrite did.
struct LoggedOutcome {
  // seq <= the applied sequence: the event was applied before and nothing changed.
  bool skipped = false;
  // The write was refused (unknown or disabled reporter, replayed key, bad value, name
  // taken, ...); the sequence is consumed all the same, as on every other node.
  std::optional<Error> refused;
  VoteOutcome votes;                 // LoggedVote
  std::optional<Reporter> reporter;  // LoggedAddReporter / SetTrust / SetDisabled
  std::vector<bool> changed;         // LoggedSetAllowed / LoggedDeleteSignatures
  std::optional<Peer> peer;          // LoggedAddPeer
  PeerBatchOutcome batch;            // LoggedPeerBatch
  // LoggedPeerBatch refused because its `after` was not the stored cursor (refused is
  // kExists): the batch was applied already, or another member's pull got there first.
  bool stale_batch = false;
  // LoggedExpire: signatures deleted, and whether more were due past the limit.
  std::uint64_t expired = 0;
  bool more_due = false;
};
// An Error here is a failed batch (kIo, kUnavailable): nothing was applied, the applied
// sequence did not move, and the caller must offer the event again.
using LoggedCallback = std::function<void(Result<LoggedOutcome>)>;

class Store {
 public:
  // Opens (creating if needed) the store in options.dir: clears stale reader slots, checks
  // the schema version, builds the in-memory index (serve mode) and starts the writer.
  // Errors: kIo (directory / LMDB), kInvalidArgument (unsupported schema or bad options),
  // kExists (already open in this process), kUnavailable (serve mode: another process
  // serves this directory).
  static Result<std::unique_ptr<Store>> open(const StoreOptions& options);

  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // ---- read path (caller's thread, never waits for a commit)

  // Looks up all signatures of one message. Unknown engines' values and malformed fuzzy
  // values simply match nothing. A match is also recorded as a hit (keeps the signature
  // from expiring; written back asynchronously). Errors: kIo on an LMDB read failure.
  // Must not be called from a VoteCallback in admin mode before the index exists.
  virtual Result<CheckOutcome> check(std::span<const sigs::Signature> sigs) = 0;
  virtual Result<CheckOutcome> check(std::span<const sigs::Signature> sigs, TimePoint now) = 0;

  // ---- votes (asynchronous, acknowledged after the durable commit)

  // Records `reporter`'s report ("spam") of each signature. Idempotent per (reporter,
  // signature). The callback runs on the writer thread after the commit; errors:
  // kNotFound (unknown reporter), kForbidden (disabled reporter), kInvalidArgument (a
  // value too long / malformed fuzzy value; nothing of the request is stored),
  // kUnavailable (queue full, store closing, or admin mode while a node serves; called
  // synchronously), kIo (commit failed).
  virtual void report(ReporterId reporter, std::vector<sigs::Signature> sigs, TimePoint now,
                      VoteCallback done) = 0;
  // Records `reporter`'s revoke of each signature: withdraws its own report, or counts as
  // a trust-weighted "not spam" vote on signatures others reported. Same errors.
  virtual void revoke(ReporterId reporter, std::vector<sigs::Signature> sigs, TimePoint now,
                      VoteCallback done) = 0;
  // The general form of report/revoke: message boundaries and a replay key. Same errors,
  // plus kReplayed (the replay key was already consumed; nothing of the request is
  // applied) and kInvalidArgument (message_sizes do not sum to sigs.size(), bad nonce).
  virtual void vote(VoteRequest request, VoteCallback done) = 0;
  // Future forms; `now` from the store's clock.
  std::future<Result<VoteOutcome>> report(ReporterId reporter, std::vector<sigs::Signature> sigs);
  std::future<Result<VoteOutcome>> revoke(ReporterId reporter, std::vector<sigs::Signature> sigs);

  // ---- reporters (synchronous; writes go through the writer and are durable on return)

  // Errors: kExists (name taken), kInvalidArgument (name/secret/trust out of limits).
  virtual Result<Reporter> add_reporter(const ReporterSpec& spec) = 0;
  virtual Result<Reporter> find_reporter(std::string_view name) = 0;  // kNotFound
  virtual Result<Reporter> find_reporter(ReporterId id) = 0;          // kNotFound
  virtual Result<std::vector<Reporter>> list_reporters() = 0;         // by id
  // Sets the trust (0.0..1.0). pinned=true fixes it (1.0 pinned is "fully trusted");
  // pinned=false makes it the new base the model earns from. kNotFound, kInvalidArgument.
  virtual Result<Reporter> set_trust(std::string_view name, double trust, bool pinned = true) = 0;
  // Disabled reporters cannot report and their votes weigh 0. kNotFound.
  virtual Result<Reporter> set_disabled(std::string_view name, bool disabled = true) = 0;

  // ---- signature administration (synchronous; writes are durable on return)

  // What the store knows of each signature, in order. A signature that is not stored comes
  // back with stored = false (and maybe allowed). In admin mode each call scans the sigs
  // database once (no in-memory index: the serving node's may be newer). Errors: kIo.
  virtual Result<std::vector<SignatureInfo>> signature_info(
      std::span<const sigs::Signature> sigs) = 0;
  // Deletes each signature entirely: its record, its votes and its allowlist entry; true
  // per signature when there was something to delete. Safe while another process serves
  // the directory (its checks re-read records; its writer drops index entries whose record
  // is gone). Errors: kInvalidArgument (value empty or too long), kUnavailable, kIo.
  virtual Result<std::vector<bool>> delete_signatures(std::span<const sigs::Signature> sigs) = 0;
  // Puts each signature on the allowlist (allowed = true) or takes it off; true per
  // signature when that changed something. The allowlist is its own database, keyed by the
  // signature, so a signature can be allowed before anyone reports it and stays allowed
  // when its record expires. Same errors as delete_signatures.
  virtual Result<std::vector<bool>> set_allowed(std::span<const sigs::Signature> sigs,
                                                bool allowed) = 0;

  // ---- fleet mode (docs/fleet.md "Ordering and idempotence")

  // Applies one replicated-log event through the writer, in the same LMDB transaction that
  // records w.seq as the applied sequence: an event with seq <= the applied sequence changes
  // nothing (outcome.skipped). Events must be offered in sequence order; the writer applies
  // them in the order of the calls. The callback runs on the writer thread after the commit
  // (same rules as VoteCallback). Errors: kUnavailable (queue full or closing; called
  // synchronously, offer it again), kIo (commit failed).
  virtual void apply_logged(LoggedWrite w, LoggedCallback done) = 0;
  // The last applied log sequence (0: none), committed.
  virtual std::uint64_t applied_sequence() = 0;
  // StoreOptions::replicated_activity: the signatures checks hit since the last call (each
  // once; at most one hit per signature and hit_resolution is recorded), for the fleet to
  // publish. Empty otherwise. Errors: kIo.
  virtual Result<std::vector<sigs::Signature>> take_hits() = 0;
  // Whether some signature was last active before `cutoff` (an expiry step would delete
  // something): the fleet's elected member publishes a step only then. Errors: kIo.
  virtual Result<bool> expiry_due(TimePoint cutoff) = 0;

  // ---- federation (docs/federation.md; synchronous writes are durable on return)

  // Adds a peer: a reporter record marked as a peer (pinned at spec.trust, vouched) and its
  // peer record. Errors: kExists (the name is taken by a reporter or peer),
  // kInvalidArgument (site name, url, secret or trust out of limits).
  virtual Result<Peer> add_peer(const PeerSpec& spec) = 0;
  virtual Result<Peer> find_peer(std::string_view name) = 0;  // kNotFound
  virtual Result<std::vector<Peer>> list_peers() = 0;         // by id
  // Removes the peer record and disables its identity (its votes weigh nothing; the name
  // stays taken). kNotFound.
  virtual Result<void> remove_peer(std::string_view name) = 0;
  // Applies a batch pulled from a peer's feed in one transaction with the new cursor. The
  // callback runs on the writer thread after the commit (same rules as VoteCallback). Errors:
  // kNotFound (no such peer), kForbidden (peer disabled), kInvalidArgument (federation off,
  // or a bad entry: nothing applied), kExists (batch.after is not the stored cursor: applied
  // already or by someone else; nothing applied), kUnavailable, kIo.
  virtual void apply_peer_batch(PeerBatch batch,
                                std::function<void(Result<PeerBatchOutcome>)> done) = 0;
  // Up to `limit` (<= kMaxFeedBatch) entries of this site's feed after `after`, in order.
  // Errors: kIo.
  virtual Result<FeedPage> read_feed(std::uint64_t after, std::size_t limit) = 0;

  // ---- maintenance

  virtual StoreStats stats() = 0;
  // Waits until every operation queued before the call is committed (or failed).
  virtual Result<void> flush() = 0;
  // Deletes signatures inactive (no vote, no hit) since before now - expire_after, in
  // transactions of at most sweep_batch deletions; returns how many were deleted. Errors:
  // kUnavailable (closing, or replicated_activity: expiry goes through the log).
  virtual Result<std::uint64_t> expire(TimePoint now) = 0;
  // Consistent compacted copy of the live store into directory dest (created if missing,
  // must not already hold data.mdb), via mdb_env_copy2(MDB_CP_COMPACT). Runs on the
  // caller's thread under a read transaction; writers continue meanwhile.
  virtual Result<void> backup(const std::string& dest_dir) = 0;

  // The store's clock (options.clock or the system clock).
  virtual TimePoint now() const = 0;

 protected:
  Store() = default;
};

}  // namespace strop::storage
