// pyzor.cpp: the Pyzor 1.0 digest (pyzor/digest.py) over a model of Python 3.11's email
// package: email.message_from_bytes() (FeedParser, compat32), Message.walk(),
// get_payload(decode=True) (quopri/binascii), get_content_charset(), and bytes.decode().
// Python names are quoted in the comments; each function says which one it mirrors.
#include "sigs/pyzor.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>

#include "base/base64.hpp"
#include "base/digest.hpp"
#include "base/hex.hpp"
#include "pyzor_internal.hpp"

namespace strop::sigs::pyzor {

namespace {

using detail::py_isspace;
constexpr std::size_t npos = std::string_view::npos;

struct Crash {};  // Python raised: pyzor prints a traceback and no digest
struct Limit {};  // one of our own limits was hit

bool ascii_space(unsigned char c) {  // bytes.strip() / Py_ISSPACE
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0B || c == 0x0C;
}
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
std::string lowered(std::string_view s) {
  std::string o(s);
  for (char& c : o) c = lower(c);
  return o;
}
bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A header value as Python sees it: str with U+FFFD for each non-ASCII byte (compat32 wraps
// such a value in Header(charset=unknown-8bit), whose str() decodes with "replace"). We keep
// bytes; kRepl marks a U+FFFD.
constexpr char kRepl = '\x80';
std::string header_str(std::string_view v) {
  std::string o(v);
  for (char& c : o) {
    if (static_cast<unsigned char>(c) >= 0x80) c = kRepl;
  }
  return o;
}
bool has_non_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// str.strip() on an ASCII(+U+FFFD) string: Python whitespace within ASCII.
bool py_space_ascii(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u < 0x80 && py_isspace(u);
}
std::string_view pystrip(std::string_view s) {
  while (!s.empty() && py_space_ascii(s.front())) s.remove_prefix(1);
  while (!s.empty() && py_space_ascii(s.back())) s.remove_suffix(1);
  return s;
}
std::string_view pyrstrip(std::string_view s) {
  while (!s.empty() && py_space_ascii(s.back())) s.remove_suffix(1);
  return s;
}

// ---- email.utils ----------------------------------------------------------------------------

// utils.unquote
std::string unquote(std::string_view s) {
  if (s.size() > 1) {
    if (s.front() == '"' && s.back() == '"') {
      std::string in(s.substr(1, s.size() - 2)), a, b;
      for (std::size_t i = 0; i < in.size();) {  // .replace('\\\\', '\\')
        if (in[i] == '\\' && i + 1 < in.size() && in[i + 1] == '\\') {
          a.push_back('\\');
          i += 2;
        } else {
          a.push_back(in[i++]);
        }
      }
      for (std::size_t i = 0; i < a.size();) {  // .replace('\\"', '"')
        if (a[i] == '\\' && i + 1 < a.size() && a[i + 1] == '"') {
          b.push_back('"');
          i += 2;
        } else {
          b.push_back(a[i++]);
        }
      }
      return b;
    }
    if (s.front() == '<' && s.back() == '>') return std::string(s.substr(1, s.size() - 2));
  }
  return std::string(s);
}
// utils.quote
std::string quote(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '\\') {
      o += "\\\\";
    } else if (c == '"') {
      o += "\\\"";
    } else {
      o.push_back(c);
    }
  }
  return o;
}

// A parameter value: a plain string, or the (charset, language, value) tuple of RFC 2231.
struct Param {
  std::string name;
  std::string value;
  bool tuple = false;
  std::optional<std::string> charset, language;  // tuple only

