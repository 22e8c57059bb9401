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

// Printable ASCII only, at most about `max` bytes, for logs and SMTP replies: control
// characters and non-ASCII bytes become '?'. A longer text is never cut inside a word: it
// ends at the last space that fits (or at `max` for one long word) followed by "...", so
// "No such file or directory" is never shown as "No such file or director".
inline std::string sanitize(std::string_view s, std::size_t max = 200) {
  bool cut = s.size() > max;
  std::string_view keep = s.substr(0, std::min(s.size(), max));
  if (cut) {
    auto space = keep.rfind(' ');
    if (space != std::string_view::npos && space > 0) keep = keep.substr(0, space);
  }
  std::string out;
  out.reserve(keep.size() + 3);
  for (char c : keep) {
    auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? c : '?';
  }
  if (cut) out += "...";
  return out;
}

}  // namespace strop::milter
