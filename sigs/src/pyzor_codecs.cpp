// pyzor_codecs.cpp: bytes.decode(charset, errors) as CPython 3.11 does it: codec name
// normalisation and alias lookup (encodings.search_function), then the codec's decoder with
// its own error ranges (which matter for errors="replace").
#include <algorithm>
#include <cstdint>

#include "pyzor_internal.hpp"
#include "pyzor_tables.hpp"
#include "sigs/pyzor.hpp"

namespace strop::sigs::pyzor {
namespace {

using detail::CodecAlias;
using detail::SingleByteCodec;

bool ascii_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// _Py_normalize_encoding(): ASCII alnum and '.' kept (lowercased), other runs -> one '_'.
std::string normalize_encoding(std::string_view name) {
  std::string out;
  bool punct = false;
  for (char c : name) {
    if (ascii_alnum(c) || c == '.') {
      if (punct && !out.empty()) out.push_back('_');
      punct = false;
      out.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
    } else {
      punct = true;
    }
  }
  return out;
}

constexpr std::string_view kNonTextCodecs[] = {
    "base64_codec", "bz2_codec", "hex_codec", "quopri_codec", "rot_13", "uu_codec", "zlib_codec"};

bool is_text_codec(std::string_view m) {
  return std::binary_search(detail::kTextCodecs, detail::kTextCodecs + detail::kTextCodecCount, m);
}
bool is_nontext_codec(std::string_view m) {
  return std::find(std::begin(kNonTextCodecs), std::end(kNonTextCodecs), m) !=
         std::end(kNonTextCodecs);
}

std::optional<std::string_view> alias(std::string_view norm) {
  const CodecAlias* b = detail::kCodecAliases;
  const CodecAlias* e = b + detail::kCodecAliasCount;
  const CodecAlias* it = std::lower_bound(
      b, e, norm, [](const CodecAlias& a, std::string_view k) { return a.alias < k; });
  if (it != e && it->alias == norm) return it->module;
  return std::nullopt;
}

// encodings.search_function: the module a name resolves to, and whether it is a text codec.
struct Lookup {
  std::string module;  // empty: LookupError
  bool text = false;
};
Lookup lookup(std::string_view charset) {
  const std::string norm = normalize_encoding(charset);
  std::optional<std::string_view> al = alias(norm);
  if (!al) {
    std::string dotted = norm;
    std::replace(dotted.begin(), dotted.end(), '.', '_');
    al = alias(dotted);
  }
  std::string candidates[2];
  int n = 0;
  if (al) candidates[n++] = std::string(*al);
  candidates[n++] = norm;
  for (int i = 0; i < n; ++i) {
    const std::string& m = candidates[i];
    if (m.empty() || m.find('.') != std::string::npos) continue;
    if (is_text_codec(m)) return {m, true};
    if (is_nontext_codec(m)) return {m, false};
    // mbcs/oem fail to import on Linux; "aliases" has no getregentry: try the next name.
  }
  return {};
}

const SingleByteCodec* single_byte(std::string_view m) {
  const SingleByteCodec* b = detail::kSingleByteCodecs;
  const SingleByteCodec* e = b + detail::kSingleByteCodecCount;
  const SingleByteCodec* it = std::lower_bound(
      b, e, m, [](const SingleByteCodec& c, std::string_view k) { return c.module < k; });
  if (it != e && it->module == m) return it;
  return nullptr;
}

// Applies the error policy to one error; false when strict.
bool on_error(DecodeErrors errors, std::u32string* out) {
  if (errors == DecodeErrors::kStrict) return false;
  if (errors == DecodeErrors::kReplace) out->push_back(0xFFFD);
  return true;
}

DecodeStatus decode_utf8(std::string_view in, DecodeErrors errors, std::u32string* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  auto cont = [](unsigned char c) { return (c & 0xC0) == 0x80; };
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      out->push_back(c);
      ++i;
      continue;
    }
    std::size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    char32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      cp = c & 0x0F;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      cp = c & 0x07;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      if (!on_error(errors, out)) return DecodeStatus::kUnicodeError;  // invalid start byte
      ++i;
      continue;
    }
    // The error covers the longest valid prefix of the sequence (at least the lead byte).
    std::size_t k = 1;
    bool bad = false;
    for (; k <= need; ++k) {
      if (i + k >= n) {
        bad = true;
        break;
      }
      const unsigned char d = s[i + k];
      if (k == 1 ? (d < lo || d > hi) : !cont(d)) {
        bad = true;
        break;
      }
      cp = (cp << 6) | (d & 0x3F);
    }
    if (bad) {
      if (!on_error(errors, out)) return DecodeStatus::kUnicodeError;
      i += k;
      continue;
    }
    out->push_back(cp);
    i += need + 1;
  }
  return DecodeStatus::kOk;
}

