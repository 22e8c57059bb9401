// federation.hpp: the node's puller of federation (docs/federation.md): one thread that pulls
// each enabled peer's feed over HTTP (GET /v1/peer/feed, signed with the peering secret),
// verifies the response's signature, decodes the batch and applies it with the new cursor
// through Store::apply_peer_batch (one transaction); and the per-peer metrics.
//
// Pure core, thin shell: accept_feed_response() (verify + decode + map) is a function of plain
// values, tested without sockets (federation_test.cpp); FederationPuller does the I/O.
// Threading: FederationPuller owns its thread; render_metrics() may be called from any
// thread (the per-peer figures are behind a mutex). Lifetime: the Store outlives the puller;
// the destructor stops the thread (a pull in flight ends within its timeout).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>

#include "base/mutex.hpp"
#include "base/result.hpp"
#include "node/config.hpp"
#include "storage/store.hpp"

namespace strop::node {

// What a pull got back, as the HTTP client saw it.
struct FeedResponse {
  unsigned status = 0;
  std::string signature;  // X-Strop-Signature
  std::string body;
};

// Checks a feed response to a pull of `peer` from `after` (asking for at most `limit`
// entries) signed with request nonce `nonce`, and turns it into the batch to apply. Errors:
// kUnauthorized (signature missing or wrong: a tampered or replayed response), kUnavailable
// (an error status: nothing to apply), kMalformed / kLimitExceeded (the body), kInvalidArgument
// (entries out of order or not after the cursor).
Result<storage::PeerBatch> accept_feed_response(const storage::Peer& peer, std::uint64_t after,
                                                std::size_t limit, std::string_view nonce,
                                                const FeedResponse& response,
                                                storage::TimePoint now,
                                                std::uint64_t* head = nullptr);

// Per-peer figures (docs/federation.md "Configuration").
struct PeerStats {
  std::uint64_t lag_entries = 0;  // the peer's feed head minus our cursor, at the last pull
  std::uint64_t applied = 0;      // entries applied since start
  std::uint64_t errors = 0;       // failed pulls since start
  std::int64_t last_success = 0;  // Unix seconds of the last applied pull (0: none)
  std::string last_error;
};

class FederationPuller {
 public:
  FederationPuller(storage::Store& store, const Config& config);
  ~FederationPuller();
  FederationPuller(const FederationPuller&) = delete;
  FederationPuller& operator=(const FederationPuller&) = delete;

  void start();
  void stop();
  // Prometheus text of the per-peer figures.
  std::string render_metrics() const;
  // The per-peer figures by peer name (the web console's Network page). Thread-safe.
  std::map<std::string, PeerStats> peer_stats() const;

 private:
  void run();
  // Pulls one batch from `peer`: entries applied, or an error (counted).
  Result<std::size_t> pull_once(const storage::Peer& peer, bool* more);

  storage::Store& store_;
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
