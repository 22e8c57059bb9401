// pyzor_internal.hpp: the stages of the pyzor model (sigs/pyzor.hpp: line normalisation, the
// HTML parser, html.unescape, CPython's codecs) and the helpers its translation units share
// (Python's character classes, UTF-8 output, the CJK codecs). Private to sigs/src and its
// tests and fuzz target.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/utf8.hpp"
#include "sigs/pyzor.hpp"

namespace strop::sigs::pyzor {

// ---- Stages of the digest, tested one by one (pyzor_test.cpp) -------------------------------

// DataDigester.normalize(): drops \S{10,}, then \S+@\S+, then [a-z]+:\S+ (IGNORECASE), then
// all whitespace (Python's Unicode definition).
std::u32string normalize_line(std::u32string_view line);

// DataDigester.normalize_html_part(): the stripped text nodes outside <script>/<style>,
// joined by one space. nullopt when HTMLParser raises (pyzor then crashes).
std::optional<std::u32string> html_to_text(std::u32string_view html);

// html.unescape(). nullopt when Python raises (a decimal reference of more than 4300 digits).
std::optional<std::u32string> html_unescape(std::u32string_view s);

// bytes.decode(charset, errors) as CPython 3.11 does it.
enum class DecodeErrors { kStrict, kIgnore, kReplace };
enum class DecodeStatus {
  kOk,
  kLookupError,   // unknown codec, or not a text codec
  kUnicodeError,  // strict decoding failed (or the "undefined" codec)
  kValueError,    // the charset name holds a NUL (Python raises ValueError, pyzor crashes)
};
struct Decoded {
  DecodeStatus status = DecodeStatus::kOk;
  std::u32string text;
};
Decoded decode(std::string_view bytes, std::string_view charset, DecodeErrors errors);

// The Python codec module a charset name resolves to ("" when none), e.g.
// "ks_c_5601-1987" -> "cp949".
std::string codec_module(std::string_view charset);
// True when `module` is one of Python's text codecs (bytes.decode accepts it).
bool is_text_module(std::string_view module);

// UTF-8 encoding of code points, dropping surrogates (str.encode("utf8", "ignore")).
std::string to_utf8(std::u32string_view s);

}  // namespace strop::sigs::pyzor

namespace strop::sigs::pyzor::detail {

// str.isspace() / re \s on str patterns (they agree; checked by the table generator).
constexpr bool py_isspace(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Line boundaries of str.splitlines() (besides "\r\n", which is one boundary).
constexpr bool py_linebreak(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

// Appends `c` as UTF-8; a lone surrogate is dropped, as .encode("utf8", "ignore") does.
inline void append_utf8(std::string* out, char32_t c) {
  if (c >= 0xD800 && c <= 0xDFFF) return;
  strop::append_utf8(out, static_cast<std::uint32_t>(c));
}

// Result of one multibyte decoder step, as CPython's cjkcodecs report it.
struct CjkStatus {
  bool ok = true;  // false: an error covering `error_len` bytes at the cursor
  std::size_t error_len = 0;
};

// Decodes `in` with the CJK codec `module` (a Python encodings module name). Returns
// nullopt when the codec is not modelled. Errors are reported through `on_error`
// (error length in bytes); the caller applies strict/ignore/replace.
bool cjk_supported(std::string_view module);
DecodeStatus cjk_decode(std::string_view module, std::string_view in, DecodeErrors errors,
                        std::u32string* out);

}  // namespace strop::sigs::pyzor::detail
