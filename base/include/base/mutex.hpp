// mutex.hpp: annotated mutexes, scoped locks and a condition variable.
//
// Thin wrappers over std::mutex, std::shared_mutex and std::condition_variable that carry
// clang's capability attributes (base/thread_annotations.hpp), so a member declared
// `GUARDED_BY(mu_)` is checked by -Wthread-safety. libstdc++'s own types carry none. The
// model is leveldb's port::Mutex / port::CondVar / MutexLock; the condition variable takes the
// mutex on each wait (as absl::CondVar does) so the analysis can check the caller holds it.
//
//   class Queue {
//    public:
//     void push(int v) EXCLUDES(mu_) {
//       {
//         MutexLock lock(&mu_);
//         items_.push_back(v);
//       }
//       cv_.notify_one();
//     }
//     int pop() EXCLUDES(mu_) {
//       MutexLock lock(&mu_);
//       while (items_.empty()) cv_.wait(&mu_);  // or cv_.wait(&mu_, [&]() REQUIRES(mu_) {...})
//       ...
//     }
//    private:
//     Mutex mu_;
//     CondVar cv_;
//     std::deque<int> items_ GUARDED_BY(mu_);
//   };
//
// Thread-safety: Mutex, SharedMutex and CondVar are safe for concurrent use (that is their
// purpose); a MutexLock / ReaderMutexLock / WriterMutexLock belongs to the thread that made it.
// Lifetime: a lock must not outlive its mutex; a mutex must not be destroyed while held.
// None of these types is copyable or movable.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "base/thread_annotations.hpp"

namespace strop {

class CondVar;

// An exclusive, non-recursive mutex. Meets the standard Lockable requirements (lock, unlock,
// try_lock), but prefer MutexLock: std::lock_guard / std::unique_lock are not annotated, so the
// analysis cannot see what they hold.
class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  ~Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  // Returns true when the mutex was taken.
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

  // Tells the analysis that the calling thread holds this mutex (for code it cannot follow,
  // e.g. a callback run under a lock taken elsewhere). No run-time check: std::mutex cannot
  // report its owner.
  void assert_held() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// A reader/writer mutex: lock() for exclusive (writer) access, lock_shared() for shared
// (reader) access. A GUARDED_BY member may be read with either held and written only under
// the exclusive lock.
class CAPABILITY("shared mutex") SharedMutex {
 public:
  SharedMutex() = default;
  ~SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  void lock_shared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void unlock_shared() RELEASE_SHARED() { mu_.unlock_shared(); }
  bool try_lock_shared() TRY_ACQUIRE_SHARED(true) { return mu_.try_lock_shared(); }

  void assert_held() const ASSERT_CAPABILITY(this) {}
  void assert_reader_held() const ASSERT_SHARED_CAPABILITY(this) {}

 private:
  std::shared_mutex mu_;
};

// Holds *mu from construction to destruction. unlock() and lock() drop and retake it in
// between (REQUIRES: held for unlock, not held for lock); the destructor releases it only
// if held.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~MutexLock() RELEASE() {
    if (held_) mu_->unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void unlock() RELEASE() {
    mu_->unlock();
    held_ = false;
  }
  void lock() ACQUIRE() {
    mu_->lock();
    held_ = true;
  }

 private:
  Mutex* const mu_;
  bool held_ = true;
};

// Holds *mu shared (reader) from construction to destruction, or until unlock().
class SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex* mu) ACQUIRE_SHARED(mu) : mu_(mu) { mu_->lock_shared(); }
  ~ReaderMutexLock() RELEASE() {
    if (held_) mu_->unlock_shared();
  }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

  // Releases early. REQUIRES: held.
  void unlock() RELEASE() {
    mu_->unlock_shared();
    held_ = false;
  }

 private:
  SharedMutex* const mu_;
  bool held_ = true;
};

// Holds *mu exclusively (writer) from construction to destruction, or until unlock().
class SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->lock(); }
  ~WriterMutexLock() RELEASE() {
    if (held_) mu_->unlock();
  }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

  // Releases early. REQUIRES: held.
  void unlock() RELEASE() {
    mu_->unlock();
    held_ = false;
  }

 private:
  SharedMutex* const mu_;
  bool held_ = true;
};

// A condition variable used with a Mutex. Every wait takes the mutex, which the caller must
// hold; it is released while blocked and held again on return. Waits without a predicate may
// return spuriously: loop on the condition. A predicate reading GUARDED_BY state must itself
// be annotated, e.g. `cv.wait(&mu_, [&]() REQUIRES(mu_) { return !items_.empty(); })`.
class CondVar {
 public:
  CondVar() = default;
  ~CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void notify_one() { cv_.notify_one(); }
  void notify_all() { cv_.notify_all(); }

  // Blocks until notified (or spuriously woken).
  void wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }

  // Blocks until pred() returns true. (The predicate overloads are not analysed inside: the
  // analysis cannot tell that the lambda's `mu_` is `mu`. Callers are still checked: REQUIRES.)
  template <class Predicate>
  void wait(Mutex* mu, Predicate pred) REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    while (!pred()) wait(mu);
  }

  // Blocks until notified, woken spuriously or past deadline. Returns false when it returned
  // because the deadline passed.
  template <class Clock, class Duration>
  bool wait_until(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline)
      REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool timed_out = cv_.wait_until(lock, deadline) == std::cv_status::timeout;
    lock.release();
    return !timed_out;
  }

  // Blocks until pred() returns true or the deadline passes. Returns pred()'s last value.
  template <class Clock, class Duration, class Predicate>
  bool wait_until(Mutex* mu, const std::chrono::time_point<Clock, Duration>& deadline,
                  Predicate pred) REQUIRES(mu) NO_THREAD_SAFETY_ANALYSIS {
    while (!pred()) {
      if (!wait_until(mu, deadline)) return pred();
    }
    return true;
  }

  // As wait_until(mu, now + timeout[, pred]).
  template <class Rep, class Period>
  bool wait_for(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout) REQUIRES(mu) {
    return wait_until(mu, std::chrono::steady_clock::now() + timeout);
  }
  template <class Rep, class Period, class Predicate>
  bool wait_for(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout, Predicate pred)
      REQUIRES(mu) {
    return wait_until(mu, std::chrono::steady_clock::now() + timeout, std::move(pred));
  }

 private:
  std::condition_variable cv_;
};

}  // namespace strop
