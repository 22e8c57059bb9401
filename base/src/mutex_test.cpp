#include "base/mutex.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <thread>
#include <vector>

namespace strop {
namespace {

using namespace std::chrono_literals;

// A bounded handoff queue written the way product code should use the wrappers; the
// thread-safety analysis checks it in the STROP_WERROR clang build.
class Channel {
 public:
  void push(int v) EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      items_.push_back(v);
    }
    cv_.notify_one();
  }
  int pop() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    cv_.wait(&mu_, [&]() REQUIRES(mu_) { return !items_.empty(); });
    int v = items_.front();
    items_.pop_front();
    return v;
  }
  bool pop_for(std::chrono::milliseconds timeout, int* out) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    if (!cv_.wait_for(&mu_, timeout, [&]() REQUIRES(mu_) { return !items_.empty(); })) {
      return false;
    }
    *out = items_.front();
    items_.pop_front();
    return true;
  }

 private:
  Mutex mu_;
  CondVar cv_;
  std::deque<int> items_ GUARDED_BY(mu_);
};

TEST(Mutex, MutexLockExcludesOtherThreads) {
  Mutex mu;
  long counter = 0;  // guarded by mu (a local cannot carry the attribute)
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        MutexLock lock(&mu);
        ++counter;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter, 40000);
}

TEST(Mutex, TryLockFailsWhileHeld) {
  Mutex mu;
  MutexLock lock(&mu);
  bool taken = true;
  std::thread([&] {
    taken = false;
    if (mu.try_lock()) {
      taken = true;
      mu.unlock();
    }
  }).join();
  EXPECT_FALSE(taken);
  lock.unlock();
  std::thread([&] {
    taken = false;
    if (mu.try_lock()) {
      taken = true;
      mu.unlock();
    }
  }).join();
  EXPECT_TRUE(taken);
  lock.lock();  // the destructor releases it
}

TEST(Mutex, MutexLockReleasesOnlyWhenHeld) {
  Mutex mu;
  {
    MutexLock lock(&mu);
    lock.unlock();
  }
  bool taken = false;
  if (mu.try_lock()) {
    taken = true;
    mu.unlock();
  }
  EXPECT_TRUE(taken);
}

TEST(CondVar, WaitWithPredicateSeesPush) {
  Channel ch;
  std::thread producer([&] {
    for (int i = 1; i <= 100; ++i) ch.push(i);
  });
  long sum = 0;
  for (int i = 0; i < 100; ++i) sum += ch.pop();
  producer.join();
  EXPECT_EQ(sum, 5050);
}

TEST(CondVar, WaitForTimesOutWithoutNotify) {
  Channel ch;
  int v = 0;
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ch.pop_for(20ms, &v));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 20ms);
  ch.push(7);
  EXPECT_TRUE(ch.pop_for(20ms, &v));
  EXPECT_EQ(v, 7);
}

TEST(CondVar, WaitUntilReturnsFalseAtDeadline) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(&mu);
  bool notified = true;
  auto deadline = std::chrono::steady_clock::now() + 10ms;
  while (notified) notified = cv.wait_until(&mu, deadline);  // spurious wakeups loop
  EXPECT_GE(std::chrono::steady_clock::now(), deadline);
}

TEST(SharedMutex, ReadersShareWritersExclude) {
  SharedMutex mu;
  std::atomic<int> readers{0};
  std::atomic<int> max_readers{0};
  {
    ReaderMutexLock outer(&mu);
    // A second reader gets in while the first holds the lock; a writer does not.
    std::thread([&] {
      bool shared = false;
      if (mu.try_lock_shared()) {
        shared = true;
        mu.unlock_shared();
      }
      EXPECT_TRUE(shared);
      bool exclusive = false;
      if (mu.try_lock()) {
        exclusive = true;
        mu.unlock();
      }
      EXPECT_FALSE(exclusive);
    }).join();
  }
  std::vector<std::thread> threads;
  int value = 0;  // guarded by mu
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        if ((i + t) % 4 == 0) {
          WriterMutexLock lock(&mu);
          EXPECT_EQ(readers.load(), 0);
          ++value;
        } else {
          ReaderMutexLock lock(&mu);
          int now = ++readers;
          int seen = max_readers.load();
          while (now > seen && !max_readers.compare_exchange_weak(seen, now)) {
          }
          --readers;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(value, 1000);
}

}  // namespace
}  // namespace strop
