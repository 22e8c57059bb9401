#include "node/limiter.hpp"

#include <algorithm>
#include <functional>

namespace strop::node {

namespace {

std::size_t shard_of(std::string_view key, std::size_t shards) {
  return std::hash<std::string_view>{}(key) % shards;
}

}  // namespace

RateLimiter::RateLimiter(double per_second, double burst, std::size_t max_keys)
    : rate_(per_second),
      burst_(std::max(burst, 1.0)),
      max_per_shard_(std::max<std::size_t>(max_keys / kShards, 1)) {}

void RateLimiter::set_rate(double per_second, double burst) {
  burst_.store(std::max(burst, 1.0), std::memory_order_relaxed);
  rate_.store(per_second, std::memory_order_relaxed);
}

void RateLimiter::evict_idle(Shard& s, std::int64_t now_ns, double rate, double burst) {
  for (auto it = s.buckets.begin(); it != s.buckets.end();) {
    double refill = static_cast<double>(now_ns - it->second.last_ns) * 1e-9 * rate;
    if (it->second.tokens + refill >= burst) {
      it = s.buckets.erase(it);
    } else {
      ++it;
    }
  }
}

RateLimiter::Decision RateLimiter::take(std::string_view key, std::int64_t now_ns, double cost) {
  const double rate = rate_.load(std::memory_order_relaxed);
  const double burst = burst_.load(std::memory_order_relaxed);
  if (rate <= 0) return {};
  Shard& s = shards_[shard_of(key, kShards)];
  MutexLock lock(&s.mu);
  auto it = s.buckets.find(std::string(key));
  if (it == s.buckets.end()) {
    if (s.buckets.size() >= max_per_shard_) {
      evict_idle(s, now_ns, rate, burst);
      if (s.buckets.size() >= max_per_shard_) return {};  // fail open, untracked
    }
    it = s.buckets.emplace(std::string(key), Bucket{burst, now_ns}).first;
  }
  Bucket& b = it->second;
  if (now_ns > b.last_ns) {
    b.tokens = std::min(burst, b.tokens + static_cast<double>(now_ns - b.last_ns) * 1e-9 * rate);
    b.last_ns = now_ns;
  }
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return {};
  }
  return {false, (cost - b.tokens) / rate};
}

std::size_t RateLimiter::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    MutexLock lock(&s.mu);
    n += s.buckets.size();
  }
  return n;
}

NonceCache::NonceCache(std::size_t max_entries, std::size_t max_per_reporter)
    : max_per_shard_(std::max<std::size_t>(max_entries / kShards, 1)),
      max_per_reporter_(std::max<std::size_t>(max_per_reporter, 1)) {}

std::size_t NonceCache::prune(Partition& p, std::int64_t now) {
  std::size_t n = 0;
  for (; !p.order.empty() && p.order.front().first < now; ++n) {
    p.seen.erase(p.order.front().second);
    p.order.pop_front();
  }
  return n;
}

NonceCache::Outcome NonceCache::insert(std::string_view reporter, std::string_view nonce,
                                       std::int64_t now, std::int64_t expires_at) {
  Shard& s = shards_[shard_of(reporter, kShards)];
  MutexLock lock(&s.mu);
  auto it = s.reporters.find(std::string(reporter));
  if (it != s.reporters.end()) {
    Partition& p = it->second;
    s.entries -= prune(p, now);
    if (p.seen.count(std::string(nonce))) return Outcome::kReplay;
    if (p.seen.empty()) {
      s.reporters.erase(it);
      it = s.reporters.end();
    } else if (p.seen.size() >= max_per_reporter_) {
      return Outcome::kFull;
    }
  }
  if (s.entries >= max_per_shard_) {
    // Make room from other reporters' expired entries before giving up on this one.
    for (auto r = s.reporters.begin(); r != s.reporters.end();) {
      s.entries -= prune(r->second, now);
      if (r->second.seen.empty() && r != it) {
        r = s.reporters.erase(r);
      } else {
        ++r;
      }
    }
    if (s.entries >= max_per_shard_) return Outcome::kUntracked;
  }
  if (it == s.reporters.end()) it = s.reporters.try_emplace(std::string(reporter)).first;
  Partition& p = it->second;
  p.seen.emplace(nonce);
  p.order.emplace_back(expires_at, std::string(nonce));
  ++s.entries;
  return Outcome::kFresh;
}

std::size_t NonceCache::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    MutexLock lock(&s.mu);
    n += s.entries;
  }
  return n;
}

}  // namespace strop::node