  static Param plain(std::string n, std::string v) {
    Param p;
    p.name = std::move(n);
    p.value = std::move(v);
    return p;
  }
};

// message._parseparam
std::vector<std::string> parseparam(std::string_view str) {
  std::string s = ";" + std::string(str);
  std::vector<std::string> plist;
  std::string_view v = s;
  while (!v.empty() && v[0] == ';') {
    v.remove_prefix(1);
    std::size_t end = v.find(';');
    // (s.count('"', 0, end) - s.count('\\"', 0, end)) % 2, counted incrementally.
    std::size_t counted = 0;
    long long quotes = 0, escaped = 0;
    auto advance = [&](std::size_t to) {
      for (; counted < to; ++counted) {
        if (v[counted] == '"') {
          ++quotes;
          if (counted > 0 && v[counted - 1] == '\\') ++escaped;
        }
      }
    };
    while (end != npos && end > 0) {
      advance(end);
      if (((quotes - escaped) % 2 + 2) % 2 == 0) break;
      end = v.find(';', end + 1);
    }
    if (end == npos) end = v.size();
    std::string f(v.substr(0, end));
    const std::size_t eq = f.find('=');
    if (eq != npos) {
      f = lowered(pystrip(std::string_view(f).substr(0, eq))) + "=" +
          std::string(pystrip(std::string_view(f).substr(eq + 1)));
    }
    plist.emplace_back(pystrip(f));
    v.remove_prefix(end);
  }
  return plist;
}

// rfc2231_continuation = ^(?P<name>\w+)\*((?P<num>[0-9]+)\*?)?$  (re.ASCII)
bool rfc2231_name(std::string_view n, std::string* base, std::optional<long long>* num) {
  std::size_t i = 0;
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  while (i < n.size() && word(n[i])) ++i;
  if (i == 0 || i >= n.size() || n[i] != '*') return false;
  // \w+ is greedy but may give back: the '*' must follow the word run directly.
  *base = std::string(n.substr(0, i));
  std::string_view rest = n.substr(i + 1);
  if (!rest.empty() && rest.back() == '\n') rest.remove_suffix(1);  // `$` before a final \n
  if (rest.empty()) {
    *num = std::nullopt;
    return true;
  }
  std::size_t d = 0;
  while (d < rest.size() && rest[d] >= '0' && rest[d] <= '9') ++d;
  if (d == 0) return false;
  if (!(d == rest.size() || (d + 1 == rest.size() && rest[d] == '*'))) return false;
  long long v = 0;
  for (std::size_t k = 0; k < d; ++k) v = std::min<long long>(v * 10 + (rest[k] - '0'), 1LL << 40);
  *num = v;
  return true;
}

// utils.decode_params
std::vector<Param> decode_params(std::vector<std::pair<std::string, std::string>> params) {
  std::vector<Param> out;
  if (params.empty()) return out;
  out.push_back(Param::plain(params[0].first, params[0].second));
  struct Cont {
    std::optional<long long> num;
    std::string value;
    bool encoded;
  };
  std::vector<std::pair<std::string, std::vector<Cont>>> rfc;  // insertion-ordered dict
  std::unordered_map<std::string, std::size_t> rfc_index;
  for (std::size_t k = 1; k < params.size(); ++k) {
    const std::string& name = params[k].first;
    const bool encoded = !name.empty() && name.back() == '*';
    std::string value = unquote(params[k].second);
    std::string base;
    std::optional<long long> num;
    if (rfc2231_name(name, &base, &num)) {
      auto [it, added] = rfc_index.emplace(base, rfc.size());
      if (added) rfc.emplace_back(base, std::vector<Cont>{});
      rfc[it->second].second.push_back(Cont{num, std::move(value), encoded});
    } else {
      out.push_back(Param::plain(name, "\"" + quote(value) + "\""));
    }
  }
  for (auto& [name, conts] : rfc) {
    // continuations.sort(): tuples (num, value, encoded); None and int do not compare.
    bool has_none = false, has_num = false;
    for (const Cont& c : conts) (c.num ? has_num : has_none) = true;
    if (has_none && has_num && conts.size() > 1) throw Crash{};
    std::stable_sort(conts.begin(), conts.end(), [](const Cont& a, const Cont& b) {
      if (a.num != b.num) return a.num < b.num;
      if (a.value != b.value) return a.value < b.value;
      return a.encoded < b.encoded;
    });
    std::string joined;
    bool extended = false;
    for (const Cont& c : conts) {
      if (c.encoded) {
        joined += percent_decode(c.value);  // urllib.parse.unquote, latin-1
        extended = true;
      } else {
        joined += c.value;
      }
    }
    std::string value = quote(joined);
    if (extended) {
      // decode_rfc2231: s.split("'", 2)
      const std::size_t t1 = value.find('\'');
      const std::size_t t2 = t1 == npos ? npos : value.find('\'', t1 + 1);
      Param p = Param::plain(name, "");
      p.tuple = true;
      if (t2 == npos) {
        p.value = "\"" + value + "\"";
      } else {
        p.charset = value.substr(0, t1);
        p.language = value.substr(t1 + 1, t2 - t1 - 1);
        p.value = "\"" + value.substr(t2 + 1) + "\"";
      }
      out.push_back(std::move(p));
    } else {
      out.push_back(Param::plain(name, "\"" + value + "\""));
    }
  }
  return out;
}

// ---- binascii / quopri ------------------------------------------------------------------------

int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// binascii.a2b_qp(data, header=False)
std::string a2b_qp(std::string_view d) {
  std::string o(d.size(), '\0');
  char* w = o.data();
  const std::size_t n = d.size();
  for (std::size_t in = 0; in < n;) {
    const void* eq = std::memchr(d.data() + in, '=', n - in);
    const std::size_t stop =
        eq ? static_cast<std::size_t>(static_cast<const char*>(eq) - d.data()) : n;
    std::memcpy(w, d.data() + in, stop - in);
    w += stop - in;
    in = stop;
    if (in >= n) break;
    ++in;  // the '='
    if (in >= n) break;
    if (d[in] == '\n' || d[in] == '\r') {  // soft line break
      if (d[in] != '\n') {
        while (in < n && d[in] != '\n') ++in;
      }
      if (in < n) ++in;
    } else if (d[in] == '=') {
      *w++ = '=';
      ++in;
    } else if (in + 1 < n && hexval(static_cast<unsigned char>(d[in])) >= 0 &&
               hexval(static_cast<unsigned char>(d[in + 1])) >= 0) {
      *w++ = static_cast<char>((hexval(static_cast<unsigned char>(d[in])) << 4) |
                               hexval(static_cast<unsigned char>(d[in + 1])));
      in += 2;
    } else {
      *w++ = '=';
    }
  }
  o.resize(static_cast<std::size_t>(w - o.data()));
  return o;
}

// binascii.a2b_base64(data, strict_mode) of Python 3.11.2; nullopt = binascii.Error.
std::optional<std::string> a2b_base64(std::string_view d, bool strict) {
  std::string o(d.size() / 4 * 3 + 3, '\0');
  char* w = o.data();
  auto done = [&]() {
    o.resize(static_cast<std::size_t>(w - o.data()));
    return o;
  };
  if (strict && !d.empty() && d[0] == '=') return std::nullopt;
  int quad = 0, pads = 0;
  bool padding_started = false;
  unsigned left = 0;
  for (std::size_t i = 0; i < d.size(); ++i) {
    const auto ch = static_cast<unsigned char>(d[i]);
    if (ch == '=') {
      padding_started = true;
      if (quad >= 2 && quad + ++pads >= 4) {
        if (strict && i + 1 < d.size()) return std::nullopt;
        return done();
      }
      continue;
    }
    const int v = base64_value(ch);
    if (v < 0) {
      if (strict) return std::nullopt;
      continue;
    }
    if (strict && padding_started) return std::nullopt;
    pads = 0;
    const auto u = static_cast<unsigned>(v);
    switch (quad) {
      case 0:
        quad = 1;
        left = u;
        break;
      case 1:
        quad = 2;
        *w++ = static_cast<char>((left << 2) | (u >> 4));
        left = u & 0x0F;
        break;
      case 2:
        quad = 3;
        *w++ = static_cast<char>((left << 4) | (u >> 2));
        left = u & 0x03;
        break;
      default:
        quad = 0;
        *w++ = static_cast<char>((left << 6) | u);
        left = 0;
        break;
    }
  }
  if (quad != 0) return std::nullopt;
  return done();
}

// email._encoded_words.decode_b
std::string decode_b(std::string_view encoded) {
  const std::size_t pad_err = encoded.size() % 4;
  std::string padded(encoded);
  if (pad_err) padded.append(std::string_view("===").substr(0, 4 - pad_err));
  if (auto r = a2b_base64(padded, true)) return *r;
  if (auto r = a2b_base64(encoded, false)) return *r;
  if (auto r = a2b_base64(std::string(encoded) + "==", false)) return *r;
  return std::string(encoded);
}

// bytes.splitlines() (\n, \r, \r\n), without the line ends.
std::vector<std::string_view> bytes_splitlines(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == '\n' || s[i] == '\r') {
      out.push_back(s.substr(start, i - start));
      i += (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ? 2 : 1;
      start = i;
    } else {
      ++i;
    }
  }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

// binascii.a2b_uu; nullopt = binascii.Error.
std::optional<std::string> a2b_uu(std::string_view line) {
  const auto* a = reinterpret_cast<const unsigned char*>(line.data());
  long len = static_cast<long>(line.size());
  std::size_t p = 0;
  long bin_len = ((len > 0 ? a[0] : 0) - ' ') & 077;
  ++p;
  --len;
  std::string o;
  unsigned leftchar = 0;
  int leftbits = 0;
  for (; bin_len > 0; --len, ++p) {
    unsigned char ch = len > 0 ? a[p] : 0;
    if (ch == '\n' || ch == '\r' || len <= 0) {
      ch = 0;
    } else {
      if (ch < ' ' || ch > ' ' + 64) return std::nullopt;  // Illegal char
      ch = static_cast<unsigned char>((ch - ' ') & 077);
    }
    leftchar = (leftchar << 6) | ch;
    leftbits += 6;
    if (leftbits >= 8) {
      leftbits -= 8;
      o.push_back(static_cast<char>((leftchar >> leftbits) & 0xFF));
      leftchar &= (1u << leftbits) - 1;
      --bin_len;
    }
  }
  while (len-- > 0) {
    const unsigned char ch = a[p++];
    if (ch != ' ' && ch != ' ' + 64 && ch != '\n' && ch != '\r') return std::nullopt;
  }
  return o;
}

// int(mode, base=8) on bytes succeeds?
bool octal_int(std::string_view s) {
  while (!s.empty() && ascii_space(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && ascii_space(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  bool prefix = false;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    s.remove_prefix(2);
    prefix = true;
  }
  if (s.empty()) return false;
  bool need_digit = !prefix;  // "0o_7" allows one leading underscore after the prefix
  bool prev_us = false;
  std::size_t digits = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_') {
      if (prev_us || (need_digit && digits == 0)) return false;
      prev_us = true;
      continue;
    }
    if (c < '0' || c > '7') return false;
    prev_us = false;
    ++digits;
  }
  return digits > 0 && !prev_us;
}

// message._decode_uu; nullopt = ValueError (get_payload then returns the raw bytes).
std::optional<std::string> decode_uu(std::string_view encoded) {
  const std::vector<std::string_view> lines = bytes_splitlines(encoded);
  std::size_t i = 0;
  bool found = false;
  for (; i < lines.size(); ++i) {
    const std::string_view l = lines[i];
    if (l.substr(0, 6) == "begin ") {
      std::string_view rest = l.substr(6);
      const std::size_t sp = rest.find(' ');
      if (octal_int(rest.substr(0, sp))) {
        found = true;
        ++i;
        break;
      }
    }
  }
  if (!found) return std::nullopt;
  std::string out;
  for (; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.empty()) return std::nullopt;  // Truncated input
    std::string_view t = l;
    auto strip_set = [](unsigned char c) {
      return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
    };
    while (!t.empty() && strip_set(static_cast<unsigned char>(t.front()))) t.remove_prefix(1);
    while (!t.empty() && strip_set(static_cast<unsigned char>(t.back()))) t.remove_suffix(1);
    if (t == "end") break;
    std::optional<std::string> d = a2b_uu(l);
    if (!d) {
      const long nbytes = (((static_cast<unsigned char>(l[0]) - 32) & 63) * 4 + 5) / 3;
      d = a2b_uu(l.substr(0, static_cast<std::size_t>(nbytes)));
      if (!d) return std::nullopt;
    }
    out += *d;
  }
  return out;
}

