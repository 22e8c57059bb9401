#include "base/hex.hpp"

namespace strop {

namespace {
constexpr char kLowerDigits[] = "0123456789abcdef";
constexpr char kUpperDigits[] = "0123456789ABCDEF";
}  // namespace

void append_hex(std::string* out, unsigned char byte, HexCase hex_case) {
  const char* d = hex_case == HexCase::kLower ? kLowerDigits : kUpperDigits;
  out->push_back(d[byte >> 4]);
  out->push_back(d[byte & 15]);
}

std::string hex_encode(const unsigned char* data, std::size_t size, HexCase hex_case) {
  const char* d = hex_case == HexCase::kLower ? kLowerDigits : kUpperDigits;
  std::string out(2 * size, '\0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = d[data[i] >> 4];
    out[2 * i + 1] = d[data[i] & 15];
  }
  return out;
}

std::string hex_encode(std::string_view bytes, HexCase hex_case) {
  return hex_encode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), hex_case);
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Result<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0) return make_error(Errc::kMalformed, "hex string has an odd length");
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    int hi = hex_digit_value(hex[2 * i]);
    int lo = hex_digit_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return make_error(Errc::kMalformed, "not a hex digit");
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

namespace {

// Appends s decoded to *out. A '%' not followed by two hex digits is kept as it is, or, when
// `strict`, ends the decoding with false.
bool percent_decode_into(std::string_view s, bool strict, std::string* out) {
  out->reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const int hi = hex_digit_value(s[i + 1]);
      const int lo = hex_digit_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out->push_back(static_cast<char>((hi << 4) | lo));
        i += 2;
        continue;
      }
    }
    if (s[i] == '%' && strict) return false;
    out->push_back(s[i]);
  }
  return true;
}

}  // namespace

std::string percent_decode(std::string_view s) {
  std::string out;
  percent_decode_into(s, false, &out);
  return out;
}

Result<std::string> percent_decode_strict(std::string_view s) {
  std::string out;
  if (!percent_decode_into(s, true, &out)) {
    return make_error(Errc::kMalformed, "'%' not followed by two hex digits");
  }
  return out;
}

}  // namespace strop
