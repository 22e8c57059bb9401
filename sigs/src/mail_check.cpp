// mail_check.cpp: whether bytes are a mail message at all (message.hpp, looks_like_mail).
#include <algorithm>
#include <cstddef>

#include "base/ascii.hpp"
#include "sigs/message.hpp"

namespace strop::sigs {

namespace {
// The header block is looked for in this many leading bytes.
constexpr std::size_t kMaxHeaderScan = 1u << 20;
}  // namespace

bool looks_like_mail(std::string_view raw) {
  // An mbox's "From " separator line comes before the header block.
  if (raw.starts_with("From ")) {
    auto nl = raw.find('\n');
    raw = nl == std::string_view::npos ? std::string_view() : raw.substr(nl + 1);
  }
  raw = raw.substr(0, std::min(raw.size(), kMaxHeaderScan));
  bool first = true;
  bool key_field = false;
  std::size_t pos = 0;
  while (pos < raw.size()) {
    std::size_t nl = raw.find('\n', pos);
    std::string_view line =
        raw.substr(pos, nl == std::string_view::npos ? raw.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? raw.size() : nl + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header block
    if (line[0] == ' ' || line[0] == '\t') {
      if (first) return false;  // a continuation line needs a field before it
      continue;
    }
    // A field: a name of printable ASCII other than ':' (RFC 5322 ftext), then ':'.
    std::size_t colon = line.find(':');
    bool field = colon != std::string_view::npos && colon > 0 &&
                 std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon),
                             [](char c) { return c > 32 && c < 127; });
    if (first && !field) return false;  // the block starts with a field
    first = false;
    if (!field) continue;  // tolerated inside the block (spam headers are often broken)
    std::string_view name = line.substr(0, colon);
    for (std::string_view key : {"From", "Date", "Message-ID", "Received", "Subject"}) {
      key_field = key_field || iequals(name, key);
    }
  }
  return key_field;
}

}  // namespace strop::sigs
