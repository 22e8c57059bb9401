#include "base/utf8.hpp"

namespace strop {

void append_utf8(std::string* out, std::uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = kReplacementChar;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::uint32_t next_utf8(std::string_view s, std::size_t* i) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  std::size_t p = *i;
  unsigned char c = b(p);
  if (c < 0x80) {
    *i = p + 1;
    return c;
  }
  int len;
  std::uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
  } else {
    *i = p + 1;
    return kReplacementChar;
  }
  if (p + static_cast<std::size_t>(len) > s.size()) {
    *i = p + 1;
    return kReplacementChar;
  }
  for (int k = 1; k < len; ++k) {
    unsigned char cc = b(p + static_cast<std::size_t>(k));
    if ((cc & 0xC0) != 0x80) {
      *i = p + 1;
      return kReplacementChar;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Reject overlong forms and out-of-range values.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *i = p + 1;
    return kReplacementChar;
  }
  *i = p + static_cast<std::size_t>(len);
  return cp;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t before = i;
    std::uint32_t cp = next_utf8(s, &i);
    if (cp == kReplacementChar && i == before + 1) return false;
  }
  return true;
}

}  // namespace strop
