// fleet.hpp: fleet mode: many strop-nodes as one, every accepted write going through one
// replicated, ordered log (NATS JetStream) that each node applies through its own Store's
// writer (docs/fleet.md).
//
// Two parts:
//  - Fleet, the pure core: it turns a write the SignatureService accepted into a log event
//    (protocol/fleet_event.hpp), hands it to a FleetLog to publish, and answers the caller
//    only when the log acknowledged the publish (quorum-durable) AND this node's writer has
//    applied the event (read-your-writes). On the consuming side it takes the log's events in
//    stream order and offers each to Store::apply_logged with its sequence. It has no socket;
//    fleet_test.cpp drives it over an in-memory FleetLog.
//  - NatsFleet (start_nats_fleet), the thin shell over nats.c (fleet_nats.cpp): connection,
//    stream creation, asynchronous publishes, an ordered consumer from the store's applied
//    sequence + 1, and a supervisor thread (publish deadlines, resubscription, lag).
//
// Threading: every Fleet method may be called from any thread; on_event must be called by one
// thread at a time, in stream order (the consumer's delivery thread). A submit()'s `done` runs
// exactly once: on the calling thread (refused at once: log not connected, bad event), on the
// Store's writer thread (applied after the ack), on the log's ack thread (acked after the
// apply), or on the supervisor thread (deadline passed). `done` must be short.
// Lifetime: the Store and NodeMetrics outlive the Fleet; the FleetLog given to attach() outlives
// every submit() (stop the NatsFleet, which fails what is pending, before destroying either).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mutex.hpp"
#include "base/result.hpp"
#include "node/config.hpp"
#include "node/metrics.hpp"
#include "protocol/fleet_event.hpp"
#include "storage/store.hpp"

namespace strop::node {

// The replicated log as the Fleet sees it.
class FleetLog {
 public:
  // The stream sequence of the published event, or an Error (kUnavailable: not connected,
  // refused or timed out; the event may still have been stored).
  using PublishDone = std::function<void(Result<std::uint64_t>)>;
  virtual ~FleetLog() = default;
  // Whether the log is reachable now (writes fail fast while it is not).
  virtual bool connected() const = 0;
  // Publishes `bytes` under de-duplication id `msg_id`. `done` runs exactly once, on any
  // thread (possibly before publish returns).
  virtual void publish(std::string bytes, std::string msg_id, PublishDone done) = 0;
  // The payload stored at `seq`, as the stream's leader answers it (not a replica: see
  // Fleet::verify). Blocks for at most the log's request timeout. Errors: kNotFound (not in
  // the stream, e.g. past its retention), kUnavailable (not reachable, no answer in time, or a
  // log that cannot fetch: the default).
  virtual Result<std::string> fetch(std::uint64_t seq);
};

// The fleet's figures for /metrics (strop_fleet_*).
struct FleetMetrics {
  Gauge connected;      // 1 while the log is reachable
  Gauge head_sequence;  // the stream's last sequence, as last seen
  Counter published;    // events acknowledged by the log
  Counter publish_failures;
  Counter applied;               // events applied here (from any origin)
  Counter skipped;               // events offered again at or below the applied sequence
  Counter malformed;             // events that did not decode (applied as no-ops)
  Counter gaps;                  // sequences missing from the stream (past its retention)
  Counter peer_batches_skipped;  // federation batches whose `after` was not the stored cursor
  Counter touch_events;          // hit events this node published
  Counter expire_steps;          // expiry sweep steps this node published
  Counter activity_failures;     // hit or sweep events not acknowledged (hits lost, step retried)
  Counter verified;              // applied events found identical at the stream's leader
  Counter unverified;            // applied events dropped unverified (Fleet::verify fell behind)
  Counter divergences;           // applied events that differ from the stream leader's
  Histogram publish_latency;     // submit -> log acknowledgement
  Histogram write_latency;       // submit -> acknowledged and applied here
};

// The strop_fleet_* series of the Prometheus exposition: connection state, applied and head
// sequence, lag, publish and write latency, counters.
std::string render_fleet_metrics(const FleetMetrics& m, std::uint64_t applied_sequence);

// One fleet member as its beats describe it (Fleet::members).
struct FleetMemberStatus {
  std::string id;
  std::uint64_t applied = 0;  // its last applied log sequence
  std::uint64_t lag = 0;      // the highest head any member reported, minus `applied`
  double age_seconds = 0;     // since its last beat arrived here
  bool self = false;          // this node
};
// Members kept (the most recently heard win) and how long one stays listed without a beat.
inline constexpr std::size_t kMaxFleetMembers = 64;
inline constexpr std::chrono::seconds kFleetMemberTtl{30};
// Applied events waiting for Fleet::verify at most (a SHA-256 and a sequence each).
inline constexpr std::size_t kMaxUnverifiedEvents = 4096;

// A member whose last beat is older than this is taken for gone by the election below (beats
// go out every second; three missed, and the next member takes over).
inline constexpr std::chrono::milliseconds kElectionBeatTimeout{3000};

// Whether the member `self` holds the fleet's single duties now: it pulls the federation peers
// (federation.hpp) and publishes the expiry sweep's steps (Fleet::tick). The live member with
// the lowest id (byte order) is elected, a member being live when its last beat is at most
// `timeout` old (the list is Fleet::members(), whose ages are taken at one `now`); `self`
// always counts as live, so a member that hears no one (NATS down, or alone) is elected. Pure.
// Two members may both believe they are elected for a moment (beats cross during a hand-over,
// or a partition). Both duties are safe then: a peer batch pulled twice carries the same
// `after`, and the second in the log is skipped on every member (LoggedOutcome::stale_batch);
// a second sweep step deletes what is due by then, the same on every member.
bool fleet_member_elected(std::string_view self, const std::vector<FleetMemberStatus>& members,
                          std::chrono::milliseconds timeout = kElectionBeatTimeout);

struct FleetOptions {
  std::string origin;  // this node's id in the events (1..protocol::kMaxFleetOrigin bytes)
  std::chrono::milliseconds publish_timeout{5000};
  // Expiry through the log (docs/fleet.md "Activity and expiry"): the store's settings.
  // expire_after 0: no sweep.
  std::chrono::seconds expire_after{0};
  std::chrono::seconds sweep_interval{600};
  std::size_t sweep_batch = 1000;
};

// How often a member publishes the hits its checks recorded (Fleet::tick).
inline constexpr std::chrono::seconds kFleetTouchInterval{1};

// The storage write an event becomes at log sequence `seq`.
storage::LoggedWrite logged_write(std::uint64_t seq, const protocol::FleetEvent& e);

class Fleet {
 public:
  using Done = std::function<void(Result<storage::LoggedOutcome>)>;

