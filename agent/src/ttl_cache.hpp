// ttl_cache.hpp (private to strop_agent): a bounded LRU map whose entries expire after a
// fixed time to live; the client keeps recent check verdicts in it, keyed by a digest of the
// message's signature set.
//
// Thread-safety: all methods lock an internal mutex; safe for concurrent use. The clock is
// injectable (tests advance it by hand). Values are copied in and out.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace strop::agent::detail {

template <class V>
class TtlCache {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  // A zero `ttl` or `capacity` disables the cache (every get misses, put does nothing).
  TtlCache(std::chrono::milliseconds ttl, std::size_t capacity, Now now = &Clock::now)
      : ttl_(ttl), capacity_(capacity), now_(std::move(now)) {}

  std::optional<V> get(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) {
      ++misses_;
      return std::nullopt;
    }
    if (now_() >= it->second->expires) {
      lru_.erase(it->second);
      map_.erase(it);
      ++misses_;
      return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    ++hits_;
    return it->second->value;
  }

  void put(const std::string& key, V value) {
    if (ttl_.count() <= 0 || capacity_ == 0) return;
    std::lock_guard lock(mu_);
    auto expires = now_() + ttl_;
    if (auto it = map_.find(key); it != map_.end()) {
      it->second->value = std::move(value);
      it->second->expires = expires;
      lru_.splice(lru_.begin(), lru_, it->second);
      return;
    }
    lru_.push_front(Entry{key, std::move(value), expires});
    map_.emplace(key, lru_.begin());
    while (map_.size() > capacity_) {
      map_.erase(lru_.back().key);
      lru_.pop_back();
    }
  }

  void clear() {
    std::lock_guard lock(mu_);
    map_.clear();
    lru_.clear();
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return map_.size();
  }
  std::size_t hits() const {
    std::lock_guard lock(mu_);
    return hits_;
  }
  std::size_t misses() const {
    std::lock_guard lock(mu_);
    return misses_;
  }

 private:
  struct Entry {
    std::string key;
    V value;
    Clock::time_point expires;
  };

  const std::chrono::milliseconds ttl_;
  const std::size_t capacity_;
  const Now now_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // guarded by mu_, most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> map_;  // guarded by mu_
  std::size_t hits_ = 0;    // guarded by mu_
  std::size_t misses_ = 0;  // guarded by mu_
};

}  // namespace strop::agent::detail
