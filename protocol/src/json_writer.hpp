// json_writer.hpp (private to strop_protocol): a small append-only compact JSON writer.
//
// The caller is responsible for structure (keys inside objects, commas are inserted here).
// Strings are escaped per RFC 8259; they are assumed to be valid UTF-8 (decoders validate
// everything that can be echoed). Not thread-safe; one writer per output string.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/hex.hpp"

namespace strop::protocol::detail {

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }

  // Writes "key": and leaves the writer expecting the value.
  void key(std::string_view k) {
    pre();
    string_raw(k);
    out_->push_back(':');
    after_key_ = true;
  }

  void string(std::string_view s) {
    pre();
    string_raw(s);
  }
  void boolean(bool b) {
    pre();
    out_->append(b ? "true" : "false");
  }
  void integer(std::int64_t v) {
    pre();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_->append(buf, r.ptr);
  }
  void unsigned_integer(std::uint64_t v) {
    pre();
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_->append(buf, r.ptr);
  }
  // "key":value in one call.
  void field_string(std::string_view k, std::string_view v) { field(k, &JsonWriter::string, v); }
  void field_bool(std::string_view k, bool v) { field(k, &JsonWriter::boolean, v); }
  void field_int(std::string_view k, std::int64_t v) { field(k, &JsonWriter::integer, v); }
  void field_uint(std::string_view k, std::uint64_t v) {
    field(k, &JsonWriter::unsigned_integer, v);
  }
  void field_number(std::string_view k, double v) { field(k, &JsonWriter::number, v); }

  // Shortest round-trip form; non-finite values are written as 0.
  void number(double v) {
    pre();
    if (!(v == v) || v > 1e308 || v < -1e308) v = 0;
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_->append(buf, r.ptr);
  }

 private:
  // key(k), then the value through one of the value writers above.
  template <class V>
  void field(std::string_view k, void (JsonWriter::*write)(V), V v) {
    key(k);
    (this->*write)(v);
  }
  void open(char bracket) {
    pre();
    out_->push_back(bracket);
    first_ = true;
  }
  void close(char bracket) {
    out_->push_back(bracket);
    first_ = false;
  }
  void pre() {
    if (after_key_) {
      after_key_ = false;
    } else if (!first_) {
      out_->push_back(',');
    }
    first_ = false;
  }

  void string_raw(std::string_view s) {
    out_->push_back('"');
    std::size_t run = 0;  // start of the current run of bytes that need no escaping
    for (std::size_t i = 0; i < s.size(); ++i) {
      auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_->append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"': out_->append("\\\""); break;
        case '\\': out_->append("\\\\"); break;
        case '\n': out_->append("\\n"); break;
        case '\r': out_->append("\\r"); break;
        case '\t': out_->append("\\t"); break;
        default: {
          out_->append("\\u00");
          append_hex(out_, c);
        }
      }
    }
    out_->append(s.data() + run, s.size() - run);
    out_->push_back('"');
  }

  std::string* out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace strop::protocol::detail
