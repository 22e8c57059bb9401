// feed_waiters.hpp: the long poll of GET /v1/peer/feed (docs/federation.md "Request"). A
// peer's pull that finds nothing after its cursor parks here, holding no thread (only its
// callback), until the store commits (notify()) or its wait ends; its attempt is then called
// again. Bounded: one waiting pull per peer (a newer pull of the same peer takes the older's
// place, the older being answered empty: it is stale) and kMaxFeedWaiters in all; a pull
// over the total is not parked (the caller answers it at once, empty).
//
// Pure core, thin shell: service() runs the attempts that are due with the time injected
// (unit tests call it directly); start() runs it on one thread shared by every waiter.
// Thread-safety: every public method may be called from any thread; attempts run on the
// caller of service() (the shared thread once started), never under the lock. Lifetime:
// stop() (also the destructor) answers every waiter as expired and joins the thread; call it
// before whatever the attempts use is destroyed.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <thread>

#include "base/mutex.hpp"

namespace strop::node {

// Pulls parked at once, all peers together. Default: 256.
inline constexpr std::size_t kMaxFeedWaiters = 256;

class FeedWaiters {
 public:
  using Time = std::chrono::steady_clock::time_point;
  enum class Why {
    kCommitted,  // the store committed: there may be entries after the cursor
    kExpired,    // the wait is over (or the waiters stop): answer now, even if empty
    kTick,       // neither: a chance to answer early (e.g. the node drains)
  };
  // Answers the pull and returns true, or returns false to keep waiting (not for kExpired).
  using Attempt = std::function<bool(Why)>;

  explicit FeedWaiters(std::size_t max_total = kMaxFeedWaiters) : max_total_(max_total) {}
  ~FeedWaiters();
  FeedWaiters(const FeedWaiters&) = delete;
  FeedWaiters& operator=(const FeedWaiters&) = delete;

  // Parks `peer`'s pull until `deadline`, answering (kExpired) a pull of `peer` parked
  // before. false (nothing parked): the total is reached, or the waiters are stopped.
  bool add(const std::string& peer, Time deadline, Attempt attempt);
  // A commit happened. Cheap: called on the store's writer thread after each commit.
  void notify();
  // Calls the attempts that are due at `now`: every one when `committed`, those whose
  // deadline passed (kExpired), and the rest with kTick when `tick`.
  void service(Time now, bool committed, bool tick = false);
  std::size_t waiting() const;

  // The shared thread: wakes on notify(), at the earliest deadline, and every 250 ms (tick).
  void start();
  void stop();

 private:
  struct Waiter {
    Time deadline;
    Attempt attempt;
  };
  void run();

  const std::size_t max_total_;
  mutable Mutex mu_;
  CondVar cv_;
  std::map<std::string, Waiter> waiters_ GUARDED_BY(mu_);
  bool committed_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace strop::node
