// feed_waiters.cpp: the long poll of the feed (node/feed_waiters.hpp).
#include "node/feed_waiters.hpp"

#include <utility>
#include <vector>

namespace strop::node {

namespace {
constexpr auto kTick = std::chrono::milliseconds(250);
}  // namespace

FeedWaiters::~FeedWaiters() { stop(); }

bool FeedWaiters::add(const std::string& peer, Time deadline, Attempt attempt) {
  Attempt replaced;
  {
    MutexLock lock(&mu_);
    if (stopping_) return false;
    auto it = waiters_.find(peer);
    if (it != waiters_.end()) {
      // The peer pulls again: its older pull is stale (a puller restarted, or its connection
      // is gone). The newer one takes the place; the older is answered, empty.
      replaced = std::move(it->second.attempt);
      it->second = Waiter{deadline, std::move(attempt)};
    } else if (waiters_.size() >= max_total_) {
      return false;
    } else {
      waiters_.emplace(peer, Waiter{deadline, std::move(attempt)});
    }
    cv_.notify_all();  // the thread may need an earlier wake-up
  }
  if (replaced) replaced(Why::kExpired);
  return true;
}

void FeedWaiters::notify() {
  MutexLock lock(&mu_);
  if (waiters_.empty()) return;
  committed_ = true;
  cv_.notify_all();
}

std::size_t FeedWaiters::waiting() const {
  MutexLock lock(&mu_);
  return waiters_.size();
}

void FeedWaiters::service(Time now, bool committed, bool tick) {
  std::vector<std::pair<std::string, Waiter>> due;
  {
    MutexLock lock(&mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (committed || tick || it->second.deadline <= now) {
        due.emplace_back(it->first, std::move(it->second));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
  }
  std::vector<std::pair<std::string, Waiter>> again;
  for (auto& [peer, w] : due) {
    const Why why = w.deadline <= now ? Why::kExpired : committed ? Why::kCommitted : Why::kTick;
    // An expired pull is answered by its attempt: it never parks again.
    if (!w.attempt(why) && why != Why::kExpired) again.emplace_back(std::move(peer), std::move(w));
  }
  if (again.empty()) return;
  MutexLock lock(&mu_);
  for (auto& [peer, w] : again) waiters_.emplace(std::move(peer), std::move(w));
}

void FeedWaiters::start() {
  thread_ = std::thread([this] { run(); });
}

void FeedWaiters::run() {
  for (;;) {
    bool committed = false;
    {
      MutexLock lock(&mu_);
      Time wake = std::chrono::steady_clock::now() + kTick;
      for (const auto& [peer, w] : waiters_) wake = std::min(wake, w.deadline);
      cv_.wait_until(&mu_, wake, [this]() REQUIRES(mu_) { return stopping_ || committed_; });
      if (stopping_) return;
      committed = committed_;
      committed_ = false;
    }
    service(std::chrono::steady_clock::now(), committed, true);
  }
}

void FeedWaiters::stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  // Every pull still parked is answered now (empty): Time::max() makes each one expired.
  service(Time::max(), false);
}

}  // namespace strop::node