DecodeStatus decode_utf16(std::string_view in, int byteorder, bool detect_bom, DecodeErrors errors,
                          std::u32string* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size(), i = 0;
  bool le = byteorder <= 0;
  if (detect_bom && n >= 2) {
    if (s[0] == 0xFF && s[1] == 0xFE) {
      le = true;
      i = 2;
    } else if (s[0] == 0xFE && s[1] == 0xFF) {
      le = false;
      i = 2;
    }
  }
  auto unit = [&](std::size_t p) -> char32_t {
    return le ? static_cast<char32_t>(s[p] | (s[p + 1] << 8))
              : static_cast<char32_t>((s[p] << 8) | s[p + 1]);
  };
  while (i < n) {
    if (n - i < 2) {  // truncated data
      if (!on_error(errors, out)) return DecodeStatus::kUnicodeError;
      break;
    }
    const char32_t u = unit(i);
    if (u < 0xD800 || u > 0xDFFF) {
      out->push_back(u);
      i += 2;
    } else if (u >= 0xDC00) {  // illegal encoding
      if (!on_error(errors, out)) return DecodeStatus::kUnicodeError;
      i += 2;
    } else if (n - i < 4) {  // unexpected end of data
      if (!on_error(errors, out)) return DecodeStatus::kUnicodeError;
      break;
    } else {
      const char32_t u2 = unit(i + 2);
      if (u2 >= 0xDC00 && u2 <= 0xDFFF) {
        out->push_back(0x10000 + ((u - 0xD800) << 10) + (u2 - 0xDC00));
        i += 4;
      } else {  // illegal UTF-16 surrogate
        if (!on_error(errors, out)) return DecodeStatus::kUnicodeError;
        i += 2;
      }
    }
  }
  return DecodeStatus::kOk;
}

DecodeStatus decode_utf32(std::string_view in, int byteorder, bool detect_bom, DecodeErrors errors,
                          std::u32string* out) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  std::size_t n = in.size(), i = 0;
  bool le = byteorder <= 0;
  if (detect_bom && n >= 4) {
    if (s[0] == 0xFF && s[1] == 0xFE && s[2] == 0 && s[3] == 0) {
      le = true;
      i = 4;
    } else if (s[0] == 0 && s[1] == 0 && s[2] == 0xFE && s[3] == 0xFF) {
      le = false;
      i = 4;
    }
  }
  while (i < n) {
    if (n - i < 4) {
      if (!on_error(errors, out)) return DecodeStatus::kUnicodeError;
      break;
    }
    const std::uint32_t u =
        le ? (static_cast<std::uint32_t>(s[i]) | (static_cast<std::uint32_t>(s[i + 1]) << 8) |
              (static_cast<std::uint32_t>(s[i + 2]) << 16) |
              (static_cast<std::uint32_t>(s[i + 3]) << 24))
           : ((static_cast<std::uint32_t>(s[i]) << 24) |
              (static_cast<std::uint32_t>(s[i + 1]) << 16) |
              (static_cast<std::uint32_t>(s[i + 2]) << 8) | static_cast<std::uint32_t>(s[i + 3]));
    if (u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF)) {
      if (!on_error(errors, out)) return DecodeStatus::kUnicodeError;
    } else {
      out->push_back(u);
    }
    i += 4;
  }
  return DecodeStatus::kOk;
}

}  // namespace

