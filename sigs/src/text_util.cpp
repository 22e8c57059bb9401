#include "text_util.hpp"

#include "base/hex.hpp"

namespace strop::sigs::detail {

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
      int h = hex_digit_value(in[i + 1]);
      int l = hex_digit_value(in[i + 2]);
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
    while (e > i &&
           (text[e - 1] == '.' || text[e - 1] == ',' || text[e - 1] == ')' || text[e - 1] == ';' ||
            text[e - 1] == ':' || text[e - 1] == '!' || text[e - 1] == '?'))
      --e;
    if (e > i + 7) out->emplace_back(text.substr(i, e - i));
    i = e > i ? e : i + 1;
  }
}

}  // namespace strop::sigs::detail
