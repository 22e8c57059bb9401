// text.hpp: small string helpers shared by the milter's modules (ASCII only, pure). The
// ASCII case and whitespace helpers are base/ascii.hpp's.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "base/ascii.hpp"

namespace strop::milter {

using strop::ascii_lower;
using strop::iequals;
using strop::istarts_with;
using strop::to_lower;
using strop::trim;

// Printable ASCII only, at most `max` bytes, for logs and SMTP replies: control characters
// and non-ASCII bytes become '?'.
inline std::string sanitize(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (char c : s.substr(0, std::min(s.size(), max))) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  return out;
}

}  // namespace strop::milter