// ---- email.feedparser -------------------------------------------------------------------------

struct Msg {
  // (name, value) as set_raw got them; views into the input or into FeedParser::owned_.
  std::vector<std::pair<std::string_view, std::string_view>> headers;
  bool default_rfc822 = false;  // set_default_type message/rfc822
  enum Kind { kNone, kString, kList } kind = kNone;
  std::string_view payload;   // kString: the bytes (Python: str, surrogate-escaped); a view
                              // into the input or into FeedParser::owned_
  std::vector<int> children;  // kList

  const std::string_view* get(std::string_view name) const {
    for (const auto& h : headers) {
      if (ieq(h.first, name)) return &h.second;
    }
    return nullptr;
  }

  // Message.get_content_type(). Cached: headers do not change once parsed (the cache is
  // filled only after parse_headers()).
  const std::string& content_type() const {
    if (!ctype_cache) ctype_cache = compute_content_type();
    return *ctype_cache;
  }
  std::string_view maintype() const {
    const std::string& t = content_type();
    return std::string_view(t).substr(0, t.find('/'));
  }
  std::string_view subtype() const {
    const std::string& t = content_type();
    return std::string_view(t).substr(t.find('/') + 1);
  }
  mutable std::optional<std::string> ctype_cache;

  std::string compute_content_type() const {
    const std::string_view* v = get("content-type");
    if (v == nullptr) return default_rfc822 ? "message/rfc822" : "text/plain";
    const std::string s = header_str(*v);
    const std::size_t semi = s.find(';');
    std::string ctype = lowered(pystrip(std::string_view(s).substr(0, semi)));
    if (std::count(ctype.begin(), ctype.end(), '/') != 1) return "text/plain";
    return ctype;
  }

