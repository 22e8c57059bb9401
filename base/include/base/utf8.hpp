// utf8.hpp: UTF-8 encoding and decoding of single code points.
//
// Invalid input never fails: it becomes U+FFFD, the replacement character.
// Thread-safety: pure functions, callable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strop {

inline constexpr std::uint32_t kReplacementChar = 0xFFFD;

// Appends code point `cp` as UTF-8. Surrogates (U+D800..U+DFFF) and values above U+10FFFF
// are appended as U+FFFD.
void append_utf8(std::string* out, std::uint32_t cp);

// Decodes the UTF-8 sequence at s[*i] and advances *i past it. An invalid, truncated or
// overlong sequence decodes as U+FFFD and advances by one byte.
// REQUIRES: *i < s.size()
std::uint32_t next_utf8(std::string_view s, std::size_t* i);

// True when `s` is entirely valid UTF-8.
bool valid_utf8(std::string_view s);

}  // namespace strop
