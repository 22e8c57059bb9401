#include "sigs/normalize.hpp"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <functional>
#include <unordered_map>

#include "base/hex.hpp"
#include "text_util.hpp"

namespace strop::sigs {
namespace {

using detail::ascii_lower;

// ---- lines: quotes and footers -------------------------------------------------------------

bool is_separator_line(std::string_view line) {
  std::string_view t = detail::trim(line);
  if (line == "-- " || line == "--" || line == "-- \r") return true;
  if (t.size() < 10) return false;
  char c = t[0];
  if (c != '_' && c != '-' && c != '=' && c != '*' && c != '~') return false;
  auto same = static_cast<std::size_t>(std::count(t.begin(), t.end(), c));
  return same * 10 >= t.size() * 9;
}

// Boilerplate a list server appends: strong markers may be cut however much of the text
// they are; weak markers only when they are a small tail of it. All lower case.
constexpr std::string_view kListFooterMarkers[] = {
    "mailing list", "listinfo",     "yahoo! groups",
    "mailman",      "groups.yahoo", "sf.net email is sponsored",
    "list archive", "list info",    "list-"};
constexpr std::string_view kWeakFooterMarkers[] = {"unsubscribe", "subscribe", "sponsor",
                                                   "sourceforge", "lists."};
constexpr std::size_t kMaxFooterCandidates = 16;  // rule lines examined per round
constexpr std::size_t kFooterMarkerLines = 12;    // list markers must follow their rule within

}  // namespace

std::string strip_quotes_and_footers(std::string_view text) {
  // Copy the text without quoted lines, remembering where each line starts.
  std::string kept;
  kept.reserve(text.size());
  std::vector<std::size_t> starts;
  bool quoted_lines = false;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t nl = text.find('\n', i);
    std::string_view line = text.substr(i, nl == std::string_view::npos ? text.npos : nl - i);
    i = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view lt = line;
    while (!lt.empty() && (lt.front() == ' ' || lt.front() == '\t')) lt.remove_prefix(1);
    // Quoted lines: ">" or a supercite prefix of up to three letters ("CW>", "jm>").
    std::size_t q = 0;
    while (q < lt.size() && q < 4 && std::isalpha(static_cast<unsigned char>(lt[q]))) ++q;
    bool quoted = q < 4 && q < lt.size() && lt[q] == '>';
    if (quoted) {
      quoted_lines = true;
      continue;
    }
    starts.push_back(kept.size());
    kept += line;
    kept += '\n';
  }
  // A text that is nothing but a quotation (a spammer's way of looking like a reply) is
  // read as it is, without the quote marks.
  if (quoted_lines && std::none_of(kept.begin(), kept.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) >= 0x80;
      })) {
    kept.clear();
    starts.clear();
    std::size_t j = 0;
    while (j < text.size()) {
      std::size_t nl = text.find('\n', j);
      std::string_view line = text.substr(j, nl == std::string_view::npos ? text.npos : nl - j);
      j = nl == std::string_view::npos ? text.size() : nl + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      while (!line.empty() && (line.front() == '>' || line.front() == ' ')) line.remove_prefix(1);
      starts.push_back(kept.size());
      kept += line;
      kept += '\n';
    }
  }
  auto line_at = [&](std::size_t k) {
    std::size_t b = starts[k];
    std::size_t e = k + 1 < starts.size() ? starts[k + 1] - 1 : kept.size() - 1;
    return std::string_view(kept).substr(b, e - b);
  };
  // Most messages have no rule line at all: then there is no footer to look for.
  auto is_candidate = [&](std::string_view line) {
    if (is_separator_line(line) || line.starts_with("-- ")) return true;
    // "----- Yahoo! Groups Sponsor -----~-->" and similar framed headings.
    return line.size() >= 4 && (line[0] == '-' || line[0] == '_' || line[0] == '=') &&
           line[1] == line[0] && line[2] == line[0] && line[3] == line[0];
  };
  std::size_t first_candidate = starts.size();
  for (std::size_t k = starts.size(), seen = 0; k-- > 0 && seen < kMaxFooterCandidates;) {
    if (is_candidate(line_at(k))) {
      first_candidate = k;
      ++seen;
    }
  }
  if (first_candidate == starts.size()) return kept;
  // Occurrences of every marker in the tail that holds the candidates, found once; a range
  // query is then a binary search.
  const std::size_t base = starts[first_candidate];
  std::string lower = detail::to_lower(std::string_view(kept).substr(base));
  constexpr std::string_view kOther[] = {"yahoo! groups sponsor", "http", "www."};
  std::vector<std::pair<std::string_view, std::vector<std::size_t>>> occ;
  auto index = [&](std::string_view kw) {
    std::vector<std::size_t> at;
    for (std::size_t p = lower.find(kw); p != std::string::npos; p = lower.find(kw, p + 1)) {
      at.push_back(base + p);
    }
    occ.emplace_back(kw, std::move(at));
  };
  for (auto kw : kListFooterMarkers) index(kw);
  for (auto kw : kWeakFooterMarkers) index(kw);
  for (auto kw : kOther) index(kw);
  auto contains = [&](std::string_view kw, std::size_t from, std::size_t to) {
    for (const auto& [name, at] : occ) {
      if (name != kw) continue;
      auto it = std::lower_bound(at.begin(), at.end(), from);
      return it != at.end() && *it + kw.size() <= to;
    }
    return false;
  };
  // Cut footers from the end: a rule line (or "-- ") followed by list boilerplate, a short
  // sponsor block with a link, or a short signature. Repeat for stacked footers.
  std::size_t end = starts.size();  // lines [0, end) are kept
  for (int round = 0; round < 4 && end > 0; ++round) {
    std::size_t end_off = end < starts.size() ? starts[end] : kept.size();
    bool cut = false;
    std::size_t candidates = 0;
    for (std::size_t k = end; k-- > first_candidate && candidates < kMaxFooterCandidates;) {
      std::string_view line = line_at(k);
      if (!is_candidate(line)) continue;
      std::size_t from = starts[k];
      bool sponsor = contains("yahoo! groups sponsor", from, from + line.size());
      bool sig = line == "-- " || line == "--";
      bool titled = line.starts_with("-- ") && !sig;  // "-- Foo Users' Group: foo@..."
      if (!sponsor && !titled && !is_separator_line(line)) continue;
      ++candidates;
      bool small_tail = (end_off - from) * 10 <= end_off * 6;  // at most 60% of the text
      // List boilerplate sits right under its rule line: a marker further down belongs to a
      // later footer, not to this rule.
      std::size_t near_end =
          k + kFooterMarkerLines < end ? starts[k + kFooterMarkerLines] : end_off;
      bool strong = sponsor;
      for (auto kw : kListFooterMarkers) strong = strong || contains(kw, from, near_end);
      if (titled && !strong) continue;
      bool weak = false;
      for (auto kw : kWeakFooterMarkers) weak = weak || contains(kw, from, end_off);
      // A short block with a link under a rule line is a sponsor/ad footer.
      bool ad_block =
          end - k <= 5 && (contains("http", from, end_off) || contains("www.", from, end_off));
      if (strong || (small_tail && (weak || ad_block || (sig && end - k <= 12)))) {
        end = k;
        cut = true;
        break;
      }
    }
    if (!cut) break;
  }
  kept.resize(end < starts.size() ? starts[end] : kept.size());
  return kept;
}

