// bytes.hpp: big-endian byte writer and bounds-checked reader for the binary wire formats
// (protocol/fleet_event, protocol/feed, protocol/udp_wire).
//
// ByteWriter appends to a string it owns; ByteReader reads from a view it does not own (the
// bytes must outlive it) and returns false, never reads past the end, when input runs out.
// Thread-safety: plain values; one object per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strop {

class ByteWriter {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(std::uint16_t v) {
    u8(static_cast<std::uint8_t>(v >> 8));
    u8(static_cast<std::uint8_t>(v));
  }
  void u32(std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) u8(static_cast<std::uint8_t>(v >> s));
  }
  void u64(std::uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) u8(static_cast<std::uint8_t>(v >> s));
  }
  void raw(std::string_view s) { out_.append(s); }
  // Length-prefixed strings. REQUIRES: s.size() <= 255 (bytes8), <= 65535 (bytes16).
  void bytes8(std::string_view s) {
    u8(static_cast<std::uint8_t>(s.size()));
    out_.append(s);
  }
  void bytes16(std::string_view s) {
    u16(static_cast<std::uint16_t>(s.size()));
    out_.append(s);
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  bool u8(std::uint8_t* v) {
    if (pos_ + 1 > in_.size()) return false;
    *v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool u16(std::uint16_t* v) {
    std::uint8_t a = 0, b = 0;
    if (!u8(&a) || !u8(&b)) return false;
    *v = static_cast<std::uint16_t>((a << 8) | b);
    return true;
  }
  bool u32(std::uint32_t* v) {
    std::uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      std::uint8_t b = 0;
      if (!u8(&b)) return false;
      r = (r << 8) | b;
    }
    *v = r;
    return true;
  }
  bool u64(std::uint64_t* v) {
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i) {
      std::uint8_t b = 0;
      if (!u8(&b)) return false;
      r = (r << 8) | b;
    }
    *v = r;
    return true;
  }
  // The next n bytes, copied into *out.
  bool take(std::size_t n, std::string* out) {
    if (n > in_.size() - pos_) return false;
    out->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  // The next n bytes as a view into the input (valid while the input is).
  bool view(std::size_t n, std::string_view* out) {
    if (n > in_.size() - pos_) return false;
    *out = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  std::size_t left() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
};

}  // namespace strop
