#include "base/base64.hpp"

#include <array>
#include <cstdint>

namespace strop {

std::string base64_encode(std::string_view bytes, std::string_view alphabet,
                          Base64Padding padding) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : bytes) {
    acc = (acc << 8) | static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(alphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 63]);
  if (padding == Base64Padding::kPad) {
    while (out.size() % 4 != 0) out.push_back('=');
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text, std::string_view alphabet) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    std::size_t v = alphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

std::string base64_decode_lenient(std::string_view text) {
  static const std::array<signed char, 256> kTable = [] {
    std::array<signed char, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < 64; ++i) {
      t[static_cast<unsigned char>(kBase64Standard[i])] = static_cast<signed char>(i);
    }
    // URL-safe variants seen in the wild.
    t[static_cast<unsigned char>('-')] = 62;
    t[static_cast<unsigned char>('_')] = 63;
    return t;
  }();
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : text) {
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

}  // namespace strop
