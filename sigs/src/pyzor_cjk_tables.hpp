// pyzor_cjk_tables.hpp: the CJK codec data measured on Python 3.11 (generated into
// pyzor_cjk_tables.cpp by tests/legacy/gen/gen_pyzor_cjk.py). Private to sigs/src.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strop::sigs::pyzor::detail {

// One stateless multibyte codec. Tables are base64 of little-endian uint16 arrays.
struct CjkCodecData {
  std::string_view module;
  const char* single_b64;  // 256 entries: code point, 0xFFFF = lead byte, 0xFFFE = invalid
  std::string_view base;   // non-empty: pairs are differences from this codec's map
  std::uint8_t lead_lo, lead_hi, trail_lo, trail_hi;  // dense map bounds (when no base)
  const char* pairs_b64;   // dense rows (0 = unmapped), or sorted (key, value) differences
  std::size_t diff_count;  // number of differences (when base is set)
};
extern const CjkCodecData kCjkCodecs[];
extern const std::size_t kCjkCodecCount;

struct CjkDense {
  std::uint8_t lead_lo, lead_hi, trail_lo, trail_hi;
  const char* b64;
};
extern const CjkDense kEucJp0212;         // euc_jp 0x8F c2 c3, keyed (c2, c3)
extern const CjkDense kIso2022Jp0208;     // iso2022_jp JIS X 0208 (0x21..0x7E)^2
extern const char* const kGb18030Ranges;  // (lseq, code point) pairs, sorted by lseq
extern const std::size_t kGb18030RangeCount;
extern const unsigned char kEucKrChoseong[30];   // [0xA1..0xBE] -> index, 127 = none
extern const unsigned char kEucKrJongseong[30];  // [0xA1..0xBE] -> index, 127 = none

}  // namespace strop::sigs::pyzor::detail