  Fleet(storage::Store& store, FleetOptions options, std::function<std::int64_t()> mono_ns = {});
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // REQUIRES: before the first submit(); `log` outlives the Fleet's use.
  void attach(FleetLog* log) { log_ = log; }
  FleetMetrics& metrics() { return metrics_; }
  const std::string& origin() const { return opt_.origin; }

  // ---- writes
  // Publishes `write`, accepted at `unix_time`, and calls `done` with this node's outcome of
  // applying it. Errors: kUnavailable (log not reachable, publish refused or not acknowledged
  // within publish_timeout: retryable; a timed-out write may still be applied later, which is
  // harmless for votes, which are idempotent per reporter and signature), kLimitExceeded /
  // kInvalidArgument (the event cannot be encoded), or a batch failure of the store.
  void submit(protocol::FleetWrite write, std::int64_t unix_time, Done done);
  // As submit, waiting for the outcome (admin writes, registrations; not on an I/O thread).
  Result<storage::LoggedOutcome> submit_and_wait(protocol::FleetWrite write,
                                                 std::int64_t unix_time);

  // ---- consumer side
  // One event of the stream at sequence `seq`. Events below next_sequence() are ignored;
  // a gap (an event past the stream's retention) is counted and logged.
  void on_event(std::uint64_t seq, std::string_view bytes);
  // The sequence a (re)subscription starts from.
  std::uint64_t next_sequence() EXCLUDES(apply_mu_);
  // True once after a failed store batch (or a stalled event): the consumer must restart
  // from next_sequence(), which this call resets to the store's applied sequence + 1.
  bool take_resync() EXCLUDES(apply_mu_);

  // Checks up to `max` of the events this node applied, oldest first, against the stream
  // leader's copy (FleetLog::fetch) and returns how many it checked. An event that differs
  // means this node consumed a divergent replica (docs/fleet.md, "What the partition tests
  // check", known bug 2): counted in metrics().divergences, logged as critical, and
  // diverged() is true from then on; the node keeps serving (restore it from a healthy
  // member's backup). At most kMaxUnverifiedEvents wait; beyond, the oldest are dropped
  // unverified (counted). Called by the log's supervisor, never on a request path (blocks).
  std::size_t verify(std::size_t max) EXCLUDES(verify_mu_);
  bool diverged() const { return diverged_.load(std::memory_order_relaxed); }

  // ---- members (every node announces its progress on core NATS; docs/fleet.md)
  // This node's beat: its id, applied sequence and the stream head as last seen.
  std::string beat();
  // A beat received from the cluster (this node's own included); a malformed one is ignored.
  void on_beat(std::string_view bytes) EXCLUDES(members_mu_);
  // The members heard within kFleetMemberTtl, by id.
  std::vector<FleetMemberStatus> members() EXCLUDES(members_mu_);
  // strop_fleet_member_applied_sequence / _lag_events / _age_seconds{member="ID"}.
  std::string render_member_metrics();

