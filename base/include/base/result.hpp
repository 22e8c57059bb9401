// result.hpp: Result<T> and Errc, the project's value type for expected failures.
//
// Expected failures (bad input, limits hit, not found) travel as values; exceptions are
// reserved for bugs and fatal states. A Result holds either a T or an Error {code, message}.
// Thread-safety: a Result is a plain value; distinct objects may be used from any thread.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace strop {

// Stable error codes shared by every layer. New codes are appended, never renumbered.
enum class Errc : int {
  kOk = 0,
  kInvalidArgument = 1,  // caller passed something unusable
  kMalformed = 2,        // untrusted bytes do not parse
  kLimitExceeded = 3,    // a named limit was hit
  kNotFound = 4,
  kExists = 5,
  kIo = 6,           // file or socket error
  kUnavailable = 7,  // peer down, overloaded
  kTimeout = 8,
  kUnauthorized = 9,
  kForbidden = 10,
  kRateLimited = 11,
  kInternal = 12,
  kNotMail = 13,   // input is not an RFC 822 message
  kReplayed = 14,  // a signed request that was already accepted once
};

// Returns a short stable name for `code`, e.g. "malformed".
const char* errc_name(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;

  std::string to_string() const { return std::string(errc_name(code)) + ": " + message; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // REQUIRES: ok()
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }
  const T& operator*() const& { return std::get<0>(v_); }

  // REQUIRES: !ok()
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace strop

// STROP_TRY(expr): evaluates `expr` (a Result) and returns its Error from the enclosing
// function when it failed. The enclosing function must return a Result (any T).
#define STROP_TRY(expr)                                                         \
  do {                                                                          \
    if (auto strop_try_r_ = (expr); !strop_try_r_) return strop_try_r_.error(); \
  } while (0)
