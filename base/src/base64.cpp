#include "base/base64.hpp"

#include <array>
#include <cstdint>

namespace strop {

namespace {

// Collects 6-bit values and appends each whole byte to the output.
class ByteAssembler {
 public:
  explicit ByteAssembler(std::string* out) : out_(out) {}
  void push(std::uint32_t sextet) {
    acc_ = (acc_ << 6) | sextet;
    bits_ += 6;
    if (bits_ >= 8) {
      bits_ -= 8;
      out_->push_back(static_cast<char>((acc_ >> bits_) & 0xFF));
    }
  }
  // Drops a partial byte: the next value starts a new quantum.
  void restart() {
    acc_ = 0;
    bits_ = 0;
  }

 private:
  std::string* out_;
  std::uint32_t acc_ = 0;
  int bits_ = 0;
};

}  // namespace

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
  ByteAssembler bytes(&out);
  for (char c : text) {
    std::size_t v = alphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    bytes.push(static_cast<std::uint32_t>(v));
  }
  return out;
}

std::string base64_decode_lenient(std::string_view text) {
  static const std::array<std::int8_t, 256> kTable = [] {
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
  ByteAssembler bytes(&out);
  for (char ch : text) {
    if (ch == '=') {
      // Padding ends a quantum; tolerate concatenated base64 blocks by restarting.
      bytes.restart();
      continue;
    }
    // The table holds small integers (-1: not in the alphabet), not characters.
    // NOLINTNEXTLINE(bugprone-signed-char-misuse)
    int v = kTable[static_cast<unsigned char>(ch)];
    if (v >= 0) bytes.push(static_cast<std::uint32_t>(v));
  }
  return out;
}

}  // namespace strop
