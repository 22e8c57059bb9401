// gzip.hpp: gzip (RFC 1952) compression of a buffer, and decompression of untrusted bytes
// with a hard limit on the decoded size (a decompression bomb is refused, not inflated).
//
// Over zlib. Thread-safety: pure functions, callable from any thread. Lifetime: the results
// own their bytes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace strop {

// One gzip member holding `data`, at zlib level `level` (1 fastest .. 9 smallest).
std::string gzip_compress(std::string_view data, int level = 6);

// The bytes of exactly one gzip member. Errors: kMalformed (not gzip, truncated, bad CRC,
// bytes after the member), kLimitExceeded (more than `max_out` bytes once decoded; inflating
// stops at the limit, so a bomb costs at most `max_out` bytes of memory).
Result<std::string> gzip_decompress(std::string_view data, std::size_t max_out);

}  // namespace strop
