// json_reader.hpp (private to strop_protocol): a strict, allocation-light pull reader for
// RFC 8259 JSON, used on the hot request paths (check, report, revoke) where a DOM parser
// costs ~30 us per 2 KB request.
//
// The caller walks the document: begin_object()/next_key(), begin_array()/next_element(),
// read_string/read_int/read_bool, skip_value() for anything it ignores. Every method returns
// false on malformed input (error() says why) and the caller then stops. Strings are
// validated (UTF-8, escapes, no raw control characters) and unescaped. Nesting is bounded by
// max_depth. Not thread-safe; one reader per input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strop::protocol::detail {

class JsonReader {
 public:
  JsonReader(std::string_view in, std::size_t max_depth)
      : p_(in.data()), end_(in.data() + in.size()), max_depth_(max_depth) {}

  // '{'. Then call next_key() until it returns false (at '}' or on error; see ok()).
  bool begin_object();
  // Reads the next key of the current object into `key` (a view into the input when the
  // key has no escapes, else into *scratch). Returns false at the closing '}'.
  bool next_key(std::string_view* key, std::string* scratch);
  // '['. Then call next_element() before each element until it returns false (at ']').
  bool begin_array();
  bool next_element();

  // Reads a string value; `max_len` bounds the unescaped length (exceeding it sets
  // limit_hit()). The result is a view into the input or into *scratch.
  bool read_string(std::string_view* out, std::string* scratch, std::size_t max_len);
  // Reads an integer number (no fraction or exponent) in [min, max].
  bool read_int(std::int64_t* out, std::int64_t min, std::int64_t max);
  bool read_bool(bool* out);
  // Skips any value (bounded by max_depth).
  bool skip_value();

  // Whitespace only remains.
  bool at_end();

  bool ok() const { return error_ == nullptr; }
  const char* error() const { return error_ ? error_ : ""; }
  bool limit_hit() const { return limit_; }
  std::size_t offset(std::string_view in) const { return static_cast<std::size_t>(p_ - in.data()); }

  // Fails with a limit error (for callers enforcing their own counts).
  bool fail_limit(const char* why) {
    limit_ = true;
    return fail(why);
  }
  bool fail(const char* why) {
    if (!error_) error_ = why;
    return false;
  }

 private:
  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool expect(char c);
  bool string_body(std::string_view* out, std::string* scratch, std::size_t max_len);
  bool skip_number();
  bool skip_literal(std::string_view lit);

  const char* p_;
  const char* end_;
  std::size_t max_depth_;
  std::size_t depth_ = 0;
  // Per container level: true until its first member/element was seen. Depth is bounded by
  // max_depth_, so a 64-bit mask suffices for depth <= 64; deeper limits are clamped.
  std::uint64_t first_mask_ = 0;
  const char* error_ = nullptr;
  bool limit_ = false;
};

}  // namespace strop::protocol::detail
