// base64.hpp: base64 (RFC 4648) over a caller-chosen 64-character alphabet.
//
// The standard alphabet ends "+/", the URL-safe one "-_"; both share one implementation.
// Thread-safety: pure functions, callable from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace strop {

inline constexpr std::string_view kBase64Standard =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
inline constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

enum class Base64Padding { kNone, kPad };

// Returns `bytes` in base64 over `alphabet`. The last character of a partial quantum
// carries its bits zero-filled; with kPad, '=' fills the quantum to 4 characters.
// REQUIRES: alphabet.size() == 64
std::string base64_encode(std::string_view bytes, std::string_view alphabet = kBase64Standard,
                          Base64Padding padding = Base64Padding::kPad);

// Strict decoding: every character must be in `alphabet` (so '=' padding is rejected);
// bits left over after the last whole byte are dropped. Returns nullopt on any other
// character.
// REQUIRES: alphabet.size() == 64
std::optional<std::string> base64_decode(std::string_view text,
                                         std::string_view alphabet = kBase64Standard);

// The 6-bit value of a standard-alphabet character ("A-Za-z0-9+/"), or -1 for any other
// byte ('=' included): the table the faithful ports of Perl's and Python's decoders share.
constexpr int base64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Lenient decoding for MIME bodies: total, accepts both alphabets at once, skips characters
// outside them (line breaks, junk), and restarts the quantum at each '=' so concatenated
// base64 blocks decode.
std::string base64_decode_lenient(std::string_view text);

}  // namespace strop
