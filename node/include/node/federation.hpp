// federation.hpp: the node's puller of federation (docs/federation.md): one thread that pulls
// each enabled peer's feed over HTTP (GET /v1/peer/feed, signed with the peering secret),
// verifies the response's signature, decodes the batch and applies it with the new cursor
// through Store::apply_peer_batch (one transaction); and the per-peer metrics. One follower
// thread per enabled peer, so a long poll (wait=, federation.long_poll_s) at one peer never
// delays another.
//
// Pure core, thin shell: accept_feed_response() (verify + decode + map) is a function of plain
// values, tested without sockets (federation_test.cpp); FederationPuller does the I/O.
// Threading: FederationPuller owns its threads; render_metrics() may be called from any
// thread (the per-peer figures are behind a mutex). Lifetime: the Store outlives the puller;
// the destructor stops the threads (a pull in flight, long poll included, ends within 200 ms).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.hpp"
#include "base/result.hpp"
#include "node/config.hpp"
#include "protocol/feed.hpp"
#include "storage/store.hpp"

namespace strop::node {

// A feed entry as the store keeps it and as strop-feed/1 (and the fleet's peer-batch event)
// carries it: the same fields, moved across.
protocol::FeedWireEntry to_wire(storage::FeedEntry e);
storage::FeedEntry from_wire(protocol::FeedWireEntry e);

// What a pull got back, as the HTTP client saw it.
struct FeedResponse {
  unsigned status = 0;
  std::string signature;         // X-Strop-Signature
  std::string content_encoding;  // Content-Encoding ("" = none)
  std::string body;              // as received, before content decoding
};

// Checks a feed response to a pull of `peer` from `after` (asking for at most `limit`
// entries) signed with request nonce `nonce`, and turns it into the batch to apply. Errors:
// kUnauthorized (signature missing or wrong: a tampered or replayed response), kUnavailable
// (an error status: nothing to apply), kMalformed / kLimitExceeded (the body, decompressed
// first when gzip: the signature is checked before), kInvalidArgument
// (entries out of order or not after the cursor).
Result<storage::PeerBatch> accept_feed_response(const storage::Peer& peer, std::uint64_t after,
                                                std::size_t limit, std::string_view nonce,
                                                const FeedResponse& response,
                                                storage::TimePoint now,
                                                std::uint64_t* head = nullptr);

// Per-peer figures (docs/federation.md "Configuration"). Times are Unix seconds.
struct PeerStats {
  std::uint64_t lag_entries = 0;  // the peer's feed head minus our cursor, at the last pull
  std::uint64_t applied = 0;      // entries applied since start
  std::uint64_t errors = 0;       // failed pulls since start
  std::int64_t last_success = 0;  // the last applied pull (0: none)
  std::uint64_t bytes = 0;        // response body bytes received (as sent: compressed or not)
  std::string last_error;
  // Lag in seconds: whether the last pull ended holding everything the peer had (its last
  // applied seq reached the response's head), when a pull last did so (0: never), and the
  // first pull attempted (the reference while never caught up).
  bool caught_up = false;
  std::int64_t caught_up_at = 0;
  std::int64_t first_attempt = 0;
};

// The pure core of the per-peer figures, with the clock injected as `now` (Unix seconds).
// A pull that started at `now` applied `applied` entries, leaving the cursor at `cursor`
// while the peer's feed head was `head`.
void record_pull_success(PeerStats& s, std::uint64_t cursor, std::uint64_t head,
                         std::uint64_t applied, std::int64_t now);
// A pull that started at `now` failed with `message`.
void record_pull_failure(PeerStats& s, std::string message, std::int64_t now);
// Seconds since the puller last held everything the peer had (docs/federation.md): 0 while
// caught up; while never caught up, since the first pull attempted.
std::int64_t lag_seconds(const PeerStats& s, std::int64_t now);

// ---- federation in a fleet (docs/federation.md "In a fleet")
struct FleetMemberStatus;  // fleet.hpp
class Fleet;

class FederationPuller {
 public:
  FederationPuller(storage::Store& store, const Config& config);
  ~FederationPuller();
  FederationPuller(const FederationPuller&) = delete;
  FederationPuller& operator=(const FederationPuller&) = delete;

  // Fleet mode: pull only while fleet_member_elected() (fleet.hpp) says this member is the puller,
  // and apply each batch as one event of the replicated log (FleetPeerBatch), waiting until the log
  // acknowledged it and this node applied it. REQUIRES: before start(); `fleet` outlives the
  // puller's threads.
  void set_fleet(Fleet* fleet) { fleet_ = fleet; }
  // Whether this node pulls now: always outside a fleet; in a fleet while it is connected to
  // the log and fleet_member_elected() elects it.
  bool pulling();

  void start();
  void stop();
  // Prometheus text of the per-peer figures.
  std::string render_metrics() const;
  // The per-peer figures by peer name (the web console's Network page). Thread-safe.
  std::map<std::string, PeerStats> peer_stats() const;

 private:
  void run();
  // Pulls `name`'s feed until the puller stops or the peer is removed or disabled.
  void follow(const std::string& name);
  // Pulls one batch from `peer` (a long poll when federation.long_poll_s > 0): entries
  // applied, or an error (counted). `more`: a full batch; `received`: entries in it.
  Result<std::size_t> pull_once(const storage::Peer& peer, bool* more, std::size_t* received);
  // Applies a checked batch: through the store, or in a fleet through the log.
  Result<storage::PeerBatchOutcome> apply(const storage::Peer& peer, storage::PeerBatch batch,
                                          std::int64_t now_s);

  storage::Store& store_;
  Fleet* fleet_ = nullptr;  // fleet mode when set (set before start, then constant)
  std::atomic<bool> was_pulling_{true};
  const std::string site_;
  const Config::Federation options_;
  std::atomic<bool> stopping_{false};
  Mutex wake_mu_;
  CondVar wake_cv_;
  mutable Mutex stats_mu_;
  std::map<std::string, PeerStats> stats_ GUARDED_BY(stats_mu_);
  std::thread thread_;
};

}  // namespace strop::node
