// hex.hpp: base-16 encoding of byte strings (digests, nonces, keys), and percent-decoding
// (RFC 3986 %XX escapes), the one decoder of URLs, MIME parameters, Pyzor fields and paths.
//
// Encoding writes lower-case digits unless told otherwise; decoding validates its input.
// Thread-safety: pure functions, callable from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace strop {

enum class HexCase { kLower, kUpper };

// Returns two hex digits per byte of `bytes`, e.g. "\x01\xab" -> "01ab".
std::string hex_encode(std::string_view bytes, HexCase hex_case = HexCase::kLower);
std::string hex_encode(const unsigned char* data, std::size_t size,
                       HexCase hex_case = HexCase::kLower);

// Appends the two hex digits of `byte` to *out.
void append_hex(std::string* out, unsigned char byte, HexCase hex_case = HexCase::kLower);

// Returns the value 0..15 of a hex digit of either case, or -1 for any other character.
constexpr int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// True when every character of `s` is one of 0-9 a-f (an empty string is lower hex).
bool is_lower_hex(std::string_view s);

// Returns the bytes that `hex` (digits of either case) encodes; kMalformed on an odd length
// or a character that is not a hex digit.
Result<std::string> hex_decode(std::string_view hex);

// Replaces every %XX (two hex digits of either case) by its byte and keeps anything else,
// a '%' not followed by two hex digits included, as it is: what browsers, Python's
// urllib.parse.unquote and RFC 2231 readers do with text written by anyone.
std::string percent_decode(std::string_view s);

// As percent_decode, but a '%' not followed by two hex digits is kMalformed: for an
// identifier that must mean exactly one thing (a path segment naming a record).
Result<std::string> percent_decode_strict(std::string_view s);

}  // namespace strop