  // Message._get_params_preserve + get_param(param, unquote=True). nullopt = failobj.
  std::optional<Param> param(std::string_view name,
                             std::string_view header = "content-type") const {
    const std::string_view* v = get(header);
    if (v == nullptr) return std::nullopt;
    std::vector<std::pair<std::string, std::string>> params;
    for (const std::string& p : parseparam(header_str(*v))) {
      const std::size_t eq = p.find('=');
      if (eq == npos) {
        params.emplace_back(std::string(pystrip(p)), "");
      } else {
        params.emplace_back(std::string(pystrip(std::string_view(p).substr(0, eq))),
                            std::string(pystrip(std::string_view(p).substr(eq + 1))));
      }
    }
    for (Param& p : decode_params(std::move(params))) {
      if (ieq(p.name, name)) {
        p.value = unquote(p.value);  // _unquotevalue
        return p;
      }
    }
    return std::nullopt;
  }

  // Message.get_boundary()
  std::optional<std::string> boundary() const {
    std::optional<Param> p = param("boundary");
    if (!p) return std::nullopt;
    std::string b;
    if (p->tuple) {
      // collapse_rfc2231_value: str(bytes(text, 'raw-unicode-escape'), charset, 'replace')
      Decoded d = decode(p->value, p->charset.value_or("us-ascii"), DecodeErrors::kReplace);
      if (d.status == DecodeStatus::kValueError) throw Crash{};
      if (d.status == DecodeStatus::kOk) {
        b = to_utf8(d.text);
        if (has_non_ascii(b)) b.assign(1, kRepl);  // non-ASCII: can never match a line
      } else {
        b = unquote(p->value);
      }
    } else {
      b = unquote(p->value);
    }
    return std::string(pyrstrip(b));
  }

  // Message.get_content_charset(); nullopt = None.
  std::optional<std::string> content_charset() const {
    std::optional<Param> p = param("charset");
    if (!p) return std::nullopt;
    std::string cs = p->value;
    if (p->tuple) {
      const std::string pc = p->charset && !p->charset->empty() ? *p->charset : "us-ascii";
      Decoded d = decode(p->value, pc, DecodeErrors::kStrict);
      if (d.status == DecodeStatus::kValueError) throw Crash{};
      if (d.status == DecodeStatus::kOk) cs = to_utf8(d.text);
    }
    if (has_non_ascii(cs)) return std::nullopt;  // charset.encode('us-ascii') fails
    return lowered(cs);
  }
};

