// pyzor_wire.cpp: Pyzor datagrams parsed and signed as pyzord does (pyzor_wire.hpp).
#include "protocol/pyzor_wire.hpp"

#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

#include "base/ascii.hpp"
#include "base/digest.hpp"
#include "base/hex.hpp"

namespace strop::protocol::pyzor {

namespace {

// Python's str.isspace() for ASCII code points (what str.strip() removes here).
bool py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c' ||
         (c >= '\x1c' && c <= '\x1f');
}

std::string_view py_strip(std::string_view s) {
  while (!s.empty() && py_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && py_space(s.back())) s.remove_suffix(1);
  return s;
}

// feedparser's headerRE: ^(From |[\041-\071\073-\176]*:|[\t ])
bool header_line(std::string_view line) {
  if (line.starts_with("From ")) return true;
  if (!line.empty() && (line[0] == '\t' || line[0] == ' ')) return true;
  for (char ch : line) {
    auto c = static_cast<unsigned char>(ch);
    if (c == ':') return true;
    if (c < 0x21 || c > 0x7e) return false;
  }
  return false;
}

// SHA-1 of the concatenation of `parts`; raw digest bytes.
std::string sha1(std::initializer_list<std::string_view> parts) {
  Digest d(DigestAlgorithm::kSha1);
  for (auto p : parts) d.update(p);
  return d.finish();
}

}  // namespace

const std::string* Message::find(std::string_view name) const {
  for (const auto& f : fields) {
    if (iequals(f.name, name)) return &f.value;
  }
  return nullptr;
}

std::vector<std::string_view> Message::find_all(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& f : fields) {
    if (iequals(f.name, name)) out.emplace_back(f.value);
  }
  return out;
}

Result<Message> parse_message(std::string_view datagram, const Limits& limits) {
  if (datagram.size() > limits.max_datagram_bytes) {
    return make_error(
        Errc::kLimitExceeded,
        "datagram larger than " + std::to_string(limits.max_datagram_bytes) + " bytes");
  }
  // pyzord: packet.replace(b"\n\n", b"\n") + b"\n" (non-overlapping, left to right).
  std::string data;
  data.reserve(datagram.size() + 1);
  for (std::size_t i = 0; i < datagram.size(); ++i) {
    data += datagram[i];
    if (datagram[i] == '\n' && i + 1 < datagram.size() && datagram[i + 1] == '\n') ++i;
  }
  data += '\n';

  // Universal-newline lines, each with its line end.
  std::vector<std::string_view> lines;
  {
    std::string_view d = data;
    std::size_t start = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      if (d[i] == '\n' || d[i] == '\r') {
        std::size_t end = i + 1;
        if (d[i] == '\r' && i + 1 < d.size() && d[i + 1] == '\n') end = i + 2;
        lines.push_back(d.substr(start, end - start));
        start = end;
        i = end - 1;
      }
    }
    if (start < d.size()) lines.push_back(d.substr(start));
  }

  // The header block: lines up to the first that is not a header line.
  std::size_t count = 0;
  while (count < lines.size() && header_line(lines[count])) ++count;

  Message m;
  std::string last_name;
  std::string last_value;
  bool have_last = false;
  auto flush = [&]() -> Result<void> {
    if (!have_last) return {};
    have_last = false;
    if (m.fields.size() >= limits.max_fields) {
      return make_error(Errc::kLimitExceeded,
                        "more than " + std::to_string(limits.max_fields) + " fields");
    }
    // header_source_parse: the value without its final line end(s).
    while (!last_value.empty() && (last_value.back() == '\r' || last_value.back() == '\n'))
      last_value.pop_back();
    m.fields.push_back(Field{std::move(last_name), std::move(last_value)});
    last_name.clear();
    last_value.clear();
    return {};
  };
  for (std::size_t n = 0; n < count; ++n) {
    std::string_view line = lines[n];
    if (line[0] == ' ' || line[0] == '\t') {
      if (have_last) last_value.append(line);  // a leading continuation is dropped
      continue;
    }
    if (auto f = flush(); !f) return f.error();
    if (line.starts_with("From ")) {
      if (n == 0) continue;       // the unix-from line
      if (n == count - 1) break;  // looks like the body's first line: stop
      continue;                   // misplaced: ignored
    }
    auto colon = line.find(':');
    if (colon == 0) continue;  // "Missing header name": ignored
    last_name.assign(line.substr(0, colon));
    std::string_view v = line.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    last_value.assign(v);
    have_last = true;
  }
  if (auto f = flush(); !f) return f.error();
  return m;
}

std::string signed_text(const Message& m) {
  std::string out;
  for (const auto& f : m.fields) {
    if (iequals(f.name, "Sig")) continue;
    out += f.name;
    out += ": ";
    out += f.value;
    out += '\n';
  }
  return std::string(py_strip(out));
}

std::string hash_key(std::string_view key, std::string_view user) {
  return hex_encode(sha1({user, ":", to_lower(key)}));
}

std::string sign(std::string_view hashed_key, std::int64_t timestamp, std::string_view text) {
  auto inner = sha1({text});
  // Appended piecewise: gcc 12's -Wrestrict misfires on `":" + std::string&&` (GCC PR 105329).
  std::string tail = ":";
  tail += std::to_string(timestamp);
  tail += ':';
  return hex_encode(sha1({inner, tail, hashed_key}));
}

std::optional<std::int64_t> parse_time(std::string_view s) {
  s = py_strip(s);
  bool neg = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    neg = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return neg ? -v : v;
}

std::optional<std::int64_t> parse_pv_major(std::string_view s) {
  s = py_strip(s);
  if (s.empty() || s.size() > 64) return std::nullopt;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-' || c == 'e' || c == 'E';
    if (!ok) return std::nullopt;  // no hex floats, inf/nan or locale surprises
  }
  std::string copy(s);
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size() || !std::isfinite(v)) return std::nullopt;
  if (v >= 9.2e18 || v <= -9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(v);  // int() truncates toward zero
}

std::string encode_message(const std::vector<Field>& fields) {
  std::string out;
  out.reserve(128);
  for (const auto& f : fields) {
    out += f.name;
    out += ": ";
    out += f.value;
    out += '\n';
  }
  out += '\n';
  return out;
}

}  // namespace strop::protocol::pyzor
