// limiter.hpp: per-key token-bucket rate limiting and the signed-request nonce replay cache.
//
// Both are bounded in memory, sharded by key hash (one mutex per shard, held for a hash
// lookup only) and take the time as an argument, so they are pure functions of their
// inputs and tests need no clock. Thread-safety: all methods are safe for concurrent use.
// Lifetime: owned by the SignatureService (signature_service.hpp).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "base/mutex.hpp"
#include "base/thread_annotations.hpp"

namespace strop::node {

class RateLimiter {
 public:
  // per_second <= 0 disables the limiter (every call is allowed). `max_keys` bounds the
  // tracked keys; when a shard is full, idle keys (full buckets) are dropped first, and a
  // new key that still does not fit is let through untracked (fail open, logged by metrics).
  RateLimiter(double per_second, double burst, std::size_t max_keys);

  struct Decision {
    bool allowed = true;
    double retry_after_seconds = 0;  // when refused: time until `cost` tokens are available
  };
  // Takes `cost` tokens from `key`'s bucket at time `now_ns` (a monotonic clock).
  Decision take(std::string_view key, std::int64_t now_ns, double cost = 1.0);

  // New rate and bucket size (a reloaded configuration), for every take() from now on;
  // tracked buckets keep their tokens, capped at the new size when they next refill.
  void set_rate(double per_second, double burst);

  bool enabled() const { return rate_.load(std::memory_order_relaxed) > 0; }
  std::size_t size() const;

 private:
  struct Bucket {
    double tokens;
    std::int64_t last_ns;
  };
  struct Shard {
    mutable Mutex mu;
    std::unordered_map<std::string, Bucket> buckets GUARDED_BY(mu);
  };
  static constexpr std::size_t kShards = 16;

  void evict_idle(Shard& s, std::int64_t now_ns, double rate, double burst) REQUIRES(s.mu);

  // Read once per take(); a take() racing set_rate() may pair the old rate with the new size.
  std::atomic<double> rate_;
  std::atomic<double> burst_;
  const std::size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
};

// The in-memory front of replay protection: (reporter, nonce) pairs seen within the signing
// window, partitioned per reporter so that one reporter filling its partition cannot refuse
// another. It is not the authority for writes: report/revoke requests also carry their
// nonce to the Store, which consumes it durably in the same commit as the votes
// (storage::ReplayKey), so a replay is refused after a restart too.
class NonceCache {
 public:
  // Remembers at most `max_entries` pairs in all, at most `max_per_reporter` per reporter.
  NonceCache(std::size_t max_entries, std::size_t max_per_reporter);

  enum class Outcome {
    kFresh,      // remembered now
    kReplay,     // already known: refuse
    kFull,       // this reporter's partition is full of unexpired nonces (answer 503 to it)
    kUntracked,  // the cache as a whole is full: not remembered here (the durable check of
                 // the store still applies to writes)
  };
  // Records (reporter, nonce) until `expires_at` (Unix seconds: the request's timestamp +
  // the signing window, after which the request is refused as stale anyway). `now` prunes
  // the reporter's expired entries.
  Outcome insert(std::string_view reporter, std::string_view nonce, std::int64_t now,
                 std::int64_t expires_at);

  std::size_t size() const;

 private:
  struct Partition {
    std::unordered_set<std::string> seen;
    std::deque<std::pair<std::int64_t, std::string>> order;  // (expires_at, nonce), insertion order
  };
  struct Shard {
    mutable Mutex mu;
    std::unordered_map<std::string, Partition> reporters GUARDED_BY(mu);
    std::size_t entries GUARDED_BY(mu) = 0;
  };
  static constexpr std::size_t kShards = 16;
  // Drops p's entries that expired before `now`; returns how many.
  static std::size_t prune(Partition& p, std::int64_t now);
  const std::size_t max_per_shard_;
  const std::size_t max_per_reporter_;
  std::array<Shard, kShards> shards_;
};

}  // namespace strop::node
