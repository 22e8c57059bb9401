#include "json_reader.hpp"

#include <charconv>
#include <cmath>

#include "base/hex.hpp"
#include "base/utf8.hpp"

namespace strop::protocol::detail {

namespace {
// Exponent digits beyond this no longer change whether a number overflows a double.
constexpr std::int64_t kExponentClamp = 100'000'000;
// 10^308 <= DBL_MAX < 10^309: numbers whose leading digit is below this cannot overflow.
constexpr std::int64_t kMaxDoubleDecimalExponent = 308;
}  // namespace

namespace {

constexpr std::size_t kMaskBits = 64;

// Length of the valid UTF-8 sequence starting at p (lead byte >= 0x80), or 0 if invalid.
std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
  auto cont = [&](std::size_t i, unsigned char lo, unsigned char hi) {
    return p + i < end && p[i] >= lo && p[i] <= hi;
  };
  unsigned char c = p[0];
  if (c >= 0xC2 && c <= 0xDF) return cont(1, 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return cont(1, 0xA0, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return cont(1, 0x80, 0x9F) && cont(2, 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) return cont(1, 0x90, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (c >= 0xF1 && c <= 0xF3)
    return cont(1, 0x80, 0xBF) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  if (c == 0xF4) return cont(1, 0x80, 0x8F) && cont(2, 0x80, 0xBF) && cont(3, 0x80, 0xBF) ? 4 : 0;
  return 0;
}

}  // namespace

bool JsonReader::expect(char c) {
  skip_ws();
  if (p_ >= end_ || *p_ != c) return fail("unexpected character");
  ++p_;
  return true;
}

bool JsonReader::begin_object() {
  if (!ok()) return false;
  if (!expect('{')) return fail("expected an object");
  if (depth_ >= max_depth_ || depth_ >= kMaskBits) return fail_limit("JSON nesting too deep");
  ++depth_;
  first_mask_ |= std::uint64_t{1} << (depth_ - 1);
  return true;
}

bool JsonReader::begin_array() {
  if (!ok()) return false;
  if (!expect('[')) return fail("expected an array");
  if (depth_ >= max_depth_ || depth_ >= kMaskBits) return fail_limit("JSON nesting too deep");
  ++depth_;
  first_mask_ |= std::uint64_t{1} << (depth_ - 1);
  return true;
}

bool JsonReader::next_key(std::string_view* key, std::string* scratch) {
  if (!ok() || depth_ == 0) return false;
  skip_ws();
  if (p_ >= end_) return fail("unterminated object");
  std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
  bool first = (first_mask_ & bit) != 0;
  if (*p_ == '}') {
    ++p_;
    --depth_;
    return false;
  }
  if (!first) {
    if (*p_ != ',') return fail("expected ',' or '}'");
    ++p_;
    skip_ws();
  }
  first_mask_ &= ~bit;
  if (p_ >= end_ || *p_ != '"') return fail("expected a key");
  ++p_;
  if (!string_body(key, scratch, 1u << 16)) return false;
  return expect(':');
}

bool JsonReader::next_element() {
  if (!ok() || depth_ == 0) return false;
  skip_ws();
  if (p_ >= end_) return fail("unterminated array");
  std::uint64_t bit = std::uint64_t{1} << (depth_ - 1);
  bool first = (first_mask_ & bit) != 0;
  if (*p_ == ']') {
    ++p_;
    --depth_;
    return false;
  }
  if (!first) {
    if (*p_ != ',') return fail("expected ',' or ']'");
    ++p_;
  }
  first_mask_ &= ~bit;
  return true;
}

bool JsonReader::read_string(std::string_view* out, std::string* scratch, std::size_t max_len) {
  if (!ok()) return false;
  skip_ws();
  if (p_ >= end_ || *p_ != '"') return fail("expected a string");
  ++p_;
  return string_body(out, scratch, max_len);
}

// After the opening quote. Fast path: no escapes -> a view into the input.
bool JsonReader::string_body(std::string_view* out, std::string* scratch, std::size_t max_len) {
  const char* start = p_;
  bool escaped = false;
  std::size_t len = 0;  // unescaped length so far (in scratch when escaped)
  while (true) {
    if (p_ >= end_) return fail("unterminated string");
    auto c = static_cast<unsigned char>(*p_);
    if (c == '"') break;
    if (c < 0x20) return fail("control character in string");
    if (c == '\\') {
      if (!escaped) {
        escaped = true;
        scratch->assign(start, p_);
      }
      ++p_;
      if (p_ >= end_) return fail("unterminated string");
      char e = *p_++;
      switch (e) {
        case '"': scratch->push_back('"'); break;
        case '\\': scratch->push_back('\\'); break;
        case '/': scratch->push_back('/'); break;
        case 'b': scratch->push_back('\b'); break;
        case 'f': scratch->push_back('\f'); break;
        case 'n': scratch->push_back('\n'); break;
        case 'r': scratch->push_back('\r'); break;
        case 't': scratch->push_back('\t'); break;
        case 'u': {
          auto hex4 = [&](std::uint32_t* v) {
            if (end_ - p_ < 4) return false;
            std::uint32_t x = 0;
            for (int i = 0; i < 4; ++i) {
              int d = hex_digit_value(p_[i]);
              if (d < 0) return false;
              x = (x << 4) | static_cast<std::uint32_t>(d);
            }
            p_ += 4;
            *v = x;
            return true;
          };
          std::uint32_t cp = 0;
          if (!hex4(&cp)) return fail("bad \\u escape");
          if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            std::uint32_t lo = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail("lone high surrogate");
            p_ += 2;
            if (!hex4(&lo) || lo < 0xDC00 || lo > 0xDFFF) return fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(scratch, cp);
          break;
        }
        default: return fail("bad escape");
      }
      len = scratch->size();
      if (len > max_len) return fail_limit("string too long");
      continue;
    }
    if (c < 0x80) {
      if (escaped) scratch->push_back(static_cast<char>(c));
      ++p_;
    } else {
      std::size_t n = utf8_sequence(reinterpret_cast<const unsigned char*>(p_),
                                    reinterpret_cast<const unsigned char*>(end_));
      if (n == 0) return fail("invalid UTF-8 in string");
      if (escaped) scratch->append(p_, n);
      p_ += n;
    }
    len = escaped ? scratch->size() : static_cast<std::size_t>(p_ - start);
    if (len > max_len) return fail_limit("string too long");
  }
  *out = escaped ? std::string_view(*scratch)
                 : std::string_view(start, static_cast<std::size_t>(p_ - start));
  ++p_;  // closing quote
  return true;
}

bool JsonReader::skip_number() {
  const char* s = p_;
  if (p_ < end_ && *p_ == '-') ++p_;
  if (p_ >= end_) return fail("bad number");
  const char* int_begin = p_;
  if (*p_ == '0') {
    ++p_;
  } else if (*p_ >= '1' && *p_ <= '9') {
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
  } else {
    return fail("bad number");
  }
  const char* int_end = p_;
  const char* frac_begin = p_;
  const char* frac_end = p_;
  if (p_ < end_ && *p_ == '.') {
    ++p_;
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail("bad number");
    frac_begin = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    frac_end = p_;
  }
  std::int64_t exponent = 0;
  if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
    ++p_;
    bool negative = false;
    if (p_ < end_ && (*p_ == '+' || *p_ == '-')) negative = *p_++ == '-';
    if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail("bad number");
    for (; p_ < end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
      if (exponent < kExponentClamp) exponent = exponent * 10 + (*p_ - '0');
    }
    if (negative) exponent = -exponent;
  }
  // A number beyond the largest finite double is malformed (docs/protocol.md "Numbers"), as
  // nlohmann-json and most JSON libraries treat it; underflow reads as zero and is valid.
  // Only numbers whose leading digit sits at 10^308 or above can overflow: parse just those.
  std::int64_t magnitude = 0;  // decimal position of the first non-zero digit
  bool nonzero = false;
  for (const char* d = int_begin; d < int_end && !nonzero; ++d) {
    if (*d != '0') {
      nonzero = true;
      magnitude = (int_end - d) - 1;
    }
  }
  for (const char* d = frac_begin; d < frac_end && !nonzero; ++d) {
    if (*d != '0') {
      nonzero = true;
      magnitude = -((d - frac_begin) + 1);
    }
  }
  if (nonzero && magnitude + exponent >= kMaxDoubleDecimalExponent) {
    double v = 0;
    auto r = std::from_chars(s, p_, v);
    if (r.ec == std::errc::result_out_of_range || (r.ec == std::errc() && !std::isfinite(v))) {
      return fail("number out of range");
    }
  }
  return p_ > s;
}

bool JsonReader::read_int(std::int64_t* out, std::int64_t min, std::int64_t max) {
  if (!ok()) return false;
  skip_ws();
  const char* s = p_;
  if (!skip_number()) return false;
  std::int64_t v = 0;
  auto r = std::from_chars(s, p_, v);
  if (r.ec != std::errc() || r.ptr != p_) return fail("expected an integer");
  if (v < min || v > max) return fail("integer out of range");
  *out = v;
  return true;
}

bool JsonReader::skip_literal(std::string_view lit) {
  if (static_cast<std::size_t>(end_ - p_) < lit.size() || std::string_view(p_, lit.size()) != lit) {
    return fail("bad literal");
  }
  p_ += lit.size();
  return true;
}

bool JsonReader::read_bool(bool* out) {
  if (!ok()) return false;
  skip_ws();
  if (p_ < end_ && *p_ == 't') {
    *out = true;
    return skip_literal("true");
  }
  if (p_ < end_ && *p_ == 'f') {
    *out = false;
    return skip_literal("false");
  }
  return fail("expected a boolean");
}

bool JsonReader::skip_value() {
  if (!ok()) return false;
  skip_ws();
  if (p_ >= end_) return fail("expected a value");
  switch (*p_) {
    case '{': {
      if (!begin_object()) return false;
      std::string_view k;
      std::string scratch;
      while (next_key(&k, &scratch)) {
        if (!skip_value()) return false;
      }
      return ok();
    }
    case '[': {
      if (!begin_array()) return false;
      while (next_element()) {
        if (!skip_value()) return false;
      }
      return ok();
    }
    case '"': {
      std::string_view s;
      std::string scratch;
      ++p_;
      return string_body(&s, &scratch, static_cast<std::size_t>(-1));
    }
    case 't': return skip_literal("true");
    case 'f': return skip_literal("false");
    case 'n': return skip_literal("null");
    default: return skip_number();
  }
}

bool JsonReader::at_end() {
  skip_ws();
  return p_ == end_;
}

}  // namespace strop::protocol::detail
