// Charset conversion to UTF-8: hand-written fast paths for the charsets that dominate mail
// (ASCII, UTF-8, Latin-1, Windows-1252), glibc iconv for everything else.
#include <iconv.h>

#include <cerrno>
#include <map>
#include <memory>

#include "sigs/message.hpp"
#include "text_util.hpp"

namespace strop::sigs {
namespace {

// iconv_open()'s failure value, (iconv_t)-1 by its contract.
const iconv_t kIconvFailed = reinterpret_cast<iconv_t>(-1);  // NOLINT(performance-no-int-to-ptr)

// Windows-1252 0x80..0x9F; 0 marks the undefined slots (mapped to U+FFFD).
constexpr std::uint16_t kCp1252High[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

std::string from_cp1252(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 8);
  for (char ch : bytes) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else if (c < 0xA0) {
      std::uint16_t cp = kCp1252High[c - 0x80];
      detail::append_utf8(&out, cp ? cp : 0xFFFD);
    } else {
      detail::append_utf8(&out, c);
    }
  }
  return out;
}

// Replaces invalid sequences with U+FFFD.
std::string sanitize_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  std::size_t i = 0;
  while (i < bytes.size()) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c < 0x80) {
      out.push_back(bytes[i]);
      ++i;
      continue;
    }
    detail::append_utf8(&out, detail::next_utf8(bytes, &i));
  }
  return out;
}

bool is_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

struct IconvCache {
  ~IconvCache() {
    for (auto& [name, cd] : handles) {
      if (cd != kIconvFailed) iconv_close(cd);
    }
  }
  std::map<std::string, iconv_t> handles;
};

// One cache per thread: iconv_t carries conversion state and is not thread-safe.
iconv_t iconv_for(const std::string& charset) {
  thread_local IconvCache cache;
  auto it = cache.handles.find(charset);
  if (it != cache.handles.end()) return it->second;
  if (cache.handles.size() > 64) return kIconvFailed;  // bound the cache
  iconv_t cd = iconv_open("UTF-8", charset.c_str());
  cache.handles.emplace(charset, cd);
  return cd;
}

std::string via_iconv(iconv_t cd, std::string_view bytes) {
  iconv(cd, nullptr, nullptr, nullptr, nullptr);  // reset shift state
  std::string out;
  out.resize(bytes.size() * 4 + 16);
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  char* o = out.data();
  std::size_t o_left = out.size();
  while (in_left > 0) {
    std::size_t r = iconv(cd, &in, &in_left, &o, &o_left);
    if (r != static_cast<std::size_t>(-1)) break;
    if (errno == E2BIG) {
      std::size_t used = out.size() - o_left;
      out.resize(out.size() * 2);
      o = out.data() + used;
      o_left = out.size() - used;
      continue;
    }
    // EILSEQ / EINVAL: skip one byte, emit U+FFFD.
    if (o_left < 3) {
      std::size_t used = out.size() - o_left;
      out.resize(out.size() * 2);
      o = out.data() + used;
      o_left = out.size() - used;
    }
    *o++ = '\xEF';
    *o++ = '\xBF';
    *o++ = '\xBD';
    o_left -= 3;
    ++in;
    --in_left;
  }
  out.resize(out.size() - o_left);
  return out;
}

}  // namespace

std::string to_utf8(std::string_view bytes, std::string_view charset_in) {
  if (is_ascii(bytes)) return std::string(bytes);
  std::string cs = detail::to_lower(detail::trim(charset_in));
  if (cs.size() >= 2 && cs.front() == '"' && cs.back() == '"') cs = cs.substr(1, cs.size() - 2);
  if (cs == "utf-8" || cs == "utf8") {
    if (detail::valid_utf8(bytes)) return std::string(bytes);
    return sanitize_utf8(bytes);
  }
  if (cs.empty() || cs == "us-ascii" || cs == "ascii" || cs == "iso-8859-1" || cs == "latin1" ||
      cs == "latin-1" || cs == "windows-1252" || cs == "cp1252" || cs == "iso8859-1" ||
      cs == "unknown-8bit" || cs == "x-unknown" || cs == "default") {
    // Mislabelled UTF-8 is common: prefer it when the bytes are valid UTF-8.
    if (detail::valid_utf8(bytes)) return std::string(bytes);
    return from_cp1252(bytes);
  }
  if (cs.size() > 40) return from_cp1252(bytes);
  iconv_t cd = iconv_for(cs);
  if (cd == kIconvFailed) {
    if (detail::valid_utf8(bytes)) return std::string(bytes);
    return from_cp1252(bytes);
  }
  return via_iconv(cd, bytes);
}

}  // namespace strop::sigs