class FeedParser {
 public:
  FeedParser(std::string_view text, const Limits& limits) : text_(text), limits_(limits) {
    // BufferedSubFile: lines end at \r\n, \r or \n (StringIO(newline='').readlines()).
    const char* const base = text.data();
    const std::size_t n = text.size();
    std::size_t start = 0;
    while (start < n) {
      const void* nl = std::memchr(base + start, '\n', n - start);
      const std::size_t lf = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - base) : n;
      const void* cr = std::memchr(base + start, '\r', lf - start);
      if (cr != nullptr) {  // a lone \r or a \r\n ends the line first
        const std::size_t c = static_cast<std::size_t>(static_cast<const char*>(cr) - base);
        const std::size_t end = (c + 1 < n && base[c + 1] == '\n') ? c + 2 : c + 1;
        lines_.emplace_back(start, end);
        start = end;
      } else if (nl != nullptr) {
        lines_.emplace_back(start, lf + 1);
        start = lf + 1;
      } else {
        lines_.emplace_back(start, n);
        start = n;
      }
    }
  }

  std::vector<Msg>& parse() {
    parsegen(0);
    return msgs_;
  }

 private:
  static constexpr long kEmpty = -1;  // an unread '' (acts as one EOF)

  std::string_view line(long li) const {
    const auto& l = lines_[static_cast<std::size_t>(li)];
    return text_.substr(l.first, l.second - l.first);
  }

  struct Matcher {
    bool blank;       // NLCRE.match
    std::string sep;  // boundaryre for '--' + boundary
  };

  // boundaryre.match(line): (?P<sep>--B)(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$
  static int boundary_match(std::string_view l, std::string_view sep) {
    if (l.substr(0, sep.size()) != sep) return 0;
    auto tail = [](std::string_view r) {
      std::size_t p = 0;
      while (p < r.size() && (r[p] == ' ' || r[p] == '\t')) ++p;
      r.remove_prefix(p);
      return r.empty() || r == "\r\n" || r == "\r" || r == "\n";
    };
    std::string_view rest = l.substr(sep.size());
    if (rest.substr(0, 2) == "--" && tail(rest.substr(2))) return 2;  // close boundary
    if (tail(rest)) return 1;
    return 0;
  }
  bool matches(const Matcher& m, std::string_view l) const {
    if (m.blank) return !l.empty() && (l[0] == '\r' || l[0] == '\n');
    return boundary_match(l, m.sep) != 0;
  }

  // BufferedSubFile.readline(): nullopt is '' (end of input or an EOF matcher).
  std::optional<long> readline() {
    long li;
    if (!pushback_.empty()) {
      li = pushback_.back();
      pushback_.pop_back();
      if (li == kEmpty) return std::nullopt;
    } else if (cursor_ < lines_.size()) {
      li = static_cast<long>(cursor_++);
    } else {
      return std::nullopt;
    }
    const std::string_view l = line(li);
    for (auto it = eofstack_.rbegin(); it != eofstack_.rend(); ++it) {
      if (matches(*it, l)) {
        pushback_.push_back(li);
        return std::nullopt;
      }
    }
    return li;
  }
  void unreadline(std::optional<long> li) { pushback_.push_back(li ? *li : kEmpty); }

  Msg& cur() { return msgs_[static_cast<std::size_t>(cur_)]; }

  void new_message() {
    if (msgs_.size() >= limits_.max_parts) throw Limit{};
    Msg m;
    if (cur_ >= 0 && !cur().headers.empty() && cur().content_type() == "multipart/digest") {
      m.default_rfc822 = true;
    }
    msgs_.push_back(std::move(m));
    const int idx = static_cast<int>(msgs_.size() - 1);
    if (!stack_.empty()) {
      Msg& parent = msgs_[static_cast<std::size_t>(stack_.back())];
      if (parent.kind == Msg::kString) throw Crash{};  // attach() on a str payload
      parent.kind = Msg::kList;
      parent.children.push_back(idx);
    }
    stack_.push_back(idx);
    cur_ = last_ = idx;
  }
  void pop_message() {
    stack_.pop_back();
    cur_ = stack_.empty() ? -1 : stack_.back();
  }

  // headerRE = ^(From |[\041-\071\073-\176]*:|[\t ])
  static bool header_line(std::string_view l) {
    if (l.substr(0, 5) == "From ") return true;
    if (!l.empty() && (l[0] == '\t' || l[0] == ' ')) return true;
    std::size_t p = 0;
    while (p < l.size()) {
      const auto c = static_cast<unsigned char>(l[p]);
      if (c < 0x21 || c > 0x7E || c == ':') break;
      ++p;
    }
    return p < l.size() && l[p] == ':';
  }

  // compat32 header_source_parse()
  void set_raw(const std::vector<long>& src) {
    std::string_view first = line(src[0]);
    const std::size_t colon = first.find(':');
    const std::string_view name = first.substr(0, colon);
    std::string_view v = first.substr(colon + 1);
    while (!v.empty() && (v[0] == ' ' || v[0] == '\t')) v.remove_prefix(1);
    if (src.size() > 1) {  // continuation lines: the value is no longer one slice of input
      std::string& value = owned_.emplace_back(v);
      for (std::size_t k = 1; k < src.size(); ++k) value.append(line(src[k]));
      v = value;
    }
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
    cur().headers.emplace_back(name, v);
  }

  // FeedParser._parse_headers
  void parse_headers(const std::vector<long>& hl) {
    std::vector<long> lastvalue;
    for (std::size_t lineno = 0; lineno < hl.size(); ++lineno) {
      const std::string_view l = line(hl[lineno]);
      if (l[0] == ' ' || l[0] == '\t') {
        if (lastvalue.empty()) continue;  // FirstHeaderLineIsContinuationDefect
        lastvalue.push_back(hl[lineno]);
        continue;
      }
      if (!lastvalue.empty()) {
        set_raw(lastvalue);
        lastvalue.clear();
      }
      if (l.substr(0, 5) == "From ") {
        if (lineno == 0) continue;  // unixfrom
        if (lineno == hl.size() - 1) {
          unreadline(hl[lineno]);
          return;
        }
        continue;  // MisplacedEnvelopeHeaderDefect
      }
      const std::size_t i = l.find(':');
      if (i == 0) continue;  // InvalidHeaderDefect
      lastvalue.push_back(hl[lineno]);
    }
    if (!lastvalue.empty()) set_raw(lastvalue);
  }

  // EMPTYSTRING.join(lines): a view of the input while the lines are contiguous in it (the
  // usual case), an owned copy otherwise.
  class Joiner {
   public:
    explicit Joiner(FeedParser* fp) : fp_(fp) {}
    void add(std::string_view l) {
      if (owned_ != nullptr) {
        owned_->append(l);
      } else if (view_.empty()) {
        view_ = l;
      } else if (view_.data() + view_.size() == l.data()) {
        view_ = std::string_view(view_.data(), view_.size() + l.size());
      } else {
        owned_ = &fp_->owned_.emplace_back(view_);
        owned_->append(l);
      }
    }
    std::string_view result() const { return owned_ != nullptr ? *owned_ : view_; }

   private:
    FeedParser* fp_;
    std::string_view view_;
    std::string* owned_ = nullptr;
  };

  std::string_view drain() {  // EMPTYSTRING.join(lines) of `for line in self._input`
    Joiner j(this);
    while (std::optional<long> li = readline()) j.add(line(*li));
    return j.result();
  }

  // FeedParser._parsegen
  void parsegen(int depth) {
    if (depth > limits_.max_mime_depth) throw Limit{};
    new_message();
    std::vector<long> headers;
    while (std::optional<long> li = readline()) {
      const std::string_view l = line(*li);
      if (!header_line(l)) {
        if (!(l[0] == '\r' || l[0] == '\n')) unreadline(li);  // MissingHeaderBodySeparator
        break;
      }
      headers.push_back(*li);
    }
    parse_headers(headers);
    const std::string ctype = cur().content_type();
    if (ctype == "message/delivery-status") {
      for (;;) {
        eofstack_.push_back(Matcher{true, {}});
        parsegen(depth + 1);
        pop_message();
        eofstack_.pop_back();
        (void)readline();
        std::optional<long> li = readline();
        if (!li) break;
        unreadline(li);
      }
      return;
    }
    const std::string main = ctype.substr(0, ctype.find('/'));
    if (main == "message") {
      parsegen(depth + 1);
      pop_message();
      return;
    }
    if (main == "multipart") {
      parse_multipart(depth);
      return;
    }
    const int self = cur_;
    const std::string_view payload = drain();
    msgs_[static_cast<std::size_t>(self)].kind = Msg::kString;
    msgs_[static_cast<std::size_t>(self)].payload = payload;
  }

  void parse_multipart(int depth) {
    const int self = cur_;
    std::optional<std::string> boundary = cur().boundary();
    if (!boundary) {  // NoBoundaryInMultipartDefect
      const std::string_view payload = drain();
      msgs_[static_cast<std::size_t>(self)].kind = Msg::kString;
      msgs_[static_cast<std::size_t>(self)].payload = payload;
      return;
    }
    std::string sep = "--" + *boundary;
    if (has_non_ascii(sep)) sep = std::string("\0\x80", 2);  // can never start a line
    bool capturing_preamble = true;
    Joiner preamble(this);
    for (;;) {
      std::optional<long> li = readline();
      if (!li) break;
      const int mo = boundary_match(line(*li), sep);
      if (mo == 2) break;  // close boundary seen
      if (mo == 1) {
        if (capturing_preamble) {
          capturing_preamble = false;
          unreadline(li);
          continue;
        }
        for (;;) {  // consume every consecutive boundary line
          std::optional<long> l2 = readline();
          if (!l2 || boundary_match(line(*l2), sep) == 0) {
            unreadline(l2);
            break;
          }
        }
        eofstack_.push_back(Matcher{false, sep});
        parsegen(depth + 1);
        Msg& last = msgs_[static_cast<std::size_t>(last_)];
        if (last.maintype() != "multipart" && last.kind == Msg::kString) {
          std::string_view& p = last.payload;  // strip one NLCRE_eol
          if (p.size() >= 2 && p[p.size() - 2] == '\r' && p.back() == '\n') {
            p.remove_suffix(2);
          } else if (!p.empty() && (p.back() == '\n' || p.back() == '\r')) {
            p.remove_suffix(1);
          }
        }
        eofstack_.pop_back();
        pop_message();
        last_ = cur_;
      } else {
        if (!capturing_preamble) throw Crash{};  // assert capturing_preamble
        preamble.add(line(*li));
      }
    }
    if (capturing_preamble) {  // StartBoundaryNotFoundDefect
      Msg& m = msgs_[static_cast<std::size_t>(self)];
      m.kind = Msg::kString;
      m.payload = preamble.result();
      (void)drain();
      return;
    }
    (void)drain();  // epilogue (also when the close boundary is missing)
  }

  std::string_view text_;
  const Limits& limits_;
  std::vector<std::pair<std::size_t, std::size_t>> lines_;
  std::size_t cursor_ = 0;
  std::vector<long> pushback_;
  std::vector<Matcher> eofstack_;
  std::vector<Msg> msgs_;
  std::deque<std::string> owned_;  // folded header values (stable addresses)
  std::vector<int> stack_;
  int cur_ = -1;
  int last_ = -1;
};