std::string codec_module(std::string_view charset) { return lookup(charset).module; }

bool is_text_module(std::string_view module) { return is_text_codec(module); }

Decoded decode(std::string_view bytes, std::string_view charset, DecodeErrors errors) {
  Decoded d;
  if (charset.find('\0') != std::string_view::npos) {
    d.status = DecodeStatus::kValueError;
    return d;
  }
  if (bytes.empty()) return d;  // PyUnicode_Decode: empty input is "" for any codec name
  const Lookup lk = lookup(charset);
  if (lk.module.empty() || !lk.text) {
    d.status = DecodeStatus::kLookupError;
    return d;
  }
  const std::string& m = lk.module;
  std::u32string& out = d.text;
  auto fail = [&](DecodeStatus st) {
    d.status = st;
    d.text.clear();
    return d;
  };
  // Single-byte codecs write into a pre-sized buffer (one code point per byte at most).
  out.resize(bytes.size());
  char32_t* w = out.data();
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  auto finish = [&]() {
    out.resize(static_cast<std::size_t>(w - out.data()));
    return d;
  };
  auto bad_byte = [&]() {  // one error covering one byte
    if (errors == DecodeErrors::kStrict) return false;
    if (errors == DecodeErrors::kReplace) *w++ = 0xFFFD;
    return true;
  };
  if (m == "ascii") {
    for (std::size_t i = 0; i < n; ++i) {
      if (in[i] < 0x80) {
        *w++ = in[i];
      } else if (!bad_byte()) {
        return fail(DecodeStatus::kUnicodeError);
      }
    }
    return finish();
  }
  if (m == "latin_1" || m == "charmap") {
    for (std::size_t i = 0; i < n; ++i) *w++ = in[i];
    return finish();
  }
  if (const SingleByteCodec* sb = single_byte(m)) {
    for (std::size_t i = 0; i < n; ++i) {
      const unsigned c = in[i];
      const char32_t v = sb->ascii_compatible ? (c < 0x80 ? c : sb->table[c - 0x80]) : sb->table[c];
      if (v != 0xFFFE) {
        *w++ = v;
      } else if (!bad_byte()) {
        return fail(DecodeStatus::kUnicodeError);
      }
    }
    return finish();
  }
  out.clear();
  DecodeStatus st = DecodeStatus::kOk;
  if (m == "utf_8") {
    st = decode_utf8(bytes, errors, &out);
  } else if (m == "utf_8_sig") {
    std::string_view b = bytes;
    if (b.substr(0, 3) == "\xEF\xBB\xBF") b.remove_prefix(3);
    st = decode_utf8(b, errors, &out);
  } else if (m == "utf_16") {
    st = decode_utf16(bytes, 0, true, errors, &out);
  } else if (m == "utf_16_le") {
    st = decode_utf16(bytes, -1, false, errors, &out);
  } else if (m == "utf_16_be") {
    st = decode_utf16(bytes, 1, false, errors, &out);
  } else if (m == "utf_32") {
    st = decode_utf32(bytes, 0, true, errors, &out);
  } else if (m == "utf_32_le") {
    st = decode_utf32(bytes, -1, false, errors, &out);
  } else if (m == "utf_32_be") {
    st = decode_utf32(bytes, 1, false, errors, &out);
  } else if (m == "undefined") {
    st = DecodeStatus::kUnicodeError;  // codecs.undefined always raises
  } else if (detail::cjk_supported(m)) {
    st = detail::cjk_decode(m, bytes, errors, &out);
  } else {
    // utf_7, idna, punycode, (raw_)unicode_escape and the rarer CJK codecs are not modelled:
    // treated as unknown (pyzor then decodes as ASCII, ignoring errors).
    st = DecodeStatus::kLookupError;
  }
  if (st != DecodeStatus::kOk) return fail(st);
  return d;
}

}  // namespace strop::sigs::pyzor
