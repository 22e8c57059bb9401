// ascii.hpp: locale-independent ASCII case and whitespace helpers for protocol tokens,
// header names and configuration words. Bytes >= 0x80 are left as they are.
// Thread-safety: pure functions, callable from any thread. Returned string_views point into
// the argument and live as long as it does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace strop {

// The characters C's isspace() accepts in the "C" locale.
inline constexpr std::string_view kAsciiSpace = " \t\n\v\f\r";

constexpr char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// True when `s` is 1..max_size characters of [a-z0-9.-]: a lower-case host-like name, e.g. a
// federation site name (storage) or a feed entry's origin (protocol/feed).
inline bool is_lower_host_name(std::string_view s, std::size_t max_size) {
  if (s.empty() || s.size() > max_size) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return true;
}

// Returns `s` with A-Z lowered.
inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

// True when `a` and `b` are equal ignoring ASCII case.
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// True when `s` starts with `prefix`, ignoring ASCII case.
constexpr bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// Returns `s` without leading and trailing characters from `chars` (default: kAsciiSpace).
constexpr std::string_view trim(std::string_view s, std::string_view chars = kAsciiSpace) {
  while (!s.empty() && chars.find(s.front()) != std::string_view::npos) s.remove_prefix(1);
  while (!s.empty() && chars.find(s.back()) != std::string_view::npos) s.remove_suffix(1);
  return s;
}

// Returns the position of the first match of `needle` in `hay` at or after `from`, ignoring
// ASCII case, or npos.
std::size_t ifind(std::string_view hay, std::string_view needle, std::size_t from = 0);

}  // namespace strop