namespace {

// ---- characters ------------------------------------------------------------------------------

// Look-alike letters (after case folding) mapped to the Latin letter they imitate.
std::uint32_t confusable(std::uint32_t c) {
  // One look-alike per line, a table to read down.
  // clang-format off
  switch (c) {
    case 0x0430: return 'a';
    case 0x0435: return 'e';
    case 0x043A: return 'k';
    case 0x043C: return 'm';
    case 0x043D: return 'h';
    case 0x043E: return 'o';
    case 0x0440: return 'p';
    case 0x0441: return 'c';
    case 0x0442: return 't';
    case 0x0443: return 'y';
    case 0x0445: return 'x';
    case 0x0455: return 's';
    case 0x0456: return 'i';
    case 0x0458: return 'j';
    case 0x0501: return 'd';
    case 0x04CF: return 'l';
    case 0x03B1: return 'a';
    case 0x03B5: return 'e';
    case 0x03B9: return 'i';
    case 0x03BA: return 'k';
    case 0x03BD: return 'v';
    case 0x03BF: return 'o';
    case 0x03C1: return 'p';
    case 0x03C4: return 't';
    case 0x03C5: return 'u';
    case 0x03C7: return 'x';
    case 0x0131: return 'i';
    case 0x0261: return 'g';
    case 0x00DF: return 's';  // sharp s folds to "ss"; one letter is enough here
    default: return c;
  }
  // clang-format on
}

// Folding of one non-ASCII code point: a short UTF-8 string of letters/digits (possibly empty:
// the code point vanishes), or kSep when it separates words.
constexpr char kSep = '\x01';

std::string fold_codepoint_slow(std::uint32_t c) {
  UChar32 uc = static_cast<UChar32>(c);
  int8_t type = u_charType(uc);
  if (type == U_FORMAT_CHAR || type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
      type == U_COMBINING_SPACING_MARK)
    return "";  // zero-width joiners, soft hyphens, combining accents: invisible
  if (c == 0x034F || c == 0x180E || c == 0x2060 || c == 0xFEFF || c == 0x00AD) return "";
  if (!u_isalnum(uc)) return std::string(1, kSep);
  UErrorCode err = U_ZERO_ERROR;
  const icu::Normalizer2* nfkd = icu::Normalizer2::getNFKDInstance(err);
  icu::UnicodeString s(uc);
  icu::UnicodeString d;
  if (U_SUCCESS(err)) d = nfkd->normalize(s, err);
  if (U_FAILURE(err)) d = s;
  std::string out;
  for (int32_t k = 0; k < d.length();) {
    UChar32 ch = d.char32At(k);
    k += U16_LENGTH(ch);
    int8_t t = u_charType(ch);
    if (t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_COMBINING_SPACING_MARK) continue;
    if (!u_isalnum(ch)) {
      out.push_back(kSep);
      continue;
    }
    UChar32 f = u_foldCase(ch, U_FOLD_CASE_DEFAULT);
    std::uint32_t m = confusable(static_cast<std::uint32_t>(f));
    if (m < 0x80) {
      out.push_back(ascii_lower(static_cast<char>(m)));
    } else {
      // CJK and other scripts without spaces: each ideograph/syllable is its own word.
      bool cjk = (m >= 0x3040 && m <= 0x30FF) || (m >= 0x3400 && m <= 0x9FFF) ||
                 (m >= 0xAC00 && m <= 0xD7AF) || (m >= 0xF900 && m <= 0xFAFF);
      if (cjk) out.push_back(kSep);
      detail::append_utf8(&out, m);
      if (cjk) out.push_back(kSep);
    }
  }
  return out;
}

const std::string& fold_codepoint(std::uint32_t c) {
  thread_local std::unordered_map<std::uint32_t, std::string> cache;
  auto it = cache.find(c);
  if (it != cache.end()) return it->second;
  if (cache.size() > 65536) cache.clear();  // bound memory on adversarial input
  return cache.emplace(c, fold_codepoint_slow(c)).first->second;
}

bool is_vowel(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u' || c == 'y';
}

// Filters and canonicalises one word (lowercase letters/digits, possibly UTF-8).
// Canonicalises `w` in place; false when the word is to be dropped.
bool keep_word(std::string& w, const TokenLimits& lim) {
  if (w.size() < 2 || w.size() > lim.max_word_bytes) return false;
  std::size_t digits = 0, ascii_letters = 0;
  for (char c : w) {
    if (c >= '0' && c <= '9')
      ++digits;
    else if (c >= 'a' && c <= 'z')
      ++ascii_letters;
  }
  if (digits == w.size()) return false;  // numbers vary per recipient
  if (digits > 0) {
    // IDs and codes (many digits) are dropped; a digit or two inside a word is leetspeak.
    if (digits > 2 || digits * 2 > w.size()) return false;
    for (auto& c : w) {
      switch (c) {
        case '0': c = 'o'; break;
        case '1': c = 'l'; break;
        case '3': c = 'e'; break;
        case '4': c = 'a'; break;
        case '5': c = 's'; break;
        case '7': c = 't'; break;
        case '8': c = 'b'; break;
        case '9': c = 'g'; break;
        case '2': c = 'z'; break;
        case '6': c = 'b'; break;
        default: break;
      }
    }
  }
  if (ascii_letters == w.size() - digits && w.size() >= 5) {
    // Gibberish (hash-buster) tokens: no vowel, or an unpronounceable consonant run.
    std::size_t run = 0, max_run = 0, vowels = 0;
    for (char c : w) {
      if (is_vowel(c)) {
        ++vowels;
        run = 0;
      } else {
        max_run = std::max(max_run, ++run);
      }
    }
    if (vowels == 0 || max_run > lim.max_consonant_run) return false;
  }
  return true;
}

// ASCII byte -> lower-case letter or digit, '\'' for apostrophes, 0 for separators.
constexpr std::array<char, 256> kAsciiWord = [] {
  std::array<char, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = static_cast<char>(c);
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = static_cast<char>(c + 32);
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = static_cast<char>(c);
  t[static_cast<std::size_t>('\'')] = '\'';
  return t;
}();

bool looks_like_url(std::string_view chunk) {
  return chunk.find("://") != std::string_view::npos || detail::istarts_with(chunk, "www.") ||
         detail::istarts_with(chunk, "(www.") || detail::istarts_with(chunk, "<www.") ||
         detail::istarts_with(chunk, "mailto:");
}

bool looks_like_email(std::string_view chunk) {
  auto at = chunk.find('@');
  if (at == std::string_view::npos || at == 0) return false;
  return chunk.find('.', at) != std::string_view::npos;
}

}  // namespace