// ---- pyzor.digest -----------------------------------------------------------------------------

std::u32string bytes_to_cps(std::string_view b) {
  std::u32string o;
  o.reserve(b.size());
  for (char c : b) o.push_back(static_cast<unsigned char>(c));
  return o;
}

// Message.get_payload() (decode=False) of a non-text leaf.
std::u32string raw_payload(const Msg& m) {
  if (m.kind != Msg::kString) throw Crash{};  // None.splitlines()
  if (!has_non_ascii(m.payload)) return bytes_to_cps(m.payload);
  std::optional<Param> p = m.param("charset");
  std::string cs = "ascii";
  if (p) {
    if (p->tuple) throw Crash{};  // bytes.decode(<tuple>) -> TypeError
    cs = p->value;
  }
  Decoded d = decode(m.payload, cs, DecodeErrors::kReplace);
  if (d.status == DecodeStatus::kLookupError) {
    d = decode(m.payload, "ascii", DecodeErrors::kReplace);
  } else if (d.status != DecodeStatus::kOk) {
    throw Crash{};  // only LookupError is caught here
  }
  return std::move(d.text);
}

// Message.get_payload(decode=True) of a text leaf; the result lives in m or in *storage.
std::string_view decoded_payload(const Msg& m, std::string* storage) {
  if (m.kind == Msg::kList) return {};  // not reached for text parts
  if (m.kind == Msg::kNone) throw Crash{};
  const std::string_view* cte_h = m.get("content-transfer-encoding");
  const std::string_view b = m.payload;
  if (cte_h == nullptr) return b;
  const std::string cte = lowered(header_str(*cte_h));
  if (cte == "quoted-printable") {
    *storage = a2b_qp(b);
    return *storage;
  }
  if (cte == "base64") {
    std::string joined(b.size(), '\0');
    char* w = joined.data();
    for (char c : b) {
      *w = c;
      w += (c != '\r' && c != '\n');
    }
    joined.resize(static_cast<std::size_t>(w - joined.data()));
    *storage = decode_b(joined);
    return *storage;
  }
  if (cte == "x-uuencode" || cte == "uuencode" || cte == "uue" || cte == "x-uue") {
    if (std::optional<std::string> d = decode_uu(b)) {
      *storage = std::move(*d);
      return *storage;
    }
  }
  return b;
}

// The kept lines, UTF-8, in one buffer.
struct Kept {
  std::string buf;
  std::vector<std::size_t> ends;
  std::size_t size() const { return ends.size(); }
  std::string_view line(std::size_t i) const {
    const std::size_t b = i == 0 ? 0 : ends[i - 1];
    return std::string_view(buf).substr(b, ends[i] - b);
  }
};

// str.isspace() for code points below 256.
constexpr std::array<bool, 256> kSpace256 = [] {
  std::array<bool, 256> t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = detail::py_isspace(c);
  return t;
}();

template <class C>
bool space_of(C c) {
  if constexpr (sizeof(C) == 1) {
    return kSpace256[c];
  } else {
    return c < 256 ? kSpace256[c] : detail::py_isspace(c);
  }
}

