#include "text_util.hpp"

#include <array>

namespace strop::sigs::detail {

std::size_t ifind(std::string_view hay, std::string_view needle, std::size_t from) {
  if (needle.empty()) return from <= hay.size() ? from : std::string_view::npos;
  if (hay.size() < needle.size()) return std::string_view::npos;
  char first = ascii_lower(needle[0]);
  for (std::size_t i = from; i + needle.size() <= hay.size(); ++i) {
    if (ascii_lower(hay[i]) != first) continue;
    if (iequals(hay.substr(i, needle.size()), needle)) return i;
  }
  return std::string_view::npos;
}

void append_utf8(std::string* out, std::uint32_t cp) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
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
    return 0xFFFD;
  }
  if (p + static_cast<std::size_t>(len) > s.size()) {
    *i = p + 1;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    unsigned char cc = b(p + static_cast<std::size_t>(k));
    if ((cc & 0xC0) != 0x80) {
      *i = p + 1;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  // Reject overlong forms and out-of-range values.
  if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    *i = p + 1;
    return 0xFFFD;
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
    if (cp == 0xFFFD && i == before + 1) return false;
  }
  return true;
}

std::string decode_base64(std::string_view in) {
  static const std::array<signed char, 256> kTable = [] {
    std::array<signed char, 256> t{};
    t.fill(-1);
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(a[i])] = static_cast<signed char>(i);
    // URL-safe variants seen in the wild.
    t[static_cast<unsigned char>('-')] = 62;
    t[static_cast<unsigned char>('_')] = 63;
    return t;
  }();
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    if (ch == '=') {
      // Padding ends a quantum; tolerate concatenated base64 blocks by resetting.
      acc = 0;
      bits = 0;
      continue;
    }
    int v = kTable[static_cast<unsigned char>(ch)];
    if (v < 0) continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

namespace {
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
}  // namespace

std::string decode_qp(std::string_view in, bool header_mode) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (header_mode && c == '_') {
      out.push_back(' ');
      continue;
    }
    if (c != '=') {
      out.push_back(c);
      continue;
    }
    // Soft line break: "=" then optional trailing whitespace then newline.
    std::size_t j = i + 1;
    while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
    if (j < in.size() && (in[j] == '\n' || in[j] == '\r')) {
      if (in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') ++j;
      i = j;
      continue;
    }
    if (j >= in.size() && j > i + 1) {  // "=   " at the very end
      i = j;
      continue;
    }
    if (i + 2 < in.size()) {
      int h = hexval(in[i + 1]);
      int l = hexval(in[i + 2]);
      if (h >= 0 && l >= 0) {
        out.push_back(static_cast<char>(h * 16 + l));
        i += 2;
        continue;
      }
    }
    out.push_back('=');
  }
  return out;
}

void find_text_urls(std::string_view text, std::vector<std::string>* out, std::size_t max_urls) {
  auto is_url_char = [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return u > 32 && u < 127 && c != '<' && c != '>' && c != '"' && c != '\'' && c != '`' &&
           c != '{' && c != '}' && c != '|' && c != '\\' && c != '^';
  };
  // One linear pass: candidates start at 'h' (http://, https://) or at a token-initial 'w'
  // (www.).
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n && out->size() < max_urls) {
    char c = ascii_lower(text[i]);
    bool start = false;
    if (c == 'h') {
      std::string_view rest = text.substr(i);
      start = istarts_with(rest, "http://") || istarts_with(rest, "https://");
    } else if (c == 'w') {
      bool token_start = i == 0 || !is_url_char(text[i - 1]) || text[i - 1] == '(';
      start = token_start && istarts_with(text.substr(i), "www.");
    }
    if (!start) {
      ++i;
      continue;
    }
    std::size_t e = i;
    while (e < n && is_url_char(text[e])) ++e;
    // Trailing punctuation is not part of the URL.
    while (e > i && (text[e - 1] == '.' || text[e - 1] == ',' || text[e - 1] == ')' ||
                     text[e - 1] == ';' || text[e - 1] == ':' || text[e - 1] == '!' ||
                     text[e - 1] == '?'))
      --e;
    if (e > i + 7) out->emplace_back(text.substr(i, e - i));
    i = e > i ? e : i + 1;
  }
}

}  // namespace strop::sigs::detail
