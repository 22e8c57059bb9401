// pyzor_tables.hpp: data tables of the Python 3.11 runtime that the pyzor model needs
// (generated into pyzor_tables.cpp / pyzor_cjk_tables.cpp). Private to sigs/src.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace strop::sigs::pyzor::detail {

struct Html5Entity {
  std::string_view name;  // with or without the trailing ';', as in html.entities.html5
  char32_t first;
  char32_t second;  // 0 when the entity is one code point
};
extern const Html5Entity kHtml5Entities[];  // sorted by name
extern const std::size_t kHtml5EntityCount;

struct InvalidCharref {
  char32_t num;
  char32_t replacement;
};
extern const InvalidCharref kInvalidCharrefs[];  // sorted by num
extern const std::size_t kInvalidCharrefCount;
extern const char32_t kInvalidCodepoints[];  // sorted
extern const std::size_t kInvalidCodepointCount;

struct CodecAlias {
  std::string_view alias;   // normalised alias
  std::string_view module;  // encodings.<module>
};
extern const CodecAlias kCodecAliases[];  // sorted by alias
extern const std::size_t kCodecAliasCount;
extern const std::string_view kTextCodecs[];  // sorted module names of the text codecs
extern const std::size_t kTextCodecCount;

struct SingleByteCodec {
  std::string_view module;
  bool ascii_compatible;  // table covers 0x80..0xFF only, 0x00..0x7F map to themselves
  const char16_t* table;  // 0xFFFE = undefined byte
};
extern const SingleByteCodec kSingleByteCodecs[];  // sorted by module
extern const std::size_t kSingleByteCodecCount;

}  // namespace strop::sigs::pyzor::detail
