// deadline.hpp: a point in time (steady clock) that blocking operations must not pass.
//
// Every stage of the end-of-message pipeline gets its own Deadline, the earlier of its stage
// timeout and the overall message budget, so mail never waits past the budget. A Deadline is
// a plain value; any thread may use any copy.
#pragma once

#include <algorithm>
#include <chrono>
#include <climits>

namespace strop::milter {

using Clock = std::chrono::steady_clock;

class Deadline {
 public:
  Deadline() = default;  // never expires
  explicit Deadline(Clock::time_point at) : at_(at), finite_(true) {}

  static Deadline after(std::chrono::milliseconds d) { return Deadline(Clock::now() + d); }
  static Deadline never() { return Deadline(); }

  bool finite() const { return finite_; }
  Clock::time_point at() const { return at_; }
  bool expired() const { return finite_ && Clock::now() >= at_; }

  // Remaining time, zero when expired; a very large value when infinite.
  std::chrono::milliseconds remaining() const {
    if (!finite_) return std::chrono::milliseconds(INT_MAX);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }

  // Timeout argument for poll(2): -1 when infinite, else remaining milliseconds rounded up
  // (so a deadline 0.3 ms away still waits instead of spinning).
  int poll_ms() const {
    if (!finite_) return -1;
    auto left = at_ - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1;
    return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
  }

  // The earlier of the two deadlines.
  Deadline min(const Deadline& other) const {
    if (!finite_) return other;
    if (!other.finite_) return *this;
    return at_ <= other.at_ ? *this : other;
  }

 private:
  Clock::time_point at_{};
  bool finite_ = false;
};

// Milliseconds elapsed since `start`, as a double (for logs and metrics).
inline double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace strop::milter
