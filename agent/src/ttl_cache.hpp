// ttl_cache.hpp (private to strop_agent): a bounded LRU map whose entries expire after a
// fixed time to live; the client keeps recent check verdicts in it, keyed by a digest of the
// message's signature set.
//
// Thread-safety: all methods lock an internal mutex (state below is GUARDED_BY it, checked by
// clang's -Wthread-safety); safe for concurrent use. The clock is
// injectable (tests advance it by hand). Values are copied in and out.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/mutex.hpp"

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
    MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
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
    MutexLock lock(&mu_);
    map_.clear();
    lru_.clear();
  }

  std::size_t size() const {
    MutexLock lock(&mu_);
    return map_.size();
  }
  std::size_t hits() const {
    MutexLock lock(&mu_);
    return hits_;
  }
  std::size_t misses() const {
    MutexLock lock(&mu_);
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
  mutable Mutex mu_;
  std::list<Entry> lru_ GUARDED_BY(mu_);  // most recently used first
  std::unordered_map<std::string, typename std::list<Entry>::iterator> map_ GUARDED_BY(mu_);
  std::size_t hits_ GUARDED_BY(mu_) = 0;
  std::size_t misses_ GUARDED_BY(mu_) = 0;
};

}  // namespace strop::agent::detail