template <class C>
bool url_letter_of(C c) {  // [a-z] under re.IGNORECASE (Unicode)
  const char32_t v = c;
  return ((v | 0x20) >= 'a' && (v | 0x20) <= 'z') || v == 0x130 || v == 0x131 || v == 0x17F ||
         v == 0x212A;
}

// DataDigester.normalize (see normalize_line()), on code points stored as C.
template <class C>
void normalize_into(std::basic_string_view<C> s, std::basic_string<C>* out) {
  const std::size_t n = s.size();
  for (std::size_t i = 0; i < n;) {
    if (space_of(s[i])) {
      ++i;
      continue;
    }
    std::size_t e = i;
    while (e < n && !space_of(s[e])) ++e;
    const std::basic_string_view<C> run = s.substr(i, e - i);
    i = e;
    if (run.size() >= 10) continue;  // \S{10,}
    bool email = false;              // \S+@\S+
    for (std::size_t k = 1; k + 1 < run.size(); ++k) email = email || run[k] == '@';
    if (email) continue;
    // [a-z]+:\S+ : the first letter run followed by ':' and at least one more character.
    std::size_t cut = npos;
    for (std::size_t p = 0; p < run.size();) {
      if (!url_letter_of(run[p])) {
        ++p;
        continue;
      }
      std::size_t r = p;
      while (r < run.size() && url_letter_of(run[r])) ++r;
      if (r + 1 < run.size() && run[r] == ':') {
        cut = p;
        break;
      }
      p = r;
    }
    out->append(cut == npos ? run : run.substr(0, cut));
  }
}

template <class C>
void add_lines(std::basic_string_view<C> payload, std::basic_string<C>* norm, Kept* kept) {
  // payload.splitlines(), normalize(), keep 8+ code points as UTF-8
  auto one = [&](std::basic_string_view<C> line) {
    norm->clear();
    normalize_into(line, norm);
    if (norm->size() < 8) return;
    if constexpr (sizeof(C) == 1) {
      const std::size_t b = kept->buf.size();
      kept->buf.resize(b + 2 * norm->size());
      char* w = kept->buf.data() + b;
      for (unsigned char c : *norm) {
        if (c < 0x80) {
          *w++ = static_cast<char>(c);
        } else {
          *w++ = static_cast<char>(0xC0 | (c >> 6));
          *w++ = static_cast<char>(0x80 | (c & 0x3F));
        }
      }
      kept->buf.resize(static_cast<std::size_t>(w - kept->buf.data()));
    } else {
      for (C c : *norm) detail::append_utf8(&kept->buf, c);
    }
    kept->ends.push_back(kept->buf.size());
  };
  const std::size_t n = payload.size();
  std::size_t start = 0;
  for (std::size_t i = 0; i < n;) {
    const char32_t c = payload[i];
    if (c < 0x0A || (c > 0x0D && c < 0x1C) || (c > 0x1E && c != 0x85 && c < 0x2028) ||
        !detail::py_linebreak(c)) {
      ++i;
      continue;
    }
    one(payload.substr(start, i - start));
    i += (c == '\r' && i + 1 < n && payload[i + 1] == '\n') ? 2 : 1;
    start = i;
  }
  if (start < n) one(payload.substr(start));
}

// Bytes (code points below 256): splitting and normalising fused into one pass. Every line
// boundary of str.splitlines() is also whitespace, so runs never cross lines; an extra
// boundary (the \n of \r\n) only flushes an empty line, which is never kept.
constexpr std::array<bool, 256> kBreak256 = [] {
  std::array<bool, 256> t{};
  for (unsigned c = 0; c < 256; ++c) t[c] = detail::py_linebreak(c);
  return t;
}();

template <>
void add_lines<unsigned char>(std::basic_string_view<unsigned char> payload,
                              std::basic_string<unsigned char>* norm, Kept* kept) {
  const unsigned char* p = payload.data();
  const std::size_t n = payload.size();
  if (norm->size() < n) norm->resize(n);  // scratch space, reused across payloads
  unsigned char* const line0 = norm->data();
  unsigned char* w = line0;
  auto flush = [&] {
    const std::size_t len = static_cast<std::size_t>(w - line0);
    if (len >= 8) {
      const std::size_t b = kept->buf.size();
      kept->buf.resize(b + 2 * len);
      char* o = kept->buf.data() + b;
      for (const unsigned char* q = line0; q < w; ++q) {
        if (*q < 0x80) {
          *o++ = static_cast<char>(*q);
        } else {
          *o++ = static_cast<char>(0xC0 | (*q >> 6));
          *o++ = static_cast<char>(0x80 | (*q & 0x3F));
        }
      }
      kept->buf.resize(static_cast<std::size_t>(o - kept->buf.data()));
      kept->ends.push_back(kept->buf.size());
    }
    w = line0;
  };
  for (std::size_t i = 0; i < n;) {
    if (kSpace256[p[i]]) {
      if (kBreak256[p[i]]) flush();
      ++i;
      continue;
    }
    const std::size_t b = i;
    std::size_t at = 0, colon = 0;
    while (i < n && !kSpace256[p[i]]) {
      const unsigned char c = p[i];
      if (c == '@' && i > b) at = 1;
      if (c == ':' && colon == 0) colon = i + 1;
      ++i;
    }
    const std::size_t len = i - b;
    if (len >= 10) continue;  // \S{10,}
    if (at && !(len >= 2 && p[i - 1] == '@' && std::memchr(p + b + 1, '@', len - 2) == nullptr)) {
      continue;  // \S+@\S+: an '@' after the first char and before the last one
    }
    std::size_t cut = i;
    if (colon != 0) {  // [a-z]+:\S+ : the first letter run followed by ':' and one more char
      for (std::size_t c = colon - 1; c < i; ++c) {
        if (p[c] != ':' || c + 1 >= i || c == b || !url_letter_of(p[c - 1])) continue;
        std::size_t st = c - 1;
        while (st > b && url_letter_of(p[st - 1])) --st;
        cut = st;
        break;
      }
    }
    std::memcpy(w, p + b, cut - b);
    w += cut - b;
  }
  flush();
}

