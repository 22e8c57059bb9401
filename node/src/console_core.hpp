// console_core.hpp (private to strop-node): the pure parts of the operator web console
// (console.hpp, docs/console.md), testable without sockets, files or a real clock:
//   - password hashing and verification (scrypt from OpenSSL, per-user random salt, the
//     parameters stored with the hash, constant-time comparison);
//   - SessionTable: the logged-in sessions (random 256-bit ids, a CSRF token each, idle
//     expiry, a bounded count);
//   - LoginThrottle: failed logins per source address (bounded table);
//   - SeriesRing: a fixed-size ring of time-series samples (the overview's charts);
//   - TopK: a space-saving counter of the most frequent keys (most matched listed signatures).
// Times are the caller's: monotonic nanoseconds passed in (an injected clock).
//
// Threading: SessionTable, LoginThrottle, SeriesRing and TopK are internally synchronised
// (one mutex each): any thread may call them. The free functions are pure and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/mutex.hpp"
#include "base/result.hpp"
#include "base/thread_annotations.hpp"

namespace strop::node::console {

// ---- passwords

// scrypt parameters. Default: N = 2^15, r = 8, p = 1 (32 MiB, tens of milliseconds).
struct KdfParams {
  std::uint64_t n = 1u << 15;
  std::uint64_t r = 8;
  std::uint64_t p = 1;
};
// Limits on a stored hash's parameters (a tampered file must not make a login take minutes).
inline constexpr std::uint64_t kMaxKdfN = 1u << 20;
inline constexpr std::uint64_t kMaxKdfR = 32;
inline constexpr std::uint64_t kMaxKdfP = 16;
// Passwords longer than this are refused (login and account creation).
inline constexpr std::size_t kMaxPasswordBytes = 1024;

// "scrypt$N$r$p$SALT$HASH" (base64url, no padding) of `password` with a fresh 16-byte salt.
// Errors: kInvalidArgument (empty or over kMaxPasswordBytes), kInternal (OpenSSL failed).
Result<std::string> hash_password(std::string_view password, const KdfParams& params = {});
// Whether `password` matches `encoded` (as hash_password makes it); constant-time in the
// hash comparison. False for a malformed `encoded` or parameters over the limits.
bool verify_password(std::string_view password, std::string_view encoded);

// Constant-time equality of two byte strings (false when the sizes differ).
bool constant_time_equal(std::string_view a, std::string_view b);

// ---- sessions

enum class Role : std::uint8_t { kAdmin, kReadOnly };
std::string_view role_name(Role r);  // "admin", "read-only"
std::optional<Role> parse_role(std::string_view s);

struct Session {
  std::string id;    // 64 hex digits: 256 random bits (the cookie value)
  std::string csrf;  // 64 hex digits: the X-CSRF-Token every action must carry
  std::string user;
  Role role = Role::kReadOnly;
  std::int64_t last_used_ns = 0;
};

class SessionTable {
 public:
  // Default: 8 h idle expiry; at most 256 sessions (the least recently used goes first).
  SessionTable(std::int64_t idle_ns, std::size_t max_sessions);

  // A new session for `user` at monotonic time `now_ns`.
  Session create(std::string user, Role role, std::int64_t now_ns) EXCLUDES(mu_);
  // The session with this id, if it exists and was used within the idle timeout; its idle
  // time restarts. Expired sessions found on the way are dropped.
  std::optional<Session> find(std::string_view id, std::int64_t now_ns) EXCLUDES(mu_);
  void remove(std::string_view id) EXCLUDES(mu_);
  // Drops every session of `user` (the account was removed or its password changed).
  void remove_user(std::string_view user) EXCLUDES(mu_);
  std::size_t size() const EXCLUDES(mu_);

 private:
  const std::int64_t idle_ns_;
  const std::size_t max_sessions_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Session> sessions_ GUARDED_BY(mu_);
};

// Whether an action's X-CSRF-Token header value is the session's token.
bool csrf_ok(const Session& s, std::string_view header_value);

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string_view cookie_value(std::string_view cookie_header, std::string_view name);

// ---- login throttling

class LoginThrottle {
 public:
  // At most `max_failures` failed logins per address within `window_ns`; the table keeps at
  // most `max_addresses` addresses (when full, the oldest entry goes).
  LoginThrottle(std::size_t max_failures, std::int64_t window_ns, std::size_t max_addresses);
  // Whether `address` may try a login now.
  bool allowed(std::string_view address, std::int64_t now_ns) EXCLUDES(mu_);
  void failed(std::string_view address, std::int64_t now_ns) EXCLUDES(mu_);
  void succeeded(std::string_view address) EXCLUDES(mu_);

 private:
  struct Entry {
    std::size_t failures = 0;
    std::int64_t window_start_ns = 0;
  };
  const std::size_t max_failures_;
  const std::int64_t window_ns_;
  const std::size_t max_addresses_;
  Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ GUARDED_BY(mu_);
};

// ---- time series

// One sample of the overview's figures.
struct Sample {
  std::int64_t unix_seconds = 0;
  std::vector<double> values;
};

// The last `capacity` samples, oldest first.
class SeriesRing {
 public:
  explicit SeriesRing(std::size_t capacity);
  void push(Sample s) EXCLUDES(mu_);
  std::vector<Sample> snapshot() const EXCLUDES(mu_);

 private:
  const std::size_t capacity_;
  mutable Mutex mu_;
  std::vector<Sample> ring_ GUARDED_BY(mu_);
  std::size_t next_ GUARDED_BY(mu_) = 0;
};

// ---- top K

// The space-saving algorithm (Metwally et al.): at most `capacity` counters; a new key
// replaces the smallest counter and inherits its count as `error`. A key's true count lies in
// [count - error, count]; every key seen more than total/capacity times is in the table.
class TopK {
 public:
  struct Item {
    std::string key;
    std::uint64_t count = 0;
    std::uint64_t error = 0;
  };
  explicit TopK(std::size_t capacity);
  void add(std::string_view key) EXCLUDES(mu_);
  // The `n` largest counters, largest first (ties by key).
  std::vector<Item> top(std::size_t n) const EXCLUDES(mu_);
  std::uint64_t total() const EXCLUDES(mu_);

 private:
  const std::size_t capacity_;
  mutable Mutex mu_;
  std::unordered_map<std::string, Item> items_ GUARDED_BY(mu_);
  std::uint64_t total_ GUARDED_BY(mu_) = 0;
};

// ---- figures

// The latency below which `q` (0..1) of the observations fall, from non-cumulative bucket
// counts over `bounds` (seconds; one more bucket for +Inf): the upper bound of the first
// bucket where the cumulative count reaches ceil(q * total), as Prometheus'
// histogram_quantile would bound it. 0 when there are no observations; +Inf bucket: the last
// finite bound.
double bucket_quantile(double q, const std::vector<double>& bounds,
                       const std::vector<std::uint64_t>& counts);

}  // namespace strop::node::console
