// HTML to visible text. A forgiving single-pass tokenizer (no DOM): tags are recognised,
// invisible content (script, style, head, comments, elements hidden by style or attribute)
// is dropped, block elements become line breaks, inline elements vanish without a space (so
// "V<b></b>iagra" stays one word), entities are decoded. Bounded by MimeLimits.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>
#include <vector>

#include "sigs/message.hpp"
#include "text_util.hpp"

namespace strop::sigs {
namespace {

using detail::append_utf8;
using detail::ascii_lower;

struct NamedEntity {
  const char* name;
  std::uint32_t cp;
};

// Sorted by name for binary search.
constexpr NamedEntity kEntities[] = {
    {"AElig", 198},     {"Aacute", 193},   {"Acirc", 194},   {"Agrave", 192},
    {"Aring", 197},     {"Atilde", 195},   {"Auml", 196},    {"Ccedil", 199},
    {"ETH", 208},       {"Eacute", 201},   {"Ecirc", 202},   {"Egrave", 200},
    {"Euml", 203},      {"Iacute", 205},   {"Icirc", 206},   {"Igrave", 204},
    {"Iuml", 207},      {"Ntilde", 209},   {"Oacute", 211},  {"Ocirc", 212},
    {"Ograve", 210},    {"Oslash", 216},   {"Otilde", 213},  {"Ouml", 214},
    {"THORN", 222},     {"Uacute", 218},   {"Ucirc", 219},   {"Ugrave", 217},
    {"Uuml", 220},      {"Yacute", 221},   {"aacute", 225},  {"acirc", 226},
    {"acute", 180},     {"aelig", 230},    {"agrave", 224},  {"amp", 38},
    {"apos", 39},       {"aring", 229},    {"atilde", 227},  {"auml", 228},
    {"bdquo", 0x201E},  {"brvbar", 166},   {"bull", 0x2022}, {"ccedil", 231},
    {"cedil", 184},     {"cent", 162},     {"copy", 169},    {"curren", 164},
    {"dagger", 0x2020}, {"deg", 176},      {"divide", 247},  {"eacute", 233},
    {"ecirc", 234},     {"egrave", 232},   {"emsp", 0x2003}, {"ensp", 0x2002},
    {"eth", 240},       {"euml", 235},     {"euro", 0x20AC}, {"frac12", 189},
    {"frac14", 188},    {"frac34", 190},   {"gt", 62},       {"hellip", 0x2026},
    {"iacute", 237},    {"icirc", 238},    {"iexcl", 161},   {"igrave", 236},
    {"iquest", 191},    {"iuml", 239},     {"laquo", 171},   {"ldquo", 0x201C},
    {"lsaquo", 0x2039}, {"lsquo", 0x2018}, {"lt", 60},       {"macr", 175},
    {"mdash", 0x2014},  {"micro", 181},    {"middot", 183},  {"nbsp", 160},
    {"ndash", 0x2013},  {"not", 172},      {"ntilde", 241},  {"oacute", 243},
    {"ocirc", 244},     {"ograve", 242},   {"ordf", 170},    {"ordm", 186},
    {"oslash", 248},    {"otilde", 245},   {"ouml", 246},    {"para", 182},
    {"permil", 0x2030}, {"plusmn", 177},   {"pound", 163},   {"quot", 34},
    {"raquo", 187},     {"rdquo", 0x201D}, {"reg", 174},     {"rsaquo", 0x203A},
    {"rsquo", 0x2019},  {"sbquo", 0x201A}, {"sect", 167},    {"shy", 173},
    {"sup1", 185},      {"sup2", 178},     {"sup3", 179},    {"szlig", 223},
    {"thinsp", 0x2009}, {"thorn", 254},    {"times", 215},   {"trade", 0x2122},
    {"uacute", 250},    {"ucirc", 251},    {"ugrave", 249},  {"uml", 168},
    {"uuml", 252},      {"yacute", 253},   {"yen", 165},     {"yuml", 255},
    {"zwj", 0x200D},    {"zwnj", 0x200C},
};

std::uint32_t lookup_entity(std::string_view name) {
  auto it = std::lower_bound(std::begin(kEntities), std::end(kEntities), name,
                             [](const NamedEntity& e, std::string_view n) { return e.name < n; });
  if (it != std::end(kEntities) && it->name == name) return it->cp;
  return 0;
}

// Decodes the entity at s[i] == '&'; appends its text and returns the chars consumed, or 0.
std::size_t decode_entity(std::string_view s, std::size_t i, std::string* out) {
  std::size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
    if (hex) ++j;
    std::uint32_t v = 0;
    std::size_t digits = 0;
    while (j < s.size() && digits < 8) {
      char c = s[j];
      int d = -1;
      if (c >= '0' && c <= '9')
        d = c - '0';
      else if (hex && c >= 'a' && c <= 'f')
        d = c - 'a' + 10;
      else if (hex && c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      if (d < 0) break;
      v = v * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
      ++j;
      ++digits;
    }
    if (digits == 0) return 0;
    if (j < s.size() && s[j] == ';') ++j;
    if (v >= 0x80 && v < 0xA0) v = 0xFFFD;  // C1 controls: browsers map to cp1252; rare
    if (v == 0) v = 0xFFFD;
    append_utf8(out, v);
    return j - i;
  }
  std::size_t k = j;
  while (k < s.size() && k - j < 10 && std::isalnum(static_cast<unsigned char>(s[k]))) ++k;
  if (k == j) return 0;
  // Longest prefix that names an entity (browsers accept "&nbspfoo" for legacy names).
  for (std::size_t e = k; e > j; --e) {
    std::uint32_t cp = lookup_entity(s.substr(j, e - j));
    if (cp) {
      if (e < s.size() && s[e] == ';') ++e;
      append_utf8(out, cp);
      return e - i;
    }
  }
  return 0;
}

enum class TagClass { kInline, kBlock, kSkipContent, kVoidBlock };

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

TagClass classify(std::string_view name) {
  if (is_one_of(name, {"script", "style", "head", "title", "noframes", "template", "object",
                       "applet", "svg", "math", "select", "textarea", "iframe", "xml"}))
    return TagClass::kSkipContent;
  if (is_one_of(name, {"br", "hr"})) return TagClass::kVoidBlock;
  if (is_one_of(name,
                {"p",        "div",    "tr",    "td",      "th",         "li",        "ul",
                 "ol",       "table",  "tbody", "thead",   "tfoot",      "h1",        "h2",
                 "h3",       "h4",     "h5",    "h6",      "blockquote", "pre",       "center",
                 "form",     "dl",     "dt",    "dd",      "address",    "section",   "article",
                 "header",   "footer", "nav",   "caption", "body",       "html",      "option",
                 "fieldset", "legend", "main",  "aside",   "figure",     "figcaption"}))
    return TagClass::kBlock;
  return TagClass::kInline;
}

bool is_void(std::string_view name) {
  return is_one_of(name, {"br", "hr", "img", "input", "meta", "link", "base", "area", "col",
                          "embed", "param", "source", "track", "wbr", "basefont", "frame"});
}

// An attribute as it appears in the source (views into the HTML being parsed).
struct Attr {
  std::string_view name;
  std::string_view value;
};
constexpr std::size_t kMaxAttrs = 32;  // attributes examined per tag

// Decides from attributes whether an element is invisible to the reader.
bool hidden_by_attrs(const Attr* attrs, std::size_t n_attrs) {
  for (std::size_t k = 0; k < n_attrs; ++k) {
    const Attr& a = attrs[k];
    if (detail::iequals(a.name, "hidden")) return true;
    if (detail::iequals(a.name, "style")) {
      std::string st;
      for (char c : a.value) {
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') st += ascii_lower(c);
      }
      if (st.find("display:none") != std::string::npos) return true;
      if (st.find("visibility:hidden") != std::string::npos) return true;
      if (st.find("opacity:0;") != std::string::npos || st.ends_with("opacity:0")) return true;
      for (const char* z : {"font-size:0", "font-size:1px", "font-size:0.", "max-height:0",
                            "height:0;", "width:0;", "line-height:0"}) {
        auto p = st.find(z);
        if (p == std::string::npos) continue;
        // font-size:0.8em is visible; "font-size:0." followed by a digit other than 0 is not 0.
        if (std::strcmp(z, "font-size:0.") == 0) {
          std::size_t q = p + std::strlen(z);
          bool zero = true;
          while (q < st.size() && std::isdigit(static_cast<unsigned char>(st[q]))) {
            if (st[q] != '0') zero = false;
            ++q;
          }
          if (zero) return true;
          continue;
        }
        if (std::strcmp(z, "font-size:0") == 0) {
          std::size_t q = p + std::strlen(z);
          if (q < st.size() && (std::isdigit(static_cast<unsigned char>(st[q])) || st[q] == '.'))
            continue;
        }
        return true;
      }
    }
    if (detail::iequals(a.name, "size") && (a.value == "0" || a.value == "-10"))
      return true;  // <font size=0>
  }
  return false;
}

struct OpenElem {
  std::string name;
  bool hidden;
};

}  // namespace

std::string html_to_text(std::string_view html, std::vector<std::string>* urls,
                         const MimeLimits& limits, std::vector<std::string>* media_urls) {
  std::string out;
  out.reserve(html.size() / 2);
  std::vector<OpenElem> stack;
  int hidden_depth = 0;     // number of open hidden elements
  std::string skip_until;   // inside script/style/...: the closing tag name we wait for
  bool after_html = false;  // past </html>: source line breaks are kept
  std::size_t i = 0;
  const std::size_t n = html.size();
  auto newline = [&] {
    if (!out.empty() && out.back() != '\n') out.push_back('\n');
  };
  while (i < n) {
    char c = html[i];
    if (c == '<') {
      // Comment: dropped with no trace (spammers put them inside words).
      if (html.substr(i, 4) == "<!--") {
        std::size_t e = html.find("-->", i + 4);
        i = e == std::string_view::npos ? n : e + 3;
        continue;
      }
      if (i + 1 < n && (html[i + 1] == '!' || html[i + 1] == '?')) {
        std::size_t e = html.find('>', i + 2);
        i = e == std::string_view::npos ? n : e + 1;
        continue;
      }
      bool closing = i + 1 < n && html[i + 1] == '/';
      std::size_t j = i + (closing ? 2 : 1);
      std::size_t name_start = j;
      while (j < n && (std::isalnum(static_cast<unsigned char>(html[j])) || html[j] == ':' ||
                       html[j] == '-'))
        ++j;
      if (j == name_start) {
        // Not a tag: a literal '<'.
        if (skip_until.empty() && hidden_depth == 0) out.push_back('<');
        ++i;
        continue;
      }
      std::string name = detail::to_lower(html.substr(name_start, j - name_start));
      // Attributes up to '>' (quotes respected).
      Attr attrs[kMaxAttrs];
      std::size_t n_attrs = 0;
      bool self_closing = false;
      while (j < n && html[j] != '>') {
        unsigned char ch = static_cast<unsigned char>(html[j]);
        if (std::isspace(ch) || html[j] == '/') {
          if (html[j] == '/') self_closing = true;
          ++j;
          continue;
        }
        self_closing = false;
        std::size_t an = j;
        while (j < n && html[j] != '=' && html[j] != '>' &&
               !std::isspace(static_cast<unsigned char>(html[j])) && html[j] != '/')
          ++j;
        Attr a{html.substr(an, j - an), {}};
        while (j < n && std::isspace(static_cast<unsigned char>(html[j]))) ++j;
        if (j < n && html[j] == '=') {
          ++j;
          while (j < n && std::isspace(static_cast<unsigned char>(html[j]))) ++j;
          if (j < n && (html[j] == '"' || html[j] == '\'')) {
            char q = html[j++];
            std::size_t vs = j;
            while (j < n && html[j] != q) ++j;
            a.value = html.substr(vs, j - vs);
            if (j < n) ++j;
          } else {
            std::size_t vs = j;
            while (j < n && html[j] != '>' && !std::isspace(static_cast<unsigned char>(html[j])))
              ++j;
            a.value = html.substr(vs, j - vs);
          }
        }
        if (n_attrs < kMaxAttrs && !a.name.empty()) attrs[n_attrs++] = a;
      }
      i = j < n ? j + 1 : n;

      if (!skip_until.empty()) {
        if (closing && name == skip_until) {
          skip_until.clear();
          continue;
        }
        // An unclosed <head> or <title> ends where the body visibly begins.
        bool body_starts = !closing && (skip_until == "head" || skip_until == "title") &&
                           (name == "body" || classify(name) == TagClass::kBlock ||
                            name == "font" || name == "a" || name == "img");
        if (!body_starts) continue;
        skip_until.clear();
      }
      TagClass cls = classify(name);
      if (closing && name == "html") {
        // What follows </html> (list footers appended by Mailman and friends) is usually
        // plain text: keep its line breaks.
        after_html = true;
        newline();
        continue;
      }
      if (closing) {
        // Pop to the matching element if it is open; ignore stray closers.
        for (std::size_t k = stack.size(); k-- > 0;) {
          if (stack[k].name == name) {
            for (std::size_t m = stack.size(); m-- > k;) {
              if (stack[m].hidden) --hidden_depth;
            }
            stack.resize(k);
            break;
          }
        }
        if (cls == TagClass::kBlock && hidden_depth == 0)
          newline();
        else if ((name == "td" || name == "th") && hidden_depth == 0)
          out.push_back(' ');
        continue;
      }
      // Opening tag.
      if ((name == "img" || name == "iframe" || name == "frame") && media_urls &&
          media_urls->size() < limits.max_urls) {
        for (std::size_t k = 0; k < n_attrs; ++k) {
          std::string_view v = detail::trim(attrs[k].value);
          // A tag may repeat the attribute: the limit holds per URL, not per tag.
          if (detail::iequals(attrs[k].name, "src") && detail::istarts_with(v, "http") &&
              media_urls->size() < limits.max_urls) {
            media_urls->emplace_back(v);
          }
        }
      }
      if (name == "a" && urls && urls->size() < limits.max_urls) {
        for (std::size_t k = 0; k < n_attrs; ++k) {
          const Attr& a = attrs[k];
          if (detail::iequals(a.name, "href") && !a.value.empty()) {
            std::string href;
            for (std::size_t vi = 0; vi < a.value.size();) {
              if (a.value[vi] == '&') {
                std::size_t used = decode_entity(a.value, vi, &href);
                if (used) {
                  vi += used;
                  continue;
                }
              }
              href += a.value[vi++];
            }
            std::string_view h = detail::trim(href);
            if ((detail::istarts_with(h, "http") || detail::istarts_with(h, "www.")) &&
                urls->size() < limits.max_urls) {
              urls->emplace_back(h);
            }
          }
        }
      }
      if (cls == TagClass::kSkipContent && !self_closing) {
        skip_until = name;
        continue;
      }
      if (cls == TagClass::kVoidBlock) {
        if (hidden_depth == 0) newline();
        continue;
      }
      if (name == "img" && hidden_depth == 0) {
        // Images separate words visually.
        out.push_back(' ');
        continue;
      }
      bool hidden = hidden_by_attrs(attrs, n_attrs);
      if (!is_void(name) && !self_closing) {
        if (stack.size() < limits.max_html_depth) {
          stack.push_back({name, hidden});
          if (hidden) ++hidden_depth;
        }
      }
      if (cls == TagClass::kBlock && hidden_depth == 0) newline();
      if ((name == "td" || name == "th") && hidden_depth == 0) out.push_back(' ');
      continue;
    }
    if (!skip_until.empty() || hidden_depth > 0) {
      ++i;
      continue;
    }
    if (c == '&') {
      std::size_t used = decode_entity(html, i, &out);
      if (used) {
        i += used;
        continue;
      }
    }
    // Source whitespace collapses to a space (newlines in source are not line breaks).
    if (c == '\n' && after_html) {
      out.push_back('\n');
      ++i;
      continue;
    }
    if (c == '\n' || c == '\r' || c == '\t') {
      if (!out.empty() && out.back() != ' ' && out.back() != '\n') out.push_back(' ');
      ++i;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace strop::sigs
