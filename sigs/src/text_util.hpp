// text_util.hpp (private to sigs): small byte-level helpers shared by the MIME, HTML and
// normalisation code. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strop::sigs::detail {

inline char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string to_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = ascii_lower(c);
  return out;
}

inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' ||
                        s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

// Case-insensitive find of an ASCII needle.
std::size_t ifind(std::string_view hay, std::string_view needle, std::size_t from = 0);

// Appends code point `cp` as UTF-8.
void append_utf8(std::string* out, std::uint32_t cp);

// Decodes one UTF-8 sequence at s[i]; advances i. Invalid bytes decode as U+FFFD, 1 byte.
std::uint32_t next_utf8(std::string_view s, std::size_t* i);

// True when `s` is entirely valid UTF-8.
bool valid_utf8(std::string_view s);

// Transfer decodings. Both are total: malformed input decodes as far as it makes sense.
std::string decode_base64(std::string_view in);
std::string decode_qp(std::string_view in, bool header_mode = false);

// Extracts URLs (http, https, ftp, and bare www. hosts) from plain text, appending to out.
void find_text_urls(std::string_view text, std::vector<std::string>* out, std::size_t max_urls);

}  // namespace strop::sigs::detail