std::size_t for_each_word(std::string_view text, const TokenLimits& lim,
                          const std::function<void(std::string_view)>& fn) {
  std::size_t count = 0;
  auto flush = [&](std::string& w) {
    if (keep_word(w, lim)) {
      fn(w);
      ++count;
    }
    w.clear();
  };
  std::size_t i = 0;
  const std::size_t n = text.size();
  std::string word;
  word.reserve(64);
  while (i < n && count < lim.max_tokens) {
    // One whitespace-delimited chunk.
    while (i < n && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r' ||
                     text[i] == '\f' || text[i] == '\v'))
      ++i;
    std::size_t s = i;
    while (i < n && !(text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r' ||
                      text[i] == '\f' || text[i] == '\v'))
      ++i;
    std::string_view chunk = text.substr(s, i - s);
    if (chunk.empty()) continue;
    if (looks_like_url(chunk) || looks_like_email(chunk)) continue;
    word.clear();
    for (std::size_t k = 0; k < chunk.size();) {
      unsigned char c = static_cast<unsigned char>(chunk[k]);
      if (c < 0x80) {
        // ASCII fast path: take the whole run of letters, digits and apostrophes at once.
        std::size_t e = k;
        while (e < chunk.size() && kAsciiWord[static_cast<unsigned char>(chunk[e])] != 0) ++e;
        for (std::size_t m = k; m < e; ++m) {
          char w = kAsciiWord[static_cast<unsigned char>(chunk[m])];
          if (w != '\'') word.push_back(w);  // apostrophes join: "don't" -> "dont"
        }
        if (e == k) {
          if (!word.empty()) flush(word);  // punctuation separates words
          ++e;
        }
        k = e;
        continue;
      }
      std::uint32_t cp = detail::next_utf8(chunk, &k);
      if (cp == 0x2019 || cp == 0x2018) continue;  // typographic apostrophes join too
      const std::string& f = fold_codepoint(cp);
      for (char fc : f) {
        if (fc == kSep) {
          if (!word.empty()) flush(word);
        } else {
          word.push_back(fc);
        }
      }
    }
    if (!word.empty()) flush(word);
  }
  return count;
}

