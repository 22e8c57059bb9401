// razor.cpp: the razor-agents 2.85 signature model (see razor.hpp and
// docs/legacy-engines.md). Comments name the Perl statement each block reproduces.
#include "sigs/razor.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "base/ascii.hpp"
#include "base/base64.hpp"
#include "base/digest.hpp"
#include "razor_domains.hpp"
#include "razor_internal.hpp"

namespace strop::sigs::razor {
namespace {

constexpr std::size_t npos = std::string_view::npos;

// ---- Perl primitives ------------------------------------------------------------------------

// Perl truthiness of a defined string: "" and "0" are false.
bool perl_true(std::string_view s) { return !(s.empty() || (s.size() == 1 && s[0] == '0')); }

// Perl \s on a byte string (no UTF-8 flag): [ \t\n\r\f\v].
inline bool is_space(std::uint32_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
// Perl \s on a UTF-8 flagged string whose characters are all below 1000.
inline bool is_space_uni(std::uint32_t c) { return is_space(c) || c == 0x85 || c == 0xA0; }

// Case-insensitive (ASCII) prefix test; `lower_pat` must be lowercase.
bool istarts_with(std::string_view s, std::size_t pos, std::string_view lower_pat) {
  if (pos > s.size() || s.size() - pos < lower_pat.size()) return false;
  for (std::size_t i = 0; i < lower_pat.size(); ++i) {
    if (ascii_lower(s[pos + i]) != lower_pat[i]) return false;
  }
  return true;
}

std::size_t ifind(std::string_view s, std::string_view lower_pat, std::size_t from = 0) {
  if (lower_pat.empty()) return from <= s.size() ? from : npos;
  for (std::size_t i = from; i + lower_pat.size() <= s.size(); ++i) {
    if (ascii_lower(s[i]) == lower_pat[0] && istarts_with(s, i, lower_pat)) return i;
  }
  return npos;
}

// First match of /\n\r*\n/ at or after `from`; sets *end past it.
std::size_t find_blank_line(std::string_view s, std::size_t from, std::size_t* end) {
  const char* const base = s.data();
  const char* const stop = base + s.size();
  for (const char* p = base + std::min(from, s.size()); p < stop; ++p) {
    p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(stop - p)));
    if (p == nullptr) return npos;
    const char* q = p + 1;
    while (q < stop && *q == '\r') ++q;
    if (q < stop && *q == '\n') {
      *end = static_cast<std::size_t>(q + 1 - base);
      return static_cast<std::size_t>(p - base);
    }
  }
  return npos;
}

// my ($hdr, $body) = split /\n\r*\n/, $text, 2;  (an empty text gives an undef header,
// which behaves as "" everywhere it is used)
struct Split1 {
  std::string_view hdr;
  std::optional<std::string_view> body;
};
Split1 split1(std::string_view s) {
  std::size_t end = 0;
  std::size_t at = find_blank_line(s, 0, &end);
  if (at == npos) return {s, std::nullopt};
  return {s.substr(0, at), s.substr(end)};
}

// $s =~ s/([^\n]+)$//s : drops the last partial line; `$` may sit before a final "\n".
void drop_last_partial_line(std::string& s) {
  std::size_t end = s.size();
  if (end > 0 && s[end - 1] == '\n') --end;
  std::size_t start = end;
  while (start > 0 && s[start - 1] != '\n') --start;
  if (start < end) s.erase(start, end - start);
}

// ---- MIME splitting -------------------------------------------------------------------------

std::string agent_line() {
  std::string s = "X-Razor2-Agent: ";
  s.append(kAgentVersion);
  s.push_back('\n');
  return s;
}

// $hdr =~ s/\n\s+//sg
std::string unfold(std::string_view hdr) {
  std::string out(hdr.size(), '\0');
  char* w = out.data();
  for (std::size_t i = 0; i < hdr.size();) {
    if (hdr[i] == '\n' && i + 1 < hdr.size() && is_space(static_cast<unsigned char>(hdr[i + 1]))) {
      i += 2;
      while (i < hdr.size() && is_space(static_cast<unsigned char>(hdr[i]))) ++i;
      continue;
    }
    *w++ = hdr[i++];
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
  return out;
}

// /Content-Type: multipart.+boundary=("[^"]+"|\S+)/i on the trimmed headers; capture 1.
// `.+` is greedy and cannot cross a newline: for the first occurrence on a line, the match
// is the last "boundary=" on that line (after at least one more char) whose value matches;
// later occurrences on the same line can only do worse, so each line is looked at once.
std::optional<std::string_view> find_boundary(std::string_view h) {
  static constexpr std::string_view kCt = "content-type: multipart";
  static constexpr std::string_view kB = "boundary=";
  for (std::size_t p = ifind(h, kCt); p != npos;) {
    std::size_t line_end = h.find('\n', p + kCt.size());
    if (line_end == npos) line_end = h.size();
    const std::size_t lo = p + kCt.size() + 1;
    if (lo + kB.size() <= line_end) {
      for (std::size_t q = line_end - kB.size() + 1; q-- > lo;) {
        if (!istarts_with(h, q, kB)) continue;
        const std::size_t r = q + kB.size();
        if (r < h.size() && h[r] == '"') {
          const std::size_t close = h.find('"', r + 1);
          if (close != npos && close >= r + 2) return h.substr(r, close + 1 - r);
        }
        std::size_t e = r;
        while (e < h.size() && !is_space(static_cast<unsigned char>(h[e]))) ++e;
        if (e > r) return h.substr(r, e - r);
      }
    }
    if (line_end >= h.size()) break;
    p = ifind(h, kCt, line_end + 1);
  }
  return std::nullopt;
}

bool has_non_space(std::string_view s) {
  for (char c : s) {
    if (!is_space(static_cast<unsigned char>(c))) return true;
  }
  return false;
}

Result<void> split_mime_rec(std::string_view text, bool recursive, int depth, const Limits& limits,
                            std::vector<std::string>* out) {
  if (depth > limits.max_mime_depth) {
    return Error{Errc::kLimitExceeded, "razor: MIME nesting deeper than max_mime_depth"};
  }
  if (out->size() >= limits.max_parts) {
    return Error{Errc::kLimitExceeded, "razor: more parts than max_parts"};
  }
  Split1 s = split1(text);
  bool no_valid_mime_hdr = !s.body || !perl_true(*s.body);
  if (recursive && !istarts_with(s.hdr, 0, "content-type:")) no_valid_mime_hdr = true;
  if (no_valid_mime_hdr) {
    std::string part = agent_line();
    if (text.empty() || text[0] != '\n') part.push_back('\n');
    part.append(text);
    out->push_back(std::move(part));
    return {};
  }
  // $hdr =~ s/\n\s+//sg, then the lines matching ^Content- or ^X-Razor2: logical lines end
  // at a '\n' not followed by whitespace (a removed "\n\s+" run may hold more newlines);
  // only the kept ones are unfolded.
  std::string trimmed;
  const std::string_view h = s.hdr;
  for (std::size_t i = 0; i <= h.size();) {
    std::size_t k = i;  // end of the logical line
    for (;;) {
      const void* nl = std::memchr(h.data() + k, '\n', h.size() - k);
      if (nl == nullptr) {
        k = h.size();
        break;
      }
      k = static_cast<std::size_t>(static_cast<const char*>(nl) - h.data());
      if (k + 1 < h.size() && is_space(static_cast<unsigned char>(h[k + 1]))) {
        k += 2;
        while (k < h.size() && is_space(static_cast<unsigned char>(h[k]))) ++k;
        continue;
      }
      break;
    }
    const std::string_view logical = h.substr(i, k - i);
    char head[8];
    std::size_t got = 0;
    for (std::size_t q = 0; q < logical.size() && got < sizeof head;) {  // unfolded prefix
      if (logical[q] == '\n') {
        q += 1;
        while (q < logical.size() && is_space(static_cast<unsigned char>(logical[q]))) ++q;
        continue;
      }
      head[got++] = logical[q++];
    }
    const std::string_view prefix(head, got);
    if (istarts_with(prefix, 0, "content-") || istarts_with(prefix, 0, "x-razor2")) {
      trimmed.append(logical.find('\n') == npos ? std::string(logical) : unfold(logical));
      trimmed.push_back('\n');
    }
    i = k + 1;
  }
  std::optional<std::string_view> bq = find_boundary(trimmed);
  std::string_view body = *s.body;
  if (!bq) {
    std::string part = agent_line();
    part.append(trimmed);
    part.push_back('\n');
    part.append(body);
    out->push_back(std::move(part));
    return {};
  }
  // $boundary = $1 if $boundary =~ /^"(.*)"$/;
  std::string_view boundary = *bq;
  if (boundary.size() >= 2 && boundary.front() == '"' && boundary.back() == '"' &&
      boundary.substr(1, boundary.size() - 2).find('\n') == npos) {
    boundary = boundary.substr(1, boundary.size() - 2);
  }
  std::string delim = "--";
  delim.append(boundary);

  // $body =~ s/\n\Q--$boundary--\E.*$//sg;
  std::string close = "\n" + delim + "--";
  std::size_t cut = body.find(close);
  if (cut != npos) body = body.substr(0, cut);
  // if ($body =~ /^\Q--$boundary\E\r*\n/) { $body = "garbage\n$body"; }
  std::string garbage_body;
  if (body.substr(0, delim.size()) == delim) {
    std::size_t j = delim.size();
    while (j < body.size() && body[j] == '\r') ++j;
    if (j < body.size() && body[j] == '\n') {
      garbage_body = "garbage\n";
      garbage_body.append(body);
      body = garbage_body;
    }
  }
  std::vector<std::string_view> tmpparts;
  if (body.find(delim) == npos) {
    tmpparts.push_back("garbage");
    tmpparts.push_back(body);
  } else {
    // split /\n\Q--$boundary\E\r*\n/, $body  (trailing empty fields dropped)
    std::string sep = "\n" + delim;
    std::size_t field = 0;
    for (std::size_t i = body.find(sep); i != npos; i = body.find(sep, i + 1)) {
      std::size_t j = i + sep.size();
      while (j < body.size() && body[j] == '\r') ++j;
      if (j < body.size() && body[j] == '\n') {
        tmpparts.push_back(body.substr(field, i - field));
        field = j + 1;
        i = j;  // the next match starts after this one
      }
    }
    tmpparts.push_back(body.substr(field));
    while (!tmpparts.empty() && tmpparts.back().empty()) tmpparts.pop_back();
  }
  for (std::size_t k = 1; k < tmpparts.size(); ++k) {  // shift @tmpparts
    if (!has_non_space(tmpparts[k])) continue;
    Result<void> r = split_mime_rec(tmpparts[k], true, depth + 1, limits, out);
    if (!r) return r;
  }
  return {};
}

// ---- deBase64 -------------------------------------------------------------------------------

// Perl's unpack("u", ...) on one uuencoded line (pp_pack.c), appending to `out`.
void perl_unpack_u(const unsigned char* s, std::size_t n, std::string* out) {
  auto isuu = [](unsigned char c) { return c >= 0x20 && c < 0x60; };
  auto val = [](unsigned char c) { return static_cast<unsigned>((c - 0x20) & 077); };
  std::size_t p = 0;
  while (p < n && s[p] != ' ' && isuu(s[p])) {
    int len = static_cast<int>(val(s[p++]));
    while (len > 0) {
      unsigned q[4];
      for (unsigned& v : q) v = (p < n && isuu(s[p])) ? val(s[p++]) : 0;
      const char hunk[3] = {static_cast<char>((q[0] << 2) | (q[1] >> 4)),
                            static_cast<char>((q[1] << 4) | (q[2] >> 2)),
                            static_cast<char>((q[2] << 6) | q[3])};
      out->append(hunk, static_cast<std::size_t>(len > 3 ? 3 : len));
      len -= 3;
    }
    if (p < n && s[p] == '\n') {
      ++p;
    } else if (p + 1 < n && s[p + 1] == '\n') {
      p += 2;
    }
  }
}

bool de_base64_isit(std::string_view t) {
  static constexpr std::string_view kCte = "content-transfer-encoding: base64";
  for (std::size_t p = 0; p != npos && p < t.size();) {
    if (istarts_with(t, p, kCte)) return true;
    p = t.find('\n', p);
    if (p != npos) ++p;
  }
  return false;
}

// ---- deHTMLxs (_deHTMLxs.c) -------------------------------------------------------------------

bool c_isalpha(unsigned char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool c_isspace(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// CM_PREPROC_is_html on s[0..n) (n = up to the first NUL).
bool is_html(const unsigned char* s, std::size_t n) {
  static constexpr std::array<std::string_view, 40> kTags = {
      "html",   "body",   "a",      "font",  "table", "head", "base",  "meta", "td",     "tr",
      "style",  "img",    "object", "br",    "b",     "i",    "span",  "div",  "form",   "input",
      "button", "frame",  "iframe", "tbody", "col",   "th",   "hr",    "xml",  "script", "pre",
      "param",  "applet", "center", "area",  "map",   "em",   "embed", "xmp",  "sub",    "sup"};
  // First '>' at or after a position; cached so that "<a<a<a..." stays linear.
  std::size_t gt_from = 0, gt_at = 0;
  bool gt_known = false;
  auto next_gt = [&](std::size_t from) -> std::size_t {
    if (!gt_known || from > gt_at || from < gt_from) {
      const void* g = std::memchr(s + from, '>', n - from);
      gt_at = g ? static_cast<std::size_t>(static_cast<const unsigned char*>(g) - s) : npos;
      gt_from = from;
      gt_known = true;
      if (gt_at == npos) gt_at = n;  // none: every later search fails too
    }
    return gt_at < n ? gt_at : npos;
  };
  char name[100];
  for (const void* lt = std::memchr(s, '<', n); lt != nullptr;) {
    std::size_t p = static_cast<std::size_t>(static_cast<const unsigned char*>(lt) - s);
    std::size_t b = p + 1;
    if (b < n && (s[b] == '!' || s[b] == '/')) ++b;
    while (b < n && c_isspace(s[b])) ++b;
    std::size_t cch = 0;
    unsigned room = sizeof(name);
    while (b < n && c_isalpha(s[b])) {
      if (--room == 0) break;
      name[cch++] = static_cast<char>(s[b] | 0x20);
      ++b;
    }
    std::size_t end = npos;
    if (cch > 0) end = next_gt(b);
    std::size_t resume = p + 1;
    if (end != npos) {
      std::string_view tag(name, cch);
      for (std::string_view t : kTags) {
        if (t == tag) return true;
      }
      resume = end + 1;
    }
    lt = resume < n ? std::memchr(s + resume, '<', n - resume) : nullptr;
  }
  return false;
}

struct Entity {
  std::string_view name;
  unsigned char chr;
};
// CM_PREPROC_html_tags, in table order (first prefix match wins).
constexpr std::array<Entity, 100> kEntities = {{
    {"lt", '<'},     {"gt", '>'},     {"amp", '&'},    {"quot", '"'},   {"nbsp", ' '},
    {"iexcl", 161},  {"cent", 162},   {"pound", 163},  {"curren", 164}, {"yen", 165},
    {"brvbar", 166}, {"sect", 167},   {"uml", 168},    {"copy", 169},   {"ordf", 170},
    {"laquo", 171},  {"not", 172},    {"shy", 173},    {"reg", 174},    {"macr", 175},
    {"deg", 176},    {"plusmn", 177}, {"sup2", 178},   {"sup3", 179},   {"acute", 180},
    {"micro", 181},  {"para", 182},   {"middot", 183}, {"cedil", 184},  {"sup1", 185},
    {"ordm", 186},   {"raquo", 187},  {"frac14", 188}, {"frac12", 189}, {"frac34", 190},
    {"iquest", 191}, {"Agrave", 192}, {"Aacute", 193}, {"Acirc", 194},  {"Atilde", 195},
    {"Auml", 196},   {"Aring", 197},  {"AElig", 198},  {"Ccedil", 199}, {"Egrave", 200},
    {"Eacute", 201}, {"Ecirc", 202},  {"Euml", 203},   {"Igrave", 204}, {"Iacute", 205},
    {"Icirc", 206},  {"Iuml", 207},   {"ETH", 208},    {"Ntilde", 209}, {"Ograve", 210},
    {"Oacute", 211}, {"Ocirc", 212},  {"Otilde", 213}, {"Ouml", 214},   {"times", 215},
    {"Oslash", 216}, {"Ugrave", 217}, {"Uacute", 218}, {"Ucirc", 219},  {"Uuml", 220},
    {"Yacute", 221}, {"THORN", 222},  {"szlig", 223},  {"agrave", 224}, {"aacute", 225},
    {"acirc", 226},  {"atilde", 227}, {"auml", 228},   {"aring", 229},  {"aelig", 230},
    {"ccedil", 231}, {"egrave", 232}, {"eacute", 233}, {"ecirc", 234},  {"euml", 235},
    {"igrave", 236}, {"iacute", 237}, {"icirc", 238},  {"iuml", 239},   {"eth", 240},
    {"ntilde", 241}, {"ograve", 242}, {"oacute", 243}, {"ocirc", 244},  {"otilde", 245},
    {"ouml", 246},   {"divide", 247}, {"oslash", 248}, {"ugrave", 249}, {"uacute", 250},
    {"ucirc", 251},  {"uuml", 252},   {"yacute", 253}, {"thorn", 254},  {"yuml", 255},
}};

// CM_PREPROC_html_strip on s[0..n).
std::string html_strip(const unsigned char* s, std::size_t n) {
  std::string out_buf(n, '\0');
  char* w = out_buf.data();
  bool sgml = false, tag = false;
  unsigned char last = 0, quote = 0;
  std::size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i++];
    if (c == quote) {
      if (!(c == '-' && last != '-')) quote = 0;
    } else if (!quote) {
      switch (c) {
        case '<':
          tag = true;
          if (i < n && s[i] == '!') {
            sgml = true;
            ++i;
          } else if (i < n) {
            ++i;  // the char after '<' is swallowed, whatever it is
          }
          break;
        case '>':
          if (tag) sgml = tag = false;
          break;
        case '-':
          if (sgml && last == '-') {
            quote = '-';
          } else if (!tag) {
            *w++ = '-';
          }
          break;
        case '"':
        case '\'':
          if (tag) {
            quote = c;
          } else {
            *w++ = static_cast<char>(c);
          }
          break;
        case '&': {  // CM_PREPROC_html_tagxlat: even inside a tag
          unsigned char x = 0;
          if (i < n && c_isalpha(s[i])) {
            const std::size_t room = std::min<std::size_t>(n - i, 10);
            for (const Entity& e : kEntities) {
              if (e.name.size() > room) continue;
              if (std::memcmp(s + i, e.name.data(), e.name.size()) == 0) {
                x = e.chr;
                i += e.name.size();
                break;
              }
            }
          }
          if (x == 0) {
            x = '&';
          } else if (i < n && s[i] == ';') {
            ++i;
          }
          *w++ = static_cast<char>(x);
          break;
        }
        default:
          if (!tag) *w++ = static_cast<char>(c);
          break;
      }
    }
    last = c;
  }
  out_buf.resize(static_cast<std::size_t>(w - out_buf.data()));
  return out_buf;
}

// ---- Engine 8 helpers -------------------------------------------------------------------------

int hex_value(std::uint32_t c) {
  if (c >= '0' && c <= '9') return static_cast<int>(c - '0');
  if (c >= 'a' && c <= 'f') return static_cast<int>(c - 'a' + 10);
  if (c >= 'A' && c <= 'F') return static_cast<int>(c - 'A' + 10);
  return -1;
}

// Text for extract_hosts: bytes, or code points once a &#NNN; above 255 upgraded it (Perl
// then applies Unicode rules: \s also matches 0x85/0xA0, lc() folds Latin-1 too).
template <class Str>
struct HostText {
  using Char = typename Str::value_type;
  static std::uint32_t cp(Char c) {
    if constexpr (sizeof(Char) == 1) {
      return static_cast<unsigned char>(c);
    } else {
      return static_cast<std::uint32_t>(c);
    }
  }
  static constexpr bool kUni = sizeof(Char) == 4;
  static bool space(Char c) { return kUni ? is_space_uni(cp(c)) : is_space(cp(c)); }
  static bool lower_is(Char c, char lower) {
    std::uint32_t v = cp(c);
    if (v >= 'A' && v <= 'Z') v += 32;
    if (kUni && lower == 's' && v == 0x17F) return true;  // LATIN SMALL LETTER LONG S
    return v == static_cast<unsigned char>(lower);
  }
  template <class S>
  static bool istarts(const S& s, std::size_t pos, std::string_view lower) {
    if (pos > s.size() || s.size() - pos < lower.size()) return false;
    for (std::size_t i = 0; i < lower.size(); ++i) {
      if (!lower_is(s[pos + i], lower[i])) return false;
    }
    return true;
  }
  template <class S>
  static bool starts(const S& s, std::size_t pos, std::string_view lit) {
    if (pos > s.size() || s.size() - pos < lit.size()) return false;
    for (std::size_t i = 0; i < lit.size(); ++i) {
      if (cp(s[pos + i]) != static_cast<unsigned char>(lit[i])) return false;
    }
    return true;
  }
  template <class S>
  static std::size_t find(const S& s, std::string_view lit, std::size_t from) {
    for (std::size_t i = from; i + lit.size() <= s.size(); ++i) {
      if (starts(s, i, lit)) return i;
    }
    return npos;
  }

  // Next position at or after `from` holding `lower` or its uppercase (ASCII); memchr-driven
  // with both cases' next positions cached, so a whole scan stays linear.
  class NextCi {
   public:
    NextCi(const Str& s, char lower) : s_(s), lo_(lower) {}
    std::size_t from(std::size_t from) {
      if constexpr (sizeof(Char) == 1) {
        if (from >= s_.size()) return npos;
        if (a_ != npos && (a_ < from || a_ == kUnset)) a_ = find(lo_, from);
        if (b_ != npos && (b_ < from || b_ == kUnset)) b_ = find(static_cast<char>(lo_ - 32), from);
        return std::min(a_, b_);
      } else {
        for (std::size_t p = from; p < s_.size(); ++p) {
          if ((cp(s_[p]) | 0x20) == static_cast<unsigned char>(lo_)) return p;
        }
        return npos;
      }
    }

   private:
    static constexpr std::size_t kUnset = npos - 1;
    std::size_t find(char c, std::size_t from) const {
      // A byte search in a sized buffer, not a C string.
      // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
      const void* r = std::memchr(s_.data() + from, c, s_.size() - from);
      return r ? static_cast<std::size_t>(static_cast<const Char*>(r) - s_.data()) : npos;
    }
    const Str& s_;
    char lo_;
    std::size_t a_ = kUnset, b_ = kUnset;
  };

  // `https?://?` at pos (case-insensitive); returns the position after it.
  static std::size_t match_http(const Str& s, std::size_t pos) {
    if (!istarts(s, pos, "http")) return npos;
    std::size_t r = pos + 4;
    if (r < s.size() && lower_is(s[r], 's') && starts(s, r + 1, ":/")) {
      r += 3;
    } else if (starts(s, r, ":/")) {
      r += 2;
    } else {
      return npos;
    }
    if (r < s.size() && cp(s[r]) == '/') ++r;
    return r;
  }

  static Str lit(std::string_view a) { return Str(a.begin(), a.end()); }

  using View = std::basic_string_view<Char>;

  // Razor2::Signature::Whiplash::next_host.
  static Str next_host(View u) {
    bool inside = false;
    if (starts(u, 0, "a href")) {  // s|^a href\s*=\s*||
      inside = true;
      std::size_t p = 6;
      while (p < u.size() && space(u[p])) ++p;
      if (p < u.size() && cp(u[p]) == '=') {
        ++p;
        while (p < u.size() && space(u[p])) ++p;
        u.remove_prefix(p);
      }
    }
    if (istarts(u, 0, "http://")) u.remove_prefix(7);
    for (std::size_t i = 0; i < u.size(); ++i) {
      const std::uint32_t c = cp(u[i]);
      if (c == '>' || c == '"' || c == '/' || c == '?' || c == '<' ||
          (!inside && (c == '\n' || c == '\r'))) {
        u = u.substr(0, i);
        break;
      }
    }
    for (std::size_t i = 0; i < u.size(); ++i) {  // s/^[^@]*@//
      if (cp(u[i]) == '@') {
        u.remove_prefix(i + 1);
        break;
      }
    }
    // s/\S+=//: the first non-space run with a '=' after its first char, up to its last '='.
    View pre = u, post;
    for (std::size_t i = 0; i < u.size();) {
      if (space(u[i])) {
        ++i;
        continue;
      }
      std::size_t e = i;
      while (e < u.size() && !space(u[e])) ++e;
      std::size_t last_eq = npos;
      for (std::size_t k = i + 1; k < e; ++k) {
        if (cp(u[k]) == '=') last_eq = k;
      }
      if (last_eq != npos) {
        pre = u.substr(0, i);
        post = u.substr(last_eq + 1);
        break;
      }
      i = e;
    }
    Str host;  // s/[\r\n\s].*$//s, lc(), s/=//g
    bool stop = false;
    for (View part : {pre, post}) {
      for (std::size_t i = 0; i < part.size() && !stop; ++i) {
        const std::uint32_t c = cp(part[i]);
        if (space(part[i])) {
          stop = true;
          break;
        }
        std::uint32_t l = c;
        if (c >= 'A' && c <= 'Z') {
          l = c + 32;
        } else if (kUni && c >= 0xC0 && c <= 0xDE && c != 0xD7) {
          l = c + 32;
        } else if (kUni && c == 0x178) {
          l = 0xFF;
        }
        if (l == '=') continue;
        if (kUni && c == 0x130) {  // lc("\x{130}") is "i\x{307}"
          host.push_back(static_cast<Char>('i'));
          host.push_back(static_cast<Char>(0x307));
          continue;
        }
        host.push_back(static_cast<Char>(l));
      }
    }
    for (std::size_t i = 0; i < host.size(); ++i) {  // s/:.*$//
      if (cp(host[i]) == ':') {
        host.resize(i);
        break;
      }
    }
    if (!host.empty() && cp(host.back()) == '.') host.pop_back();  // s/\.$//
    return host;
  }

  static Str canonify(const Str& h) {
    for (std::string_view pat : detail::kWhiplashDomains) {
      if (pat.size() > h.size() || !starts(h, h.size() - pat.size(), pat)) continue;
      if (pat[0] != '.') return lit(pat);
      // /([^\.]+\Q$pattern\E)$/
      std::size_t end = h.size() - pat.size();
      std::size_t start = end;
      while (start > 0 && cp(h[start - 1]) != '.') --start;
      if (start < end) return Str(h.begin() + static_cast<std::ptrdiff_t>(start), h.end());
    }
    return h;
  }

  static bool digits_and_dots(const Str& h) {
    if (h.empty()) return false;
    for (Char c : h) {
      const std::uint32_t v = cp(c);
      if (!((v >= '0' && v <= '9') || v == '.')) return false;
    }
    return true;
  }

  static Result<std::vector<std::string>> extract(const Str& text) {
    std::vector<Str> hosts;
    // my @autolinks = $text =~ m|\s+(www.[^ /><"\r\n]+)|ig;  A match needs a whitespace char
    // at or after the resume position right before "www"; scanning for the 'w' is the same.
    const std::size_t n = text.size();
    std::size_t resume = 0;
    NextCi next_w(text, 'w');
    for (std::size_t e = next_w.from(1); e != npos && e + 4 < n; e = next_w.from(e + 1)) {
      if (e - 1 < resume || !space(text[e - 1]) || !istarts(text, e, "www") ||
          cp(text[e + 3]) == '\n') {
        continue;
      }
      std::size_t r = e + 4;
      while (r < n) {
        const std::uint32_t c = cp(text[r]);
        if (c == ' ' || c == '/' || c == '>' || c == '<' || c == '"' || c == '\r' || c == '\n') {
          break;
        }
        ++r;
      }
      if (r > e + 4) {
        hosts.emplace_back(text.begin() + static_cast<std::ptrdiff_t>(e),
                           text.begin() + static_cast<std::ptrdiff_t>(r));
        resume = r;
        e = r - 1;
      }
    }
    // m|^.*?href\s*=\s*"?https?://?(.*)$|si, else m|^.*?https?://?(.*)$|si : one scan
    // finds the first href URL and remembers the first bare URL for the fallback.
    Str t0;
    bool found = false;
    std::size_t first_http = npos, first_http_end = npos;
    NextCi next_h(text, 'h');
    for (std::size_t p = next_h.from(0); p != npos && p + 4 <= text.size() && !found;
         p = next_h.from(p + 1)) {
      if (first_http == npos) {
        const std::size_t r = match_http(text, p);
        if (r != npos) {
          first_http = p;
          first_http_end = r;
        }
      }
      if (!istarts(text, p, "href")) continue;
      std::size_t q = p + 4;
      while (q < text.size() && space(text[q])) ++q;
      if (q >= text.size() || cp(text[q]) != '=') continue;
      ++q;
      while (q < text.size() && space(text[q])) ++q;
      std::size_t r = npos;
      if (q < text.size() && cp(text[q]) == '"') r = match_http(text, q + 1);
      if (r == npos) r = match_http(text, q);
      if (r == npos) continue;
      t0 = lit("a href = http://");
      t0.append(text, r, npos);
      found = true;
    }
    if (!found && first_http != npos) {
      t0 = lit("http://");
      t0.append(text, first_http_end, npos);
      found = true;
    }
    if (!found) return std::vector<std::string>{};

    View t = t0;
    for (;;) {
      Str h = next_host(t);
      if (h.empty() || (h.size() == 1 && cp(h[0]) == '0')) break;
      Str c = digits_and_dots(h) ? h : canonify(h);
      bool dup = std::find(hosts.begin(), hosts.end(), c) != hosts.end();
      bool dot = false;
      for (Char ch : c) dot = dot || cp(ch) == '.';
      if (!dup && c.size() > 1 && dot) hosts.push_back(std::move(c));
      // last unless $text =~ m"http://(.*)$"; $text = $1;
      std::size_t limit = t.size();
      if (limit > 0 && cp(t[limit - 1]) == '\n') --limit;
      std::size_t from = 0;
      for (std::size_t k = limit; k-- > 0;) {
        if (cp(t[k]) == '\n') {
          from = k + 1;
          break;
        }
      }
      std::size_t q = find(t, "http://", from);
      if (q == npos || q + 7 > limit) break;
      t = t.substr(q + 7, limit - (q + 7));
    }
    std::vector<std::string> out;
    out.reserve(hosts.size());
    for (const Str& h : hosts) {
      std::string b;
      b.reserve(h.size());
      for (Char ch : h) {
        const std::uint32_t v = cp(ch);
        if (v > 255) {
          return Error{Errc::kMalformed,
                       "razor-e8: wide character in a host (razor-agents dies here)"};
        }
        b.push_back(static_cast<char>(v));
      }
      out.push_back(std::move(b));
    }
    return out;
  }
};

// ---- Engine 4 helpers -------------------------------------------------------------------------

// Perl numification of a string, as chr() sees it (leading whitespace, sign, digits,
// fraction, exponent; garbage after a number is ignored, no number is 0).
std::optional<double> perl_numify(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_space(static_cast<unsigned char>(s[i]))) ++i;
  std::string num;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) num.push_back(s[i++]);
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    num.push_back(s[i++]);
    ++digits;
  }
  if (i < s.size() && s[i] == '.') {
    num.push_back(s[i++]);
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      num.push_back(s[i++]);
      ++digits;
    }
  }
  if (digits == 0) {
    // "Inf"/"NaN" would make chr() die; anything else is 0.
    std::string rest;
    for (std::size_t k = i; k < s.size() && k < i + 3; ++k) rest.push_back(ascii_lower(s[k]));
    if (rest == "inf" || rest == "nan") return std::nullopt;
    return 0.0;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    std::size_t j = i + 1;
    std::string exp = "e";
    if (j < s.size() && (s[j] == '+' || s[j] == '-')) exp.push_back(s[j++]);
    std::size_t ed = 0;
    while (j < s.size() && s[j] >= '0' && s[j] <= '9') {
      exp.push_back(s[j++]);
      ++ed;
    }
    if (ed > 0) num += exp;
  }
  return std::strtod(num.c_str(), nullptr);
}

