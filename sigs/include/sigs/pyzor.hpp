// pyzor.hpp: a bit-exact model of the Pyzor 1.0 message digest (Debian `pyzor` 1:1.0.0-6
// running on Python 3.11), i.e. what `pyzor digest < mail` prints.
//
// pyzor parses the message with Python's email package (compat32 policy), walks every part,
// decodes text/* parts (transfer encoding, then charset with errors ignored), reduces
// text/html to its text nodes with html.parser.HTMLParser, normalises each line, keeps lines
// of 8+ characters, samples them (all when <= 4, else 3 at 20% and 3 at 60%) and hashes the
// UTF-8 of the sampled lines with SHA-1. This module reproduces each of those Python
// behaviours, quirks included (see docs/legacy-engines.md): header/body splitting on
// \r, \n and \r\n, boundary matching, base64/quoted-printable/uuencode decoding as binascii
// does it, the codecs' error handling, html.unescape, the HTMLParser state machine (including
// the text it never emits because pyzor calls feed() but not close()), Unicode whitespace and
// line boundaries, and the cases where pyzor raises and prints no digest at all.
//
// Known limits of the model (documented in docs/legacy-engines.md): the codecs utf-7, idna,
// punycode, (raw_)unicode_escape, hz, johab, big5hkscs and the JIS X 0213 / ISO-2022
// variants other than iso2022_jp are treated as unknown charsets.
//
// Text is passed around as Unicode code points (std::u32string); results are UTF-8.
// Pure, no I/O; every function is thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strop::sigs::pyzor {

// Safety limits on untrusted input. Python has none (other than its recursion limit); within
// them the results are exact, beyond them the digest is nullopt.
struct Limits {
  std::size_t max_input_bytes = 64u << 20;  // Default: 64 MiB
  int max_mime_depth = 100;                 // Default: 100 nested multipart/message entities
  std::size_t max_parts = 10000;            // Default: 10000 entities per message
};

// The 40-hex digest `pyzor digest` prints for `raw` (read from stdin as bytes); nullopt when
// pyzor raises on the message (it then prints a traceback and no digest) or a limit is hit.
std::optional<std::string> digest(std::string_view raw, const Limits& limits = {});

// Every normalised line pyzor keeps, in order (UTF-8); nullopt as for digest().
std::optional<std::vector<std::string>> kept_lines(std::string_view raw, const Limits& limits = {});

// The lines that are hashed, i.e. what `pyzor predigest` prints (UTF-8).
std::optional<std::vector<std::string>> predigest_lines(std::string_view raw,
                                                        const Limits& limits = {});

}  // namespace strop::sigs::pyzor