void tokenize(std::string_view text, std::vector<std::string>* out, const TokenLimits& lim) {
  for_each_word(text, lim, [out](std::string_view w) { out->emplace_back(w); });
}

namespace {

// Second-level labels under which registrations happen one level deeper (co.uk, com.au, ...).
bool is_second_level_suffix(std::string_view label, std::string_view tld) {
  if (tld.size() != 2) return false;
  for (std::string_view s : {"co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "mil",
                             "ltd", "plc", "gen", "nom", "biz", "info"}) {
    if (label == s) return true;
  }
  return false;
}

}  // namespace

std::optional<CanonicalUrl> canonical_url(std::string_view url) {
  std::string_view u = detail::trim(url);
  auto scheme = u.find("://");
  if (scheme != std::string_view::npos && scheme < 10) u.remove_prefix(scheme + 3);
  while (!u.empty() && u.front() == '/') u.remove_prefix(1);
  std::size_t host_end = u.find_first_of("/?#\\");
  std::string_view authority = u.substr(0, host_end);
  std::string_view rest =
      host_end == std::string_view::npos ? std::string_view{} : u.substr(host_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  if (auto colon = authority.find(':'); colon != std::string_view::npos)
    authority = authority.substr(0, colon);
  std::string host = detail::to_lower(percent_decode(authority));
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host.starts_with("www.")) host.erase(0, 4);
  if (host.empty() || host.size() > 253 || host.find('.') == std::string::npos) return std::nullopt;
  for (char c : host) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_'))
      return std::nullopt;
  }
  CanonicalUrl cu;
  cu.host = host;
  // Registered domain: last two labels, three under a known second-level suffix. IP
  // addresses are their own domain.
  bool ip = std::all_of(host.begin(), host.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || c == '.';
  });
  if (ip) {
    cu.registered_domain = host;
  } else {
    std::vector<std::string_view> labels;
    std::string_view h = host;
    std::size_t p = 0;
    while (p <= h.size()) {
      std::size_t d = h.find('.', p);
      if (d == std::string_view::npos) d = h.size();
      labels.push_back(h.substr(p, d - p));
      p = d + 1;
    }
    std::size_t keep = 2;
    if (labels.size() >= 3 && is_second_level_suffix(labels[labels.size() - 2], labels.back()))
      keep = 3;
    keep = std::min(keep, labels.size());
    std::string rd;
    for (std::size_t k = labels.size() - keep; k < labels.size(); ++k) {
      if (!rd.empty()) rd += '.';
      rd += labels[k];
    }
    cu.registered_domain = rd;
  }
  std::size_t qpos = rest.find('?');
  std::string_view path = rest.substr(0, rest.find_first_of("?#"));
  // Query parameters identify the resource on click trackers and shops; the ones that only
  // track the campaign or the recipient are dropped.
  std::string query;
  if (qpos != std::string_view::npos) {
    std::string_view q = rest.substr(qpos + 1);
    q = q.substr(0, q.find('#'));
    std::vector<std::string> kept;
    std::size_t p = 0;
    while (p <= q.size() && kept.size() < 16) {
      std::size_t amp = q.find('&', p);
      if (amp == std::string_view::npos) amp = q.size();
      std::string param = detail::to_lower(q.substr(p, amp - p));
      p = amp + 1;
      if (param.empty()) continue;
      std::string key = param.substr(0, param.find('='));
      bool tracking = key.starts_with("utm_") || key == "gclid" || key == "fbclid" ||
                      key == "mc_cid" || key == "mc_eid" || key == "ref" || key == "src" ||
                      key == "source" || key == "campaign" || key == "email" || key == "e" ||
                      key == "uid" || key == "sid" || key == "session" || key == "rid" ||
                      key == "subid" || key == "recipient";
      if (param.find('@') != std::string::npos) tracking = true;
      if (!tracking) kept.push_back(std::move(param));
    }
    for (auto& k : kept) {
      query += query.empty() ? "?" : "&";
      query += k;
    }
  }
  std::string p = detail::to_lower(percent_decode(path));
  for (auto& c : p) {
    if (c == '\\') c = '/';
  }
  while (!p.empty() && p.back() == '/') p.pop_back();
  cu.path = p + query;
  // A specific URL names a resource beyond the site's front page and is not list or
  // unsubscribe machinery (which every message of a list or sender shares).
  std::string_view last = p;
  if (auto sl = last.rfind('/'); sl != std::string_view::npos) last = last.substr(sl + 1);
  bool index_page =
      last.starts_with("index.") || last.starts_with("default.") || last.starts_with("home.");
  bool machinery = false;
  for (std::string_view kw : {"listinfo", "mailman", "unsubscribe", "subscribe", "optout",
                              "opt-out", "remove", "pipermail", "archive", "privacy"}) {
    if (p.find(kw) != std::string::npos) machinery = true;
  }
  bool has_segment = p.size() > 1 && std::count(p.begin(), p.end(), '/') >= 1;
  cu.specific = has_segment && !machinery &&
                !(index_page && std::count(p.begin(), p.end(), '/') == 1 && query.empty());
  return cu;
}

std::vector<std::string> embedded_urls(std::string_view url) {
  std::vector<std::string> out;
  auto q = url.find('?');
  if (q == std::string_view::npos) return out;
  std::string query = percent_decode(url.substr(q + 1));
  for (std::string_view scheme : {"http://", "https://"}) {
    std::size_t p = detail::ifind(query, scheme);
    if (p != std::string::npos) {
      std::size_t e = query.find('&', p);
      out.push_back(query.substr(p, e == std::string::npos ? std::string::npos : e - p));
      break;
    }
  }
  return out;
}

}  // namespace strop::sigs