  // ---- activity (StoreOptions::replicated_activity; docs/fleet.md "Activity and expiry")
  // Called every 100 ms or so by the log's supervisor; the time is the store's clock. At most every
  // kFleetTouchInterval, publishes the store's pending hits (Store::take_hits) as touch
  // events; every sweep_interval, while fleet_member_elected() elects this member and the log
  // is connected, publishes one expiry step (cutoff now - expire_after, limit sweep_batch)
  // when the store has something due (Store::expiry_due), and the next at once while the last
  // one found more due. The first step waits at least kElectionBeatTimeout after the first
  // tick, so that a starting member has heard the others' beats before it claims the sweep.
  // Never blocks: the events' outcomes arrive later through submit's callback. While the log
  // is unreachable the hits stay pending in the store (bounded there) and no step is
  // published.
  void tick() EXCLUDES(activity_mu_);

  // ---- supervision
  // Fails every pending write whose deadline passed (kUnavailable).
  void expire_pending();
  // Fails every pending write (shutdown).
  void fail_pending(const std::string& why);
  std::size_t pending() EXCLUDES(mu_);

 private:
  struct Pending {
    Done done;
    std::int64_t started_ns = 0;
    std::int64_t deadline_ns = 0;
    bool acked = false;
    std::optional<Result<storage::LoggedOutcome>> outcome;
  };
  void on_published(std::uint64_t request, const Result<std::uint64_t>& r);
  void on_applied(std::uint64_t request, Result<storage::LoggedOutcome> r);
  // Completes `request` if it is both acked and applied (or failed); returns the callback to
  // run outside the lock.
  std::function<void()> settle(std::uint64_t request, Pending& p) REQUIRES(mu_);
  void offer(const storage::LoggedWrite& w, bool mine, std::uint64_t request);
  // Queues an applied event for verify().
  void remember_applied(std::uint64_t seq, std::string_view bytes) EXCLUDES(verify_mu_);

  storage::Store& store_;
  const FleetOptions opt_;
  std::function<std::int64_t()> mono_ns_;
  FleetLog* log_ = nullptr;
  FleetMetrics metrics_;

  Mutex mu_;
  // Starts at a random number per Fleet (a restart never reuses an earlier one's).
  std::uint64_t next_request_ GUARDED_BY(mu_) = 0;
  std::map<std::uint64_t, Pending> pending_ GUARDED_BY(mu_);

  struct Heard {
    std::uint64_t applied = 0;
    std::uint64_t head = 0;
    std::int64_t at_ns = 0;
  };
  Mutex members_mu_;
  std::map<std::string, Heard, std::less<>> members_ GUARDED_BY(members_mu_);

  Mutex activity_mu_;
  std::int64_t next_touch_ns_ GUARDED_BY(activity_mu_) = 0;
  std::int64_t next_sweep_ns_ GUARDED_BY(activity_mu_) = 0;  // 0: one interval after the first tick
  bool sweep_in_flight_ GUARDED_BY(activity_mu_) = false;
  bool sweep_more_ GUARDED_BY(activity_mu_) = false;

  // Applied events not yet verified: (sequence, SHA-256 of the payload), oldest first.
  Mutex verify_mu_;
  std::deque<std::pair<std::uint64_t, std::string>> unverified_ GUARDED_BY(verify_mu_);
  std::atomic<bool> diverged_{false};

  Mutex apply_mu_;
  std::uint64_t next_seq_ GUARDED_BY(apply_mu_) = 0;  // 0: not read from the store yet
  bool resync_ GUARDED_BY(apply_mu_) = false;
  bool stalled_ GUARDED_BY(apply_mu_) = false;
};

// The running NATS shell of a Fleet: connection, stream, consumer and supervisor thread.
class NatsFleet {
 public:
  virtual ~NatsFleet() = default;
  // Stops consuming and publishing, fails what is pending, closes the connection. Idempotent.
  virtual void stop() = 0;
};

// Connects to cluster.nats_urls (retrying in the background while no server answers: the
// node serves checks meanwhile), creates the stream if missing (replicas, file storage, max
// age = the store's expiry), and consumes it from the store's applied sequence + 1 into
// `fleet`. Errors: kInvalidArgument (bad options: credentials or TLS files), kIo.
Result<std::unique_ptr<NatsFleet>> start_nats_fleet(const Config& config, Fleet& fleet);

// A node id for the events: cluster.node_id, or "<hostname>-<random>" when it is empty.
std::string fleet_origin(const Config& config);

}  // namespace strop::node
