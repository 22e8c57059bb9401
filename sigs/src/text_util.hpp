// text_util.hpp (private to sigs): small byte-level helpers shared by the MIME, HTML and
// normalisation code. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/ascii.hpp"
#include "base/utf8.hpp"

namespace strop::sigs::detail {

using strop::append_utf8;
using strop::ascii_lower;
using strop::iequals;
using strop::ifind;
using strop::istarts_with;
using strop::next_utf8;
using strop::to_lower;
using strop::valid_utf8;

// MIME and HTML trimming: space, tab, CR and LF only (not VT or FF, unlike strop::trim).
inline std::string_view trim(std::string_view s) { return strop::trim(s, " \t\r\n"); }

// Transfer decoding of quoted-printable. Total: malformed input decodes as far as it makes
// sense. (Base64 is strop::base64_decode_lenient.)
std::string decode_qp(std::string_view in, bool header_mode = false);

// Extracts URLs (http, https, ftp, and bare www. hosts) from plain text, appending to out.
void find_text_urls(std::string_view text, std::vector<std::string>* out, std::size_t max_urls);

}  // namespace strop::sigs::detail
