// pyzor_html.cpp: html.unescape() and the html.parser.HTMLParser (Python 3.11.2) state
// machine as pyzor's HTMLStripper drives it: feed() once, never close(), keep the stripped
// text of handle_data() outside <script>/<style>. Each regex of html/parser.py and
// _markupbase.py is hand-compiled below with its backtracking behaviour; the comments quote
// the regex.
#include <algorithm>
#include <vector>

#include "pyzor_internal.hpp"
#include "pyzor_tables.hpp"
#include "sigs/pyzor.hpp"

namespace strop::sigs::pyzor {
namespace {

using detail::py_isspace;
constexpr std::size_t npos = std::u32string_view::npos;

bool ascii_alpha(char32_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool ascii_digit(char32_t c) { return c >= '0' && c <= '9'; }
bool ascii_hex(char32_t c) {
  return ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
char32_t ascii_lower(char32_t c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

struct Crash {};  // Python raised: pyzor dies on the message

// ---- html.unescape --------------------------------------------------------------------------

const detail::Html5Entity* find_entity(std::u32string_view name) {
  for (char32_t c : name) {
    if (c >= 0x80) return nullptr;  // every html5 name is ASCII
  }
  std::string key(name.begin(), name.end());
  const detail::Html5Entity* b = detail::kHtml5Entities;
  const detail::Html5Entity* e = b + detail::kHtml5EntityCount;
  const detail::Html5Entity* it = std::lower_bound(
      b, e, key, [](const detail::Html5Entity& x, const std::string& k) { return x.name < k; });
  if (it != e && it->name == key) return it;
  return nullptr;
}

void append_entity(const detail::Html5Entity* ent, std::u32string* out) {
  out->push_back(ent->first);
  if (ent->second != 0) out->push_back(ent->second);
}

// _replace_charref for a numeric reference; `digits` excludes '#', 'x' and ';'.
void numeric_charref(std::u32string_view digits, bool hex, std::u32string* out) {
  if (!hex && digits.size() > 4300) throw Crash{};  // int(): "Exceeds the limit (4300 digits)"
  std::uint64_t num = 0;
  bool big = false;
  for (char32_t c : digits) {
    const unsigned d = ascii_digit(c) ? c - '0' : (ascii_lower(c) - 'a' + 10);
    num = num * (hex ? 16 : 10) + d;
    if (num > 0x10FFFF) big = true;
    if (big) num = 0x110000;
  }
  const char32_t v = static_cast<char32_t>(num);
  const detail::InvalidCharref* b = detail::kInvalidCharrefs;
  const detail::InvalidCharref* e = b + detail::kInvalidCharrefCount;
  const detail::InvalidCharref* it = std::lower_bound(
      b, e, v, [](const detail::InvalidCharref& x, char32_t k) { return x.num < k; });
  if (!big && it != e && it->num == v) {
    out->push_back(it->replacement);
    return;
  }
  if (big || (v >= 0xD800 && v <= 0xDFFF)) {
    out->push_back(0xFFFD);
    return;
  }
  if (std::binary_search(detail::kInvalidCodepoints,
                         detail::kInvalidCodepoints + detail::kInvalidCodepointCount, v)) {
    return;
  }
  out->push_back(v);
}

// html.unescape(s); throws Crash where Python raises.
std::u32string unescape(std::u32string_view s) {
  if (s.find(U'&') == npos) return std::u32string(s);
  std::u32string out;
  out.reserve(s.size());
  const std::size_t n = s.size();
  // _charref = &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
  for (std::size_t i = 0; i < n;) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    std::size_t j = i + 1;
    if (j < n && s[j] == '#') {
      std::size_t k = j + 1;
      while (k < n && ascii_digit(s[k])) ++k;
      if (k > j + 1) {
        numeric_charref(s.substr(j + 1, k - j - 1), false, &out);
        i = (k < n && s[k] == ';') ? k + 1 : k;
        continue;
      }
      if (j + 1 < n && (s[j + 1] == 'x' || s[j + 1] == 'X')) {
        k = j + 2;
        while (k < n && ascii_hex(s[k])) ++k;
        if (k > j + 2) {
          numeric_charref(s.substr(j + 2, k - j - 2), true, &out);
          i = (k < n && s[k] == ';') ? k + 1 : k;
          continue;
        }
      }
      out.push_back(s[i++]);  // no match at this '&'
      continue;
    }
    std::size_t k = j;
    while (k < n && k < j + 32) {
      const char32_t c = s[k];
      if (c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' ||
          c == ';') {
        break;
      }
      ++k;
    }
    if (k == j) {
      out.push_back(s[i++]);
      continue;
    }
    if (k < n && s[k] == ';') ++k;
    const std::u32string_view name = s.substr(j, k - j);
    i = k;
    if (const detail::Html5Entity* ent = find_entity(name)) {
      append_entity(ent, &out);
      continue;
    }
    bool done = false;
    for (std::size_t x = name.size() - 1; x > 1; --x) {  // longest legacy prefix
      if (const detail::Html5Entity* ent = find_entity(name.substr(0, x))) {
        append_entity(ent, &out);
        out.append(name.substr(x));
        done = true;
        break;
      }
    }
    if (!done) {
      out.push_back('&');
      out.append(name);
    }
  }
  return out;
}

// ---- HTMLParser -----------------------------------------------------------------------------

class Stripper {
 public:
  explicit Stripper(std::u32string_view s) : s_(s), n_(s.size()) {}

  std::u32string run() {
    out_.reserve(n_);
    goahead();
    return std::move(out_);
  }

 private:
  bool sp(std::size_t p) const { return p < n_ && py_isspace(s_[p]); }
  bool at(std::size_t p, char32_t c) const { return p < n_ && s_[p] == c; }
  bool starts(std::size_t p, std::u32string_view lit) const {
    return p <= n_ && s_.substr(p, lit.size()) == lit;
  }
  std::size_t find(char32_t c, std::size_t from) const {
    return from >= n_ ? npos : s_.find(c, from);
  }

  // The next quote char at or after `from`. Cached per quote char so that a document full
  // of unterminated quotes stays linear (every later search from inside a searched range
  // has the same answer).
  std::size_t find_quote(char32_t q, std::size_t from) const {
    QuoteCache& c = q == '"' ? dq_ : sq_;
    if (!c.valid || from < c.from || (c.at != npos && from > c.at)) {
      c.from = from;
      c.at = find(q, from);
      c.valid = true;
    }
    return c.at;
  }
  struct QuoteCache {
    bool valid = false;
    std::size_t from = 0, at = 0;
  };
  mutable QuoteCache sq_, dq_;

  // HTMLStripper.handle_data: strip(), keep when non-empty and collecting.
  void handle_data(std::u32string_view d) {
    std::size_t a = 0, b = d.size();
    while (a < b && py_isspace(d[a])) ++a;
    while (b > a && py_isspace(d[b - 1])) --b;
    if (a < b && collect_) {  // " ".join(pieces): pieces are never empty
      if (!out_.empty()) out_.push_back(' ');
      out_.append(d.substr(a, b - a));
    }
  }
  static bool is_cdata_tag(std::u32string_view tag) {
    auto eq = [&](std::u32string_view want) {
      if (tag.size() != want.size()) return false;
      for (std::size_t i = 0; i < tag.size(); ++i) {
        if (ascii_lower(tag[i]) != want[i]) return false;
      }
      return true;
    };
    if (eq(U"script")) return true;
    if (eq(U"style")) return true;
    return false;
  }
  void handle_starttag(std::u32string_view tag) {
    if (is_cdata_tag(tag)) collect_ = false;
  }
  void handle_endtag(std::u32string_view tag) {
    if (is_cdata_tag(tag)) collect_ = true;
  }

  // One character of the cdata end-tag regex </\s*script\s*> under re.I (Python also folds
  // 's' with U+017F and 'i' with U+0130/U+0131).
  static bool ci_letter(char32_t c, char32_t want) {
    if (ascii_lower(c) == want) return true;
    if (want == 's' && c == 0x17F) return true;
    if (want == 'i' && (c == 0x130 || c == 0x131)) return true;
    return false;
  }
  // self.interesting.search(rawdata, i) in cdata mode: start of the match or npos.
  std::size_t search_cdata_end(std::size_t from) const {
    for (std::size_t p = s_.find(U"</", from); p != npos; p = s_.find(U"</", p + 1)) {
      std::size_t q = p + 2;
      while (sp(q)) ++q;
      bool ok = true;
      for (char32_t w : cdata_elem_) {
        if (q >= n_ || !ci_letter(s_[q], w)) {
          ok = false;
          break;
        }
        ++q;
      }
      if (!ok) continue;
      while (sp(q)) ++q;
      if (at(q, '>')) return p;
    }
    return npos;
  }

  // ([a-zA-Z][^\t\n\r\f />\x00]*)  ->  end of the name
  std::size_t tag_name_end(std::size_t p) const {
    ++p;
    while (p < n_) {
      const char32_t c = s_[p];
      if (c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == ' ' || c == '/' || c == '>' ||
          c == 0) {
        break;
      }
      ++p;
    }
    return p;
  }
  // (?:\s|/(?!>))*
  std::size_t skip_space_slash(std::size_t p) const {
    while (p < n_ && (py_isspace(s_[p]) || (s_[p] == '/' && !at(p + 1, '>')))) ++p;
    return p;
  }

  struct Attr {
    std::size_t end;
    std::size_t value_begin = npos, value_end = npos;  // group 3, when it participated
  };
  // One attribute as attrfind_tolerant (and the attribute loop of
  // locatestarttagend_tolerant) matches it at p:
  //   ((?<=['"\s/])[^\s/>][^\s/=>]*)(\s*=+\s*('[^']*'|"[^"]*"|(?!['"])[^>\s]*))?(?:\s|/(?!>))*
  std::optional<Attr> attribute(std::size_t p) const {
    if (p == 0 || p >= n_) return std::nullopt;
    const char32_t prev = s_[p - 1];
    if (!(prev == '\'' || prev == '"' || py_isspace(prev) || prev == '/')) return std::nullopt;
    const char32_t c = s_[p];
    if (py_isspace(c) || c == '/' || c == '>') return std::nullopt;
    std::size_t q = p + 1;
    while (q < n_ && !(py_isspace(s_[q]) || s_[q] == '/' || s_[q] == '=' || s_[q] == '>')) ++q;
    Attr a{q};
    // The optional value, with the backtracking Python's engine does when the value starts
    // with an unterminated quote.
    std::size_t a_end = q;
    while (sp(a_end)) ++a_end;
    if (at(a_end, '=')) {
      std::size_t b_end = a_end;
      while (at(b_end, '=')) ++b_end;
      std::size_t c_end = b_end;
      while (sp(c_end)) ++c_end;
      auto alt = [&](std::size_t v) -> std::size_t {
        if (at(v, '\'') || at(v, '"')) {
          const std::size_t close = find_quote(s_[v], v + 1);
          return close == npos ? npos : close + 1;
        }
        std::size_t r = v;
        while (r < n_ && s_[r] != '>' && !py_isspace(s_[r])) ++r;
        return r;
      };
      std::size_t v = c_end, r = alt(c_end);
      if (r == npos && c_end > b_end) {
        v = c_end - 1;  // \s* gives back one space: an empty bare value
        r = v;
      } else if (r == npos && b_end - a_end > 1) {
        v = b_end - 1;  // =+ gives back one '=': a bare value starting with '='
        r = alt(v);
      }
      if (r != npos) {
        a.value_begin = v;
        a.value_end = r;
        q = r;
      }
    }
    a.end = skip_space_slash(q);
    return a;
  }

  // locatestarttagend_tolerant.match(rawdata, i).end()
  std::size_t locate_starttag_end(std::size_t i) const {
    std::size_t p = tag_name_end(i + 1);
    while (p < n_ && (py_isspace(s_[p]) || s_[p] == '/')) ++p;  // [\s/]*
    while (std::optional<Attr> a = attribute(p)) p = a->end;
    while (sp(p)) ++p;
    return p;
  }

  long check_for_whole_start_tag(std::size_t i) const {
    const std::size_t j = locate_starttag_end(i);
    if (j >= n_) return -1;
    const char32_t next = s_[j];
    if (next == '>') return static_cast<long>(j + 1);
    if (next == '/') {
      if (at(j + 1, '>')) return static_cast<long>(j + 2);
      return -1;  // rawdata.startswith("/", j)
    }
    if (ascii_alpha(next) || next == '=' || next == '/') return -1;
    return static_cast<long>(j > i ? j : i + 1);
  }

  long parse_starttag(std::size_t i) {
    const long endpos_l = check_for_whole_start_tag(i);
    if (endpos_l < 0) return endpos_l;
    const auto endpos = static_cast<std::size_t>(endpos_l);
    const std::size_t name_end = tag_name_end(i + 1);
    const std::u32string_view tag = s_.substr(i + 1, name_end - i - 1);
    std::size_t k = skip_space_slash(name_end);
    while (k < endpos) {
      std::optional<Attr> a = attribute(k);
      if (!a) break;
      if (a->value_begin != npos) {
        std::u32string_view v = s_.substr(a->value_begin, a->value_end - a->value_begin);
        if (v.size() >= 2 &&
            ((v.front() == '\'' && v.back() == '\'') || (v.front() == '"' && v.back() == '"'))) {
          v = v.substr(1, v.size() - 2);
        }
        if (!v.empty()) (void)unescape(v);  // only for its exceptions
      }
      k = a->end;
    }
    std::u32string_view end = k < endpos ? s_.substr(k, endpos - k) : std::u32string_view{};
    while (!end.empty() && py_isspace(end.front())) end.remove_prefix(1);
    while (!end.empty() && py_isspace(end.back())) end.remove_suffix(1);
    if (end != U">" && end != U"/>") {
      handle_data(s_.substr(i, endpos - i));
      return static_cast<long>(endpos);
    }
    if (end == U"/>") {
      handle_starttag(tag);
      handle_endtag(tag);
    } else {
      handle_starttag(tag);
      if (is_cdata_tag(tag)) {
        cdata_elem_.clear();
        for (char32_t c : tag) cdata_elem_.push_back(ascii_lower(c));
      }
    }
    return static_cast<long>(endpos);
  }

  long parse_bogus_comment(std::size_t i) const {
    const std::size_t pos = find('>', i + 2);
    return pos == npos ? -1 : static_cast<long>(pos + 1);
  }

  long parse_endtag(std::size_t i) {
    const std::size_t gt = find('>', i + 1);  // endendtag.search(rawdata, i+1)
    if (gt == npos) return -1;
    const std::size_t gtpos = gt + 1;
    // endtagfind: </\s*([a-zA-Z][-.a-zA-Z0-9:_]*)\s*>
    std::size_t p = i + 2;
    while (sp(p)) ++p;
    std::size_t name_b = p, name_e = npos;
    if (p < n_ && ascii_alpha(s_[p])) {
      std::size_t q = p + 1;
      while (q < n_ && (ascii_alpha(s_[q]) || ascii_digit(s_[q]) || s_[q] == '-' || s_[q] == '.' ||
                        s_[q] == ':' || s_[q] == '_')) {
        ++q;
      }
      std::size_t r = q;
      while (sp(r)) ++r;
      if (at(r, '>')) name_e = q;
    }
    if (name_e == npos) {
      if (!cdata_elem_.empty()) {
        handle_data(s_.substr(i, gtpos - i));
        return static_cast<long>(gtpos);
      }
      if (!(i + 2 < n_ && ascii_alpha(s_[i + 2]))) {  // tagfind_tolerant.match(rawdata, i+2)
        if (starts(i, U"</>")) return static_cast<long>(i + 3);
        return parse_bogus_comment(i);
      }
      const std::size_t ne = tag_name_end(i + 2);
      const std::size_t after = skip_space_slash(ne);
      const std::size_t g = find('>', after);
      handle_endtag(s_.substr(i + 2, ne - i - 2));
      return g == npos ? 0 : static_cast<long>(g + 1);
    }
    std::u32string elem;
    for (std::size_t q = name_b; q < name_e; ++q) elem.push_back(ascii_lower(s_[q]));
    if (!cdata_elem_.empty() && elem != cdata_elem_) {
      handle_data(s_.substr(i, gtpos - i));
      return static_cast<long>(gtpos);
    }
    handle_endtag(elem);
    cdata_elem_.clear();
    return static_cast<long>(gtpos);
  }

  // _markupbase.ParserBase.parse_comment: <!-- ... --\s*>
  long parse_comment(std::size_t i) const {
    for (std::size_t p = s_.find(U"--", std::min(i + 4, n_)); p != npos;
         p = s_.find(U"--", p + 1)) {
      std::size_t q = p + 2;
      while (sp(q)) ++q;
      if (at(q, '>')) return static_cast<long>(q + 1);
    }
    return -1;
  }

  // _scan_name: [a-zA-Z][-_.a-zA-Z0-9]*\s* ; raises when no name starts at i.
  long scan_name(std::size_t i, std::u32string* name) const {
    if (i == n_) return -1;
    if (!ascii_alpha(s_[i])) throw Crash{};  // AssertionError("expected name token ...")
    std::size_t q = i + 1;
    while (q < n_ && (ascii_alpha(s_[q]) || ascii_digit(s_[q]) || s_[q] == '-' || s_[q] == '_' ||
                      s_[q] == '.')) {
      ++q;
    }
    name->clear();
    for (std::size_t k = i; k < q; ++k) name->push_back(ascii_lower(s_[k]));
    while (sp(q)) ++q;
    if (q == n_) return -1;
    return static_cast<long>(q);
  }

  long parse_marked_section(std::size_t i) const {
    std::u32string name;
    const long j = scan_name(i + 3, &name);
    if (j < 0) return j;
    const bool two = name == U"temp" || name == U"cdata" || name == U"ignore" ||
                     name == U"include" || name == U"rcdata";
    const bool one = name == U"if" || name == U"else" || name == U"endif";
    if (!two && !one) throw Crash{};  // AssertionError("unknown status keyword ...")
    for (std::size_t p = find(']', i + 3); p != npos; p = find(']', p + 1)) {
      std::size_t q = p + 1;
      while (sp(q)) ++q;
      if (two) {  // ]\s*]\s*>
        if (!at(q, ']')) continue;
        ++q;
        while (sp(q)) ++q;
      }
      if (at(q, '>')) return static_cast<long>(q + 1);  // ]\s*>
    }
    return -1;
  }

  long parse_html_declaration(std::size_t i) const {
    if (starts(i, U"<!--")) return parse_comment(i);
    if (starts(i, U"<![")) return parse_marked_section(i);
    static constexpr std::u32string_view kDoctype = U"<!doctype";
    bool doctype = i + kDoctype.size() <= n_;
    for (std::size_t k = 0; doctype && k < kDoctype.size(); ++k) {
      doctype = ascii_lower(s_[i + k]) == kDoctype[k];
    }
    if (doctype) {
      const std::size_t gt = find('>', i + 9);
      return gt == npos ? -1 : static_cast<long>(gt + 1);
    }
    return parse_bogus_comment(i);
  }

  void goahead() {
    std::size_t i = 0;
    while (i < n_) {
      std::size_t j;
      if (cdata_elem_.empty()) {
        j = find('<', i);
        if (j == npos) {
          // Text at the end waits for more data unless an '&' near the end is finished.
          const std::size_t from = std::max<std::size_t>(i, n_ >= 34 ? n_ - 34 : 0);
          std::size_t amppos = npos;
          for (std::size_t k = n_; k > from; --k) {
            if (s_[k - 1] == '&') {
              amppos = k - 1;
              break;
            }
          }
          if (amppos != npos) {
            bool closed = false;
            for (std::size_t k = amppos; k < n_ && !closed; ++k) {
              closed = py_isspace(s_[k]) || s_[k] == ';';
            }
            if (!closed) break;
          }
          j = n_;
        }
      } else {
        j = search_cdata_end(i);
        if (j == npos) break;
      }
      if (i < j) {
        const std::u32string_view raw = s_.substr(i, j - i);
        if (cdata_elem_.empty() && raw.find(U'&') != npos) {
          handle_data(unescape(raw));
        } else {
          handle_data(raw);
        }
      }
      i = j;
      if (i == n_) break;
      long k;
      if (i + 1 < n_ && ascii_alpha(s_[i + 1])) {
        k = parse_starttag(i);
      } else if (starts(i, U"</")) {
        k = parse_endtag(i);
      } else if (starts(i, U"<!--")) {
        k = parse_comment(i);
      } else if (starts(i, U"<?")) {
        const std::size_t gt = find('>', i + 2);
        k = gt == npos ? -1 : static_cast<long>(gt + 1);
      } else if (starts(i, U"<!")) {
        k = parse_html_declaration(i);
      } else if (i + 1 < n_) {
        handle_data(U"<");
        k = static_cast<long>(i + 1);
      } else {
        break;
      }
      if (k < 0) break;  // incomplete construct: waits for data that never comes
      i = static_cast<std::size_t>(k);
    }
  }

  std::u32string_view s_;
  std::size_t n_;
  bool collect_ = true;
  std::u32string cdata_elem_;
  std::u32string out_;
};

}  // namespace

std::optional<std::u32string> html_unescape(std::u32string_view s) {
  try {
    return unescape(s);
  } catch (const Crash&) {
    return std::nullopt;
  }
}

std::optional<std::u32string> html_to_text(std::u32string_view html) {
  try {
    return Stripper(html).run();
  } catch (const Crash&) {
    return std::nullopt;
  }
}

}  // namespace strop::sigs::pyzor