// DataDigester.digest_payloads + the line loop of DataDigester.__init__.
void digest_lines(std::string_view raw, const Limits& limits, Kept* kept) {
  if (raw.size() > limits.max_input_bytes) throw Limit{};
  FeedParser parser(raw, limits);
  std::vector<Msg>& msgs = parser.parse();
  std::basic_string<unsigned char> norm8;
  std::u32string norm32;
  auto bytes = [&](std::string_view b) {  // code points below 256 stored as bytes
    add_lines<unsigned char>(std::basic_string_view<unsigned char>(
                                 reinterpret_cast<const unsigned char*>(b.data()), b.size()),
                             &norm8, kept);
  };
  auto wide = [&](std::u32string_view t) { add_lines<char32_t>(t, &norm32, kept); };
  auto ascii_ignore = [](std::string_view b, std::string* storage) -> std::string_view {
    if (!has_non_ascii(b)) return b;
    storage->clear();
    for (char c : b) {
      if (static_cast<unsigned char>(c) < 0x80) storage->push_back(c);
    }
    return *storage;
  };
  // Message.walk(): pre-order.
  std::vector<int> todo = {0};
  while (!todo.empty()) {
    const int idx = todo.back();
    todo.pop_back();
    const Msg& part = msgs[static_cast<std::size_t>(idx)];
    if (part.kind == Msg::kList) {
      for (auto it = part.children.rbegin(); it != part.children.rend(); ++it) todo.push_back(*it);
    }
    if (part.maintype() == "text") {
      std::string storage, filtered;
      const std::string_view payload = decoded_payload(part, &storage);
      std::optional<std::string> charset = part.content_charset();
      DecodeErrors errors = DecodeErrors::kIgnore;
      std::string cs;
      if (!charset || charset->empty()) {
        cs = "ascii";
      } else {
        cs = *charset;
        std::string k = lowered(cs);
        std::replace(k.begin(), k.end(), '_', '-');
        if (k == "quopri-codec" || k == "quopri" || k == "quoted-printable" ||
            k == "quotedprintable") {
          errors = DecodeErrors::kStrict;
        }
      }
      const bool html = part.subtype() == "html";
      if (cs.find('\0') != std::string::npos) throw Crash{};  // bytes.decode(): ValueError
      // Fast paths where the decoded code points are the bytes (or the ASCII bytes).
      const std::string module = codec_module(cs);
      const bool falls_back_to_ascii =
          payload.empty() || module == "ascii" || !is_text_module(module);
      if (!html && falls_back_to_ascii) {
        bytes(ascii_ignore(payload, &filtered));
        continue;
      }
      if (!html && (module == "latin_1" || module == "charmap")) {
        bytes(payload);
        continue;
      }
      Decoded d = decode(payload, cs, errors);
      if (d.status == DecodeStatus::kValueError) throw Crash{};
      if (d.status != DecodeStatus::kOk) d = decode(payload, "ascii", DecodeErrors::kIgnore);
      if (html) {
        std::optional<std::u32string> t = html_to_text(d.text);
        if (!t) throw Crash{};  // the except clause names html.parser.HTMLParseError
        wide(*t);
      } else {
        wide(d.text);
      }
    } else if (part.kind == Msg::kList) {
      // multipart: walk() yields the children next
    } else if (part.kind == Msg::kString && !has_non_ascii(part.payload)) {
      bytes(part.payload);  // get_payload() returns the str as it is
    } else {
      wide(raw_payload(part));
    }
  }
}

std::vector<std::size_t> sample(std::size_t n) {
  std::vector<std::size_t> out;
  if (n <= 4) {  // handle_atomic
    for (std::size_t i = 0; i < n; ++i) out.push_back(i);
    return out;
  }
  for (const std::size_t pct : {20u, 60u}) {  // digest_spec = [(20, 3), (60, 3)]
    for (std::size_t i = 0; i < 3; ++i) {
      const std::size_t idx = pct * n / 100 + i;
      if (idx < n) out.push_back(idx);
    }
  }
  return out;
}

std::optional<Kept> kept_of(std::string_view raw, const Limits& limits) {
  Kept kept;
  try {
    digest_lines(raw, limits, &kept);
  } catch (const Crash&) {
    return std::nullopt;
  } catch (const Limit&) {
    return std::nullopt;
  }
  return kept;
}

}  // namespace

std::string to_utf8(std::u32string_view s) {
  std::string o;
  o.reserve(s.size());
  for (char32_t c : s) detail::append_utf8(&o, c);
  return o;
}

std::u32string normalize_line(std::u32string_view s) {
  std::u32string out;
  normalize_into<char32_t>(s, &out);
  return out;
}

std::optional<std::vector<std::string>> kept_lines(std::string_view raw, const Limits& limits) {
  std::optional<Kept> kept = kept_of(raw, limits);
  if (!kept) return std::nullopt;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < kept->size(); ++i) out.emplace_back(kept->line(i));
  return out;
}

std::optional<std::vector<std::string>> predigest_lines(std::string_view raw,
                                                        const Limits& limits) {
  std::optional<Kept> kept = kept_of(raw, limits);
  if (!kept) return std::nullopt;
  std::vector<std::string> out;
  for (std::size_t i : sample(kept->size())) out.emplace_back(kept->line(i));
  return out;
}

std::optional<std::string> digest(std::string_view raw, const Limits& limits) {
  std::optional<Kept> kept = kept_of(raw, limits);
  if (!kept) return std::nullopt;
  // handle_line: line.rstrip() is a no-op, normalised lines hold no whitespace.
  std::string hashed;
  for (std::size_t i : sample(kept->size())) hashed.append(kept->line(i));
  return sha1_hex(hashed);
}

}  // namespace strop::sigs::pyzor