// srand()'s argument: grok_number() must see an unsigned integer (an optional fraction is
// truncated); anything else is "Integer overflow in srand" and UV_MAX. Then (U32).
std::uint32_t perl_srand_seed(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_space(static_cast<unsigned char>(s[i]))) ++i;
  if (i < s.size() && s[i] == '+') ++i;
  std::uint64_t v = 0;
  bool overflow = false;
  std::size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    const std::uint64_t d = static_cast<std::uint64_t>(s[i] - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) overflow = true;
    v = v * 10 + d;
    ++i;
    ++digits;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
      ++digits;
    }
  }
  while (i < s.size() && is_space(static_cast<unsigned char>(s[i]))) ++i;
  if (digits == 0 || i != s.size() || overflow) v = std::numeric_limits<std::uint64_t>::max();
  return static_cast<std::uint32_t>(v);
}

// Perl split /$sep/, $text with a literal separator: trailing empty fields dropped.
std::vector<std::string_view> perl_split(std::string_view text, const Ep4& ep4) {
  std::vector<std::string_view> out;
  if (text.empty()) return out;
  if (!ep4.separator_matches || ep4.separator.empty()) {
    out.push_back(text);
    return out;
  }
  const std::string& sep = ep4.separator;
  std::size_t field = 0;
  for (std::size_t i = text.find(sep); i != npos; i = text.find(sep, field)) {
    out.push_back(text.substr(field, i - field));
    field = i + sep.size();
  }
  out.push_back(text.substr(field));
  while (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

// Perl substr($s, $off, $len) for 0 <= off; a negative len leaves that many chars off.
std::string_view perl_substr(std::string_view s, long long off, long long len) {
  const long long n = static_cast<long long>(s.size());
  if (off > n) return {};
  long long end = len >= 0 ? std::min(n, off + len) : n + len;
  if (end <= off) return {};
  return s.substr(static_cast<std::size_t>(off), static_cast<std::size_t>(end - off));
}

std::string picksection(const std::vector<std::string_view>& lines, long long sline,
                        long long eline, long long soffset, long long eoffset) {
  auto line = [&](long long i) -> std::optional<std::string_view> {
    if (i < 0 || i >= static_cast<long long>(lines.size())) return std::nullopt;
    return lines[static_cast<std::size_t>(i)];
  };
  auto truthy = [&](long long i) {
    std::optional<std::string_view> l = line(i);
    return l && perl_true(*l);
  };
  long long x = 0, sc = 0, sl = 0, ec = 0, el = 0;
  for (long long i = sline; i <= eline; ++i) {
    if (!truthy(i)) continue;
    const long long len = static_cast<long long>(line(i)->size());
    x += len;
    if (x > soffset && sc == 0) {
      sc = len - (x - soffset);
      sl = i;
    }
    if (x > eoffset) {
      ec = len - (x - eoffset);
      el = i;
    }
    if (ec != 0) break;
  }
  if (sc < 0) sc = 0;
  if (ec < 0) ec = 0;
  std::string section;
  if (sl == el) {
    if (truthy(sl)) section.append(perl_substr(*line(sl), sc, ec - sc + 1));
    return section;
  }
  if (auto l = line(sl)) section.append(perl_substr(*l, sc, static_cast<long long>(l->size())));
  for (long long i = sl + 1; i <= el - 1; ++i) {
    if (auto l = line(i)) section.append(*l);
  }
  if (auto l = line(el)) section.append(perl_substr(*l, 0, ec));
  return section;
}

bool all_space_nonempty(std::string_view s) {  // /^\s+$/
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_space(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// /^(Content\S*:.*\n\r?)+(Content\S*:.*)?\s*$/s  (only asked for texts under 128 bytes)
bool only_content_lines(std::string_view s) {
  const std::size_t n = s.size();
  // "Content\S*:" at p: the first ':' of the non-space run after "Content", or npos.
  auto content_colon = [&](std::size_t p) -> std::size_t {
    if (p + 7 > n || s.compare(p, 7, "Content") != 0) return npos;
    for (std::size_t k = p + 7; k < n && !is_space(static_cast<unsigned char>(s[k])); ++k) {
      if (s[k] == ':') return k;
    }
    return npos;
  };
  auto tail_space = [&](std::size_t p) {
    for (std::size_t k = p; k < n; ++k) {
      if (!is_space(static_cast<unsigned char>(s[k]))) return false;
    }
    return true;
  };
  // Positions reachable after one or more (Content\S*:.*\n\r?); `.*` crosses lines (/s).
  std::vector<char> seen(n + 1, 0);
  std::vector<std::size_t> work;
  auto push_ends = [&](std::size_t p) {
    const std::size_t c0 = content_colon(p);
    if (c0 == npos) return;
    for (std::size_t e = s.find('\n', c0 + 1); e != npos; e = s.find('\n', e + 1)) {
      const std::size_t ends[2] = {e + 1, (e + 1 < n && s[e + 1] == '\r') ? e + 2 : npos};
      for (std::size_t end : ends) {
        if (end == npos || seen[end]) continue;
        seen[end] = 1;
        work.push_back(end);
      }
    }
  };
  push_ends(0);
  while (!work.empty()) {
    const std::size_t q = work.back();
    work.pop_back();
    // (Content\S*:.*)? then \s*$ : either the rest is whitespace or another Content line
    // swallows it.
    if (tail_space(q) || content_colon(q) != npos) return true;
    push_ends(q);
  }
  return false;
}

}  // namespace

// ---- Public API ----------------------------------------------------------------------------

Result<std::vector<std::string>> split_mails(std::string_view raw, const Limits& limits) {
  if (raw.size() > limits.max_input_bytes) {
    return Error{Errc::kLimitExceeded, "razor: input larger than max_input_bytes"};
  }
  std::vector<std::string> mails;
  if (raw.empty() || raw == "0") return mails;  // next unless $line;
  auto line_end = [&](std::size_t p) {
    std::size_t nl = raw.find('\n', p);
    return nl == npos ? raw.size() : nl + 1;
  };
  if (raw.substr(0, 5) == "From ") {
    std::size_t start = 0;
    auto next_from_line = [&](std::size_t from) -> std::size_t {  // "\nFrom " at or after from
      for (std::size_t p = from; p < raw.size(); ++p) {
        const void* nl = std::memchr(raw.data() + p, '\n', raw.size() - p);
        if (nl == nullptr) return npos;
        p = static_cast<std::size_t>(static_cast<const char*>(nl) - raw.data());
        if (p + 5 < raw.size() && raw[p + 1] == 'F' && raw.compare(p + 1, 5, "From ") == 0) {
          return p;
        }
      }
      return npos;
    };
    for (std::size_t p = next_from_line(0); p != npos; p = next_from_line(p + 1)) {
      if (mails.size() + 1 >= limits.max_mails) {
        return Error{Errc::kLimitExceeded, "razor: more mails than max_mails"};
      }
      mails.emplace_back(raw.substr(start, p + 1 - start));
      start = p + 1;
    }
    mails.emplace_back(raw.substr(start));
    return mails;
  }
  std::string mail;
  mail.reserve(raw.size() + 16);
  for (std::size_t p = 0; p < raw.size();) {
    std::size_t e = line_end(p);
    std::size_t k = p;
    while (k < e && raw[k] == '>') ++k;
    if (raw.compare(k, 5, "From ") == 0 && k + 5 <= e) mail.push_back('>');  // s/^(>*From )/>$1/
    mail.append(raw.substr(p, e - p));
    p = e;
  }
  mails.push_back(std::move(mail));
  return mails;
}

Result<std::vector<std::string>> split_mime(std::string_view mail, const Limits& limits) {
  std::vector<std::string> parts;
  Result<void> r = split_mime_rec(mail, false, 0, limits, &parts);
  if (!r) return r.error();
  return parts;
}

std::optional<std::string> prep_part(std::string_view part) {
  Split1 s = split1(part);
  if (!s.body || !perl_true(*s.body)) return std::nullopt;
  auto crlf = [](std::string_view in) {  // s/\r+\n/\n/sg
    if (in.find('\r') == npos) return std::string(in);
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size();) {
      if (in[i] == '\r') {
        std::size_t j = i;
        while (j < in.size() && in[j] == '\r') ++j;
        if (j < in.size() && in[j] == '\n') {
          out.push_back('\n');
          i = j + 1;
          continue;
        }
        out.append(in.substr(i, j - i));
        i = j;
        continue;
      }
      out.push_back(in[i++]);
    }
    return out;
  };
  std::string hdr(s.hdr);
  hdr.push_back('\n');
  std::string body = crlf(*s.body);
  hdr = crlf(hdr);
  if (body.size() > kMaxPartBody) {
    const std::size_t len = body.size();
    body.resize(kMaxPartBody);
    hdr = "X-Razor2-Origlen-Body: " + std::to_string(len) + "\n" + hdr;
  }
  if (hdr.size() > kMaxPartHeader) {
    const std::size_t len = hdr.size();
    hdr = "X-Razor2-Origlen-Header: " + std::to_string(len) + "\n" + hdr;
    if (hdr.size() > kMaxPartHeader) {
      hdr.resize(kMaxPartHeader);
      drop_last_partial_line(hdr);
    }
  }
  hdr.push_back('\n');
  hdr.append(body);
  return hdr;
}

Result<PreparedMail> prep_mail(std::string_view mail, const Limits& limits) {
  if (mail.size() > limits.max_input_bytes) {
    return Error{Errc::kLimitExceeded, "razor: mail larger than max_input_bytes"};
  }
  PreparedMail pm;
  pm.headers = std::string(split1(mail).hdr);
  pm.headers.push_back('\n');
  Result<std::vector<std::string>> parts = split_mime(mail, limits);
  if (!parts) return parts.error();
  for (const std::string& p : *parts) {
    if (std::optional<std::string> pp = prep_part(p)) pm.parts.push_back(std::move(*pp));
  }
  if (pm.headers.size() > kMaxOrigHeaders) {
    std::string h = "X-Razor2-Origlen-Header: " + std::to_string(pm.headers.size()) + "\n";
    h.append(pm.headers);
    if (h.size() > kMaxOrigHeaders) {
      h.resize(kMaxOrigHeaders);
      drop_last_partial_line(h);
    }
    pm.headers = std::move(h);
  }
  // $$headers =~ s/\r\n/\n/gs;
  if (pm.headers.find('\r') != npos) {
    std::string h(pm.headers.size(), '\0');
    char* w = h.data();
    for (std::size_t i = 0; i < pm.headers.size(); ++i) {
      if (pm.headers[i] == '\r' && i + 1 < pm.headers.size() && pm.headers[i + 1] == '\n') continue;
      *w++ = pm.headers[i];
    }
    h.resize(static_cast<std::size_t>(w - h.data()));
    pm.headers = std::move(h);
  }
  return pm;
}

bool de_base64(std::string& text) {
  if (!de_base64_isit(text)) return false;
  std::string_view t = text;
  std::string_view hdr = split1(t).hdr;
  std::size_t at = ifind(t, "content-transfer-encoding: base64");
  std::string_view rhs = t.substr(at + 33);
  // $rhs =~ /\r?\n\r?\n([^=]*)/s; return $1 . "==";  (a failed match leaves $1 = $rhs)
  std::string_view data = rhs;
  for (std::size_t i = 0; i < rhs.size(); ++i) {
    std::size_t j = i;
    if (rhs[j] == '\r') ++j;
    if (j >= rhs.size() || rhs[j] != '\n') continue;
    ++j;
    if (j < rhs.size() && rhs[j] == '\r' && j + 1 < rhs.size() && rhs[j + 1] == '\n') {
      j += 2;
    } else if (j < rhs.size() && rhs[j] == '\n') {
      j += 1;
    } else {
      continue;
    }
    std::size_t eq = rhs.find('=', j);
    data = rhs.substr(j, eq == npos ? npos : eq - j);
    break;
  }
  // tr|A-Za-z0-9+=/||cd; s/=+$//; tr|A-Za-z0-9+/| -_|;  ('=' stays '=': uu value 29)
  std::string uu;
  uu.reserve(data.size() + 2);
  for (char c : data) {
    if (base64_value(static_cast<unsigned char>(c)) >= 0 || c == '=') uu.push_back(c);
  }
  while (!uu.empty() && uu.back() == '=') uu.pop_back();  // before the translation
  for (char& c : uu) {
    const int v = base64_value(static_cast<unsigned char>(c));
    if (v >= 0) c = static_cast<char>(0x20 + v);  // '=' stays '=' (uu value 29)
  }
  std::string decoded;
  decoded.reserve(uu.size() * 3 / 4 + 4);
  unsigned char line[61];
  for (std::size_t p = 0; p < uu.size(); p += 60) {
    const std::size_t c = std::min<std::size_t>(60, uu.size() - p);
    line[0] = static_cast<unsigned char>(32 + c * 3 / 4);
    // Bytes with their length passed on, not a C string.
    // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
    std::memcpy(line + 1, uu.data() + p, c);
    perl_unpack_u(line, c + 1, &decoded);
  }
  std::string out(hdr);
  out.append("\n\n");
  out.append(decoded);
  text = std::move(out);
  return true;
}

bool de_qp(std::string& text) {
  Split1 s = split1(text);
  bool isit = false;
  static constexpr std::string_view kCte = "content-transfer-encoding: quoted-printable";
  for (std::size_t p = 0; p != npos && p < s.hdr.size();) {
    if (istarts_with(s.hdr, p, kCte)) {
      isit = true;
      break;
    }
    p = s.hdr.find('\n', p);
    if (p != npos) ++p;
  }
  if (!isit) return false;
  std::string_view body = s.body.value_or(std::string_view{});
  std::string soft(body.size(), '\0');  // s/=\r?\n//g
  char* w = soft.data();
  for (std::size_t i = 0; i < body.size();) {
    if (body[i] == '=') {
      if (i + 1 < body.size() && body[i + 1] == '\n') {
        i += 2;
        continue;
      }
      if (i + 2 < body.size() && body[i + 1] == '\r' && body[i + 2] == '\n') {
        i += 3;
        continue;
      }
    }
    *w++ = body[i++];
  }
  soft.resize(static_cast<std::size_t>(w - soft.data()));
  std::string out(s.hdr.size() + 2 + soft.size(), '\0');
  std::memcpy(out.data(), s.hdr.data(), s.hdr.size());
  w = out.data() + s.hdr.size();
  *w++ = '\n';
  *w++ = '\n';
  for (std::size_t i = 0; i < soft.size();) {  // s/=([\da-fA-F]{2})/pack("C", hex($1))/ge
    if (soft[i] == '=' && i + 2 < soft.size() &&
        hex_value(static_cast<unsigned char>(soft[i + 1])) >= 0 &&
        hex_value(static_cast<unsigned char>(soft[i + 2])) >= 0) {
      *w++ = static_cast<char>(hex_value(static_cast<unsigned char>(soft[i + 1])) * 16 +
                               hex_value(static_cast<unsigned char>(soft[i + 2])));
      i += 3;
      continue;
    }
    *w++ = soft[i++];
  }
  out.resize(static_cast<std::size_t>(w - out.data()));
  text = std::move(out);
  return true;
}

bool de_html(std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t nul = text.find('\0');
  if (!is_html(s, nul == npos ? text.size() : nul)) return false;
  // doit: *(raw + size - 1) = '\0'; then strip up to the first NUL.
  text.back() = '\0';
  if (text[0] == '\0') return true;  // html_strip() returns NULL; the text keeps its NUL
  const std::size_t n = text.find('\0');
  text = html_strip(s, n);
  return true;
}

void de_newline(std::string& text) {
  Split1 s = split1(text);
  if (!s.body || !perl_true(*s.body)) return;
  std::string_view body = *s.body;
  std::size_t keep = body.size();
  while (keep > 0 && body[keep - 1] == '\n') --keep;
  if (keep == body.size()) return;
  std::string out(s.hdr);
  out.append("\n\n");
  out.append(body.substr(0, keep));
  text = std::move(out);
}

namespace {
// deNewline, then the body: splitting hdr + "\n\n" + body again gives back (hdr, body), so
// deNewline's rebuild can be skipped.
std::optional<std::string> newline_body(std::string_view text) {
  Split1 s = split1(text);
  if (!s.body) return std::nullopt;
  std::string_view b = *s.body;
  if (perl_true(b)) {
    while (!b.empty() && b.back() == '\n') b.remove_suffix(1);
  }
  return std::string(b);
}

// Both pipelines share deBase64 and deQP.
void clean_both(std::string_view part, std::optional<std::string>* vr4,
                std::optional<std::string>* vr8) {
  std::string text(part);
  de_base64(text);
  de_qp(text);
  if (vr8 != nullptr) *vr8 = newline_body(text);
  if (vr4 != nullptr) {
    de_html(text);
    *vr4 = newline_body(text);
  }
}
}  // namespace

std::optional<std::string> clean_vr4(std::string_view part) {
  std::optional<std::string> out;
  clean_both(part, &out, nullptr);
  return out;
}
std::optional<std::string> clean_vr8(std::string_view part) {
  std::optional<std::string> out;
  clean_both(part, nullptr, &out);
  return out;
}

bool skip_part(const std::optional<std::string>& cleaned_vr8) {
  if (!cleaned_vr8 || cleaned_vr8->empty()) return true;
  const std::string& c = *cleaned_vr8;
  if (c.size() < 128 && only_content_lines(c)) return true;
  return !has_non_space(c);
}

std::string hextobase64(std::string_view hex) {
  static constexpr char kAlpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // pack "h3": hex digits low nybble first; letters use ((c & 15) + 9) & 15, others c & 15.
  auto nyb = [](char c) -> unsigned {
    const auto u = static_cast<unsigned char>(c);
    if (c_isalpha(u)) return ((u & 15u) + 9u) & 15u;
    return u & 15u;
  };
  auto rev = [](unsigned x) {
    return ((x & 1u) << 3) | ((x & 2u) << 1) | ((x & 4u) >> 1) | ((x & 8u) >> 3);
  };
  std::string out;
  out.reserve((hex.size() + 2) / 3 * 2);
  for (std::size_t i = 0; i < hex.size(); i += 3) {
    unsigned n[3] = {0, 0, 0};
    for (std::size_t k = 0; k < 3 && i + k < hex.size(); ++k) n[k] = nyb(hex[i + k]);
    const unsigned v = (rev(n[0]) << 8) | (rev(n[1]) << 4) | rev(n[2]);
    out.push_back(kAlpha[v >> 6]);
    out.push_back(kAlpha[v & 63]);
  }
  return out;
}

Result<Ep4> parse_ep4(std::string_view ep4) {
  // my ($seed, $separator) = split /-/, $ep4, 2;  ... unless ($seed && $separator)
  std::size_t dash = ep4.find('-');
  std::string_view seed = ep4.substr(0, dash);
  std::string_view sep = dash == npos ? std::string_view{} : ep4.substr(dash + 1);
  if (dash == 0) seed = {};
  if (!perl_true(seed) || !perl_true(sep)) {
    return Error{Errc::kInvalidArgument, "razor: bad ep4 (razor-agents rejects it)"};
  }
  Ep4 out;
  out.seed = perl_srand_seed(seed);
  // encode_separator: split /-/ (trailing empty fields dropped), chr() of each piece.
  std::vector<std::string_view> pieces;
  for (std::size_t p = 0;;) {
    std::size_t d = sep.find('-', p);
    pieces.push_back(sep.substr(p, d == npos ? npos : d - p));
    if (d == npos) break;
    p = d + 1;
  }
  while (!pieces.empty() && pieces.back().empty()) pieces.pop_back();
  if (pieces.empty()) pieces.push_back(sep);
  std::string s;
  for (std::string_view piece : pieces) {
    std::optional<double> v = perl_numify(piece);
    if (!v) return Error{Errc::kInvalidArgument, "razor: ep4 separator is not a number"};
    const double d = std::trunc(*v);
    if (d < 0 || d > 255) {
      out.separator_matches = false;  // a wide char (or U+FFFD): never matches bytes
      s.push_back('\0');
      continue;
    }
    const char c = static_cast<char>(static_cast<unsigned char>(d));
    if (c != '\0' && std::strchr("\\^$.|?*+()[{", c) != nullptr) {
      return Error{Errc::kInvalidArgument,
                   "razor: ep4 separator is a regex metacharacter (unsupported)"};
    }
    s.push_back(c);
  }
  if (s == "0") s = "\n";  // encode_separator(...) || encode_separator("10")
  out.separator = std::move(s);
  return out;
}

std::string e4_digest_hex(const std::optional<std::string>& cleaned, const Ep4& ep4) {
  const std::string_view content = cleaned ? std::string_view(*cleaned) : std::string_view{};
  Drand48 rnd(ep4.seed);
  const std::vector<std::string_view> lines = perl_split(content, ep4);
  const double n = static_cast<double>(lines.size());
  const double ssize = 100.0 / 6.0;
  long long lineno[6];
  for (int k = 0; k < 6; ++k) {
    const double rel = ssize * rnd.next() + static_cast<double>(k) * ssize;
    lineno[k] = static_cast<long long>((rel * n) / 100.0);
  }
  double rel_off1[2], rel_off2[2];
  for (int k = 0; k < 2; ++k) rel_off1[k] = 50.0 * rnd.next() + k * 50;
  for (int k = 0; k < 2; ++k) rel_off2[k] = 50.0 * rnd.next() + k * 50;
  auto section_len = [&](long long a, long long b) {
    long long total = 0;
    for (long long i = a; i <= b; ++i) {
      if (i >= 0 && i < static_cast<long long>(lines.size()) &&
          perl_true(lines[static_cast<std::size_t>(i)])) {
        total += static_cast<long long>(lines[static_cast<std::size_t>(i)].size());
      }
    }
    return total;
  };
  const long long l1 = section_len(lineno[1], lineno[2]);
  const long long l2 = section_len(lineno[3], lineno[4]);
  auto off = [](double rel, long long len) {
    return static_cast<long long>((rel * static_cast<double>(len)) / 100.0);
  };
  std::string s1 =
      picksection(lines, lineno[1], lineno[2], off(rel_off1[0], l1), off(rel_off1[1], l1));
  std::string s2 =
      picksection(lines, lineno[3], lineno[4], off(rel_off2[0], l2), off(rel_off2[1], l2));
  const std::size_t seclength = s1.size() + s2.size();
  if (all_space_nonempty(s1) && all_space_nonempty(s2)) {
    s1.clear();
    s2.clear();
  }
  if (seclength > 128) {
    s1.append(s2);
    return sha1_hex(s1);
  }
  return sha1_hex(content);
}

std::string e4_signature(const std::optional<std::string>& cleaned, const Ep4& ep4) {
  return hextobase64(e4_digest_hex(cleaned, ep4));
}

Result<std::vector<std::string>> extract_hosts(std::string_view text) {
  // $text =~ s/%([0-9A-Fa-f]{2})/chr(hex($1))/eg;
  std::string t1;
  if (text.find('%') == npos) {
    t1.assign(text);
  } else {
    t1.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
      if (text[i] == '%' && i + 2 < text.size() &&
          hex_value(static_cast<unsigned char>(text[i + 1])) >= 0 &&
          hex_value(static_cast<unsigned char>(text[i + 2])) >= 0) {
        t1.push_back(static_cast<char>(hex_value(static_cast<unsigned char>(text[i + 1])) * 16 +
                                       hex_value(static_cast<unsigned char>(text[i + 2]))));
        i += 3;
        continue;
      }
      t1.push_back(text[i++]);
    }
  }
  // $text =~ s/\&\#([0-9]{2,3})\;/chr($1)/eg;  values above 255 upgrade the string (Perl then
  // applies Unicode rules). ({2,3} giving back a digit cannot help: the next char is a digit.)
  if (t1.find("&#") == npos) return HostText<std::string>::extract(t1);
  std::string b;
  std::u32string u;
  bool wide = false;
  b.reserve(t1.size());
  auto put = [&](std::uint32_t c) {
    if (!wide && c > 255) {
      wide = true;
      u.assign(b.begin(), b.end());
      for (char32_t& x : u) x = static_cast<unsigned char>(x);
    }
    if (wide) {
      u.push_back(c);
    } else {
      b.push_back(static_cast<char>(c));
    }
  };
  for (std::size_t i = 0; i < t1.size();) {
    if (t1[i] == '&' && i + 1 < t1.size() && t1[i + 1] == '#') {
      std::size_t j = i + 2;
      unsigned v = 0;
      while (j < t1.size() && j < i + 5 && t1[j] >= '0' && t1[j] <= '9') {
        v = v * 10 + static_cast<unsigned>(t1[j] - '0');
        ++j;
      }
      if (j - (i + 2) >= 2 && j < t1.size() && t1[j] == ';') {
        put(v);
        i = j + 1;
        continue;
      }
    }
    put(static_cast<unsigned char>(t1[i++]));
  }
  if (wide) return HostText<std::u32string>::extract(u);
  return HostText<std::string>::extract(b);
}

std::string canonify(std::string_view host) {
  return HostText<std::string>::canonify(std::string(host));
}

std::size_t whiplash_domain_count() { return detail::kWhiplashDomains.size(); }

Result<std::vector<std::string>> e8_signatures(const std::optional<std::string>& cleaned_vr8) {
  std::vector<std::string> sigs;
  if (!cleaned_vr8 || !perl_true(*cleaned_vr8)) return sigs;  // return unless $text;
  Result<std::vector<std::string>> hosts = extract_hosts(*cleaned_vr8);
  if (!hosts) return hosts.error();
  if (hosts->empty()) return sigs;
  const std::size_t len = cleaned_vr8->size();
  const std::string len_hash = sha1_hex(std::to_string(len - len % 100)).substr(0, 4);
  sigs.reserve(hosts->size());
  for (const std::string& h : *hosts) {
    sigs.push_back(hextobase64(sha1_hex(h).substr(0, 12) + len_hash));
  }
  return sigs;
}

Result<SignedPart> sign_part(std::string body, const Ep4& ep4) {
  SignedPart sp;
  sp.body = std::move(body);
  clean_both(sp.body, &sp.cleaned, &sp.cleaned_vr8);
  sp.skipme = skip_part(sp.cleaned_vr8);
  if (sp.skipme) return sp;
  sp.e4 = e4_signature(sp.cleaned, ep4);
  Result<std::vector<std::string>> e8 = e8_signatures(sp.cleaned_vr8);
  if (!e8) return e8.error();
  sp.e8 = std::move(*e8);
  return sp;
}

Result<SignedMail> sign_mail(std::string_view mail, const Ep4& ep4, const Limits& limits) {
  Result<PreparedMail> pm = prep_mail(mail, limits);
  if (!pm) return pm.error();
  SignedMail sm;
  sm.headers = std::move(pm->headers);
  sm.parts.reserve(pm->parts.size());
  for (std::string& p : pm->parts) {
    Result<SignedPart> sp = sign_part(std::move(p), ep4);
    if (!sp) return sp.error();
    sm.parts.push_back(std::move(*sp));
  }
  return sm;
}

Result<std::vector<SignedMail>> sign_file(std::string_view raw, const Ep4& ep4,
                                          const Limits& limits) {
  Result<std::vector<std::string>> mails = split_mails(raw, limits);
  if (!mails) return mails.error();
  std::vector<SignedMail> out;
  out.reserve(mails->size());
  for (const std::string& m : *mails) {
    Result<SignedMail> sm = sign_mail(m, ep4, limits);
    if (!sm) return sm.error();
    out.push_back(std::move(*sm));
  }
  return out;
}

}  // namespace strop::sigs::razor
