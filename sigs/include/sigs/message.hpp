// message.hpp: RFC 822 / MIME parsing into decoded, UTF-8 parts.
//
// parse_message() takes the raw bytes of one message (an mbox "From " line first is allowed)
// and returns its headers (unfolded, RFC 2047 decoded) and its leaf parts: text parts decoded
// from their transfer encoding and converted to UTF-8, HTML parts reduced to visible text,
// attachments as decoded bytes. Untrusted input is bounded by MimeLimits; hitting a limit
// truncates and is recorded in Message::limits_hit, never a crash or an unbounded loop.
// Pure, no I/O, thread-safe. Returned views never point into the input: everything is owned.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace strop::sigs {

struct MimeLimits {
  std::size_t max_message_bytes = 32u << 20;  // Default: 32 MiB; the rest is ignored
  std::size_t max_header_bytes = 256u << 10;  // Default: 256 KiB of header block per entity
  std::size_t max_headers = 1000;             // Default: 1000 header fields per entity
  int max_depth = 16;                         // Default: 16 nested multiparts
  std::size_t max_parts = 256;                // Default: 256 entities per message
  std::size_t max_text_bytes = 2u << 20;      // Default: 2 MiB of decoded text per message
  std::size_t max_urls = 512;                 // Default: 512 URLs per message
  std::size_t max_html_depth = 256;           // Default: 256 nested HTML elements tracked
};

struct Header {
  std::string name;   // as written (case preserved)
  std::string value;  // unfolded, RFC 2047 decoded to UTF-8, leading space trimmed
};

enum class PartKind { kText, kHtml, kAttachment };

struct Part {
  PartKind kind = PartKind::kText;
  std::string content_type;       // lowercased "type/subtype"
  std::string filename;           // from Content-Disposition or Content-Type name, if any
  std::string text;               // kText/kHtml: visible text, UTF-8
  std::string data;               // kAttachment: decoded bytes; kHtml: the decoded HTML source
  std::vector<std::string> urls;  // URLs found in this part (hrefs and bare), raw, in order
  std::vector<std::string> media_urls;  // kHtml: img/iframe/frame sources, raw, in order
  int alternative_group = -1;           // children of one multipart/alternative share a group id
};

struct Message {
  std::vector<Header> headers;
  std::vector<Part> parts;
  std::string raw_body;                 // undecoded body of the top entity (for rawbody rules)
  std::vector<std::string> limits_hit;  // names of the limits that truncated this parse

  // First header named `name` (case-insensitive), or nullptr.
  const Header* header(std::string_view name) const;
};

// Returns kNotMail when `raw` does not start like a mail message (no header block).
Result<Message> parse_message(std::string_view raw, const MimeLimits& limits = {});

// Whether `raw` is a mail message at all, as the `strop` CLI and `strop-node sig --message`
// decide before computing signatures (stricter than parse_message, which signs whatever
// starts with a field, as razor-check does): after an optional mbox "From " line, `raw`
// starts with an RFC 5322 header block (a field first, up to the first empty line, within
// the first MiB) holding at least one of From, Date, Message-ID, Received or Subject (any
// case). /etc/passwd's "name:..." lines are fields by syntax but none of these.
bool looks_like_mail(std::string_view raw);

// Reduces HTML to its visible text (scripts, styles, comments, hidden elements dropped,
// entities decoded). Block elements become line breaks. Appends found hrefs to `urls` and
// image/frame sources to `media_urls` when non-null. Bounded by `limits`.
std::string html_to_text(std::string_view html, std::vector<std::string>* urls,
                         const MimeLimits& limits = {},
                         std::vector<std::string>* media_urls = nullptr);

// Decodes RFC 2047 encoded words in a header value to UTF-8.
std::string decode_rfc2047(std::string_view value);

// Converts `bytes` in `charset` to UTF-8; unknown charsets are treated as Latin-1 when the
// bytes are not valid UTF-8. Invalid sequences are replaced.
std::string to_utf8(std::string_view bytes, std::string_view charset);

}  // namespace strop::sigs
