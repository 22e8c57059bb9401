// mutate.cpp: spammer-style message mutations (see mutate.hpp).
//
// The message is parsed into a small editable MIME tree (header fields kept as written, leaf
// bodies kept encoded), text leaves are decoded, edited and re-encoded with a consistent
// Content-Transfer-Encoding, and the tree is written back. Edits to words go only to ASCII
// letter runs outside markup, URLs and addresses, and only in charsets where ASCII bytes are
// characters (not in Big5, ISO-2022, Shift_JIS, GBK...).
#include "mutate.hpp"

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

namespace strop::quality {
namespace {

// ------------------------------------------------------------------------------------------
// Deterministic PRNG (splitmix64) with its own range functions.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
  int range(int lo, int hi) {
    return lo + static_cast<int>(below(static_cast<std::size_t>(hi - lo + 1)));
  }
  bool chance(double p) { return static_cast<double>(next() >> 11) * 0x1.0p-53 < p; }
  template <class C>
  const auto& pick(const C& c) {
    return c[below(std::size(c))];
  }
  // k distinct indices out of n, in increasing order.
  std::vector<std::size_t> choose(std::size_t n, std::size_t k) {
    std::vector<std::size_t> idx(n);
    for (std::size_t i = 0; i < n; ++i) idx[i] = i;
    k = std::min(k, n);
    for (std::size_t i = 0; i < k; ++i) std::swap(idx[i], idx[i + below(n - i)]);
    idx.resize(k);
    std::sort(idx.begin(), idx.end());
    return idx;
  }

 private:
  std::uint64_t s_;
};

// ------------------------------------------------------------------------------------------
// Word lists (written for this tool).
// Word lists filled to the column limit, not one word per column.
// clang-format off
constexpr std::string_view kWords[] = {
    "about", "above", "account", "across", "action", "active", "actually", "address", "after",
    "again", "against", "agree", "ahead", "allow", "almost", "alone", "along", "already", "also",
    "always", "amount", "animal", "another", "answer", "anyone", "appear", "apple", "area",
    "around", "arrive", "article", "artist", "autumn", "avoid", "away", "baby", "back", "badly",
    "balance", "ball", "bank", "basket", "beach", "bear", "beautiful", "because", "become", "bed",
    "before", "begin", "behind", "believe", "below", "beside", "best", "better", "between",
    "bicycle", "bird", "black", "blanket", "blue", "board", "boat", "body", "book", "border",
    "bottle", "bottom", "branch", "bread", "break", "bridge", "bright", "bring", "brother",
    "brown", "build", "burn", "business", "butter", "button", "cabin", "camera", "candle",
    "capital", "captain", "carpet", "carry", "castle", "catch", "cattle", "center", "certain",
    "chair", "chance", "change", "chapter", "cheese", "cherry", "chicken", "child", "choose",
    "church", "circle", "city", "class", "clean", "clear", "climb", "clock", "close", "cloud",
    "coast", "coffee", "cold", "collect", "color", "column", "common", "company", "compare",
    "complete", "consider", "contain", "continue", "copper", "corner", "cotton", "country",
    "course", "cover", "cream", "crowd", "current", "cycle", "daily", "dance", "danger", "dark",
    "daughter", "decide", "deep", "degree", "desert", "design", "detail", "develop", "differ",
    "dinner", "direct", "distant", "divide", "doctor", "dollar", "door", "double", "down",
    "dream", "dress", "drink", "drive", "during", "early", "earth", "east", "easy", "edge",
    "effect", "eight", "either", "electric", "element", "else", "empty", "enemy", "energy",
    "engine", "enough", "enter", "equal", "evening", "event", "every", "exact", "example",
    "except", "excite", "expect", "experience", "fact", "fair", "fall", "family", "famous",
    "farm", "father", "favor", "feather", "feel", "field", "figure", "final", "finger", "finish",
    "fire", "first", "fish", "flat", "floor", "flower", "follow", "food", "forest", "forget",
    "form", "forward", "fraction", "free", "fresh", "friend", "front", "fruit", "full", "garden",
    "gather", "general", "gentle", "glass", "gold", "good", "govern", "grass", "gray", "great",
    "green", "ground", "group", "grow", "guess", "guide", "half", "hand", "happen", "happy",
    "harbor", "hard", "heart", "heavy", "hello", "help", "hill", "history", "hold", "hole",
    "home", "honey", "hope", "horse", "hour", "house", "hundred", "hunt", "idea", "imagine",
    "inch", "include", "indicate", "island", "jacket", "join", "journey", "jump", "just", "keep",
    "kettle", "kind", "king", "kitchen", "knife", "know", "ladder", "lake", "language", "large",
    "last", "late", "laugh", "lead", "learn", "leave", "lemon", "letter", "level", "light",
    "like", "line", "listen", "little", "live", "long", "look", "lucky", "machine", "magnet",
    "main", "major", "manner", "many", "market", "master", "match", "matter", "meadow", "measure",
    "meat", "meet", "melody", "metal", "middle", "might", "mile", "milk", "million", "mind",
    "minute", "mirror", "modern", "moment", "money", "month", "moon", "morning", "mother",
    "motion", "mountain", "mouse", "music", "narrow", "nation", "nature", "near", "need",
    "never", "night", "noise", "north", "notice", "number", "object", "ocean", "offer", "office",
    "often", "open", "orange", "order", "other", "oxygen", "paint", "paper", "parent", "party",
    "pattern", "pencil", "people", "period", "person", "picture", "piece", "place", "plain",
    "planet", "plant", "plate", "pocket", "point", "pool", "possible", "potato", "power",
    "practice", "prepare", "present", "pretty", "print", "probable", "problem", "produce",
    "product", "proper", "pull", "purple", "push", "quick", "quiet", "quite", "rabbit", "radio",
    "rain", "rather", "reach", "ready", "reason", "record", "region", "remember", "repeat",
    "result", "river", "road", "rock", "room", "rope", "round", "rubber", "safe", "sail", "salt",
    "sand", "school", "science", "season", "second", "seed", "sense", "serve", "settle", "seven",
    "shadow", "shape", "share", "sharp", "sheep", "shell", "shine", "shoe", "shore", "short",
    "shoulder", "silver", "simple", "since", "single", "sister", "size", "skill", "sleep",
    "slow", "small", "smile", "snow", "soft", "soldier", "solution", "song", "sound", "south",
    "space", "speak", "special", "spell", "spring", "square", "stand", "star", "station",
    "steam", "stick", "stone", "store", "storm", "story", "straight", "strange", "stream",
    "street", "string", "strong", "student", "study", "subject", "sugar", "summer", "supply",
    "surface", "surprise", "sweet", "swim", "syllable", "table", "tail", "teach", "temple",
    "thank", "thick", "thin", "thought", "thousand", "thunder", "ticket", "tiger", "timber",
    "tiny", "together", "tomorrow", "tongue", "tool", "total", "touch", "toward", "town",
    "track", "trade", "train", "travel", "tree", "triangle", "trouble", "truck", "turtle",
    "twenty", "uncle", "under", "until", "usual", "valley", "value", "velvet", "village",
    "visit", "voice", "vowel", "wagon", "wait", "walk", "warm", "wash", "watch", "water", "wave",
    "weather", "weight", "west", "wheel", "while", "whisper", "white", "whole", "wide", "wild",
    "window", "winter", "wire", "wish", "woman", "wonder", "wood", "word", "work", "world",
    "write", "yard", "year", "yellow", "young", "zebra"};
constexpr std::string_view kFirstNames[] = {
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "William",
    "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa", "Anthony", "Betty", "Mark",
    "Margaret", "Donald", "Sandra", "Steven", "Ashley", "Paul", "Kimberly", "Andrew", "Emily",
    "Joshua", "Donna", "Kenneth", "Michelle", "Kevin", "Carol", "Brian", "Amanda", "George",
    "Dorothy", "Timothy", "Melissa", "Ronald", "Deborah", "Edward", "Stephanie", "Jason",
    "Rebecca", "Jeffrey", "Sharon", "Ryan", "Laura", "Jacob", "Cynthia", "Gary", "Kathleen"};
constexpr std::string_view kLastNames[] = {
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
    "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Murphy", "Cook", "Rogers", "Morgan"};
constexpr std::string_view kMailDomains[] = {
    "example.com",   "example.net",  "mailhost.org", "inbox-mail.net", "postbox.example",
    "corp.example",  "isp-one.net",  "netmail.biz",  "freemail.info",  "homeoffice.us",
    "webpost.co.uk", "users.net.au", "myisp.ca",     "online.example", "customer.example.org"};
constexpr std::string_view kTlds[] = {"com", "net", "biz", "info", "org", "us", "cc", "ws"};
constexpr std::string_view kMailers[] = {
    "Microsoft Outlook Express 6.00.2600.0000", "Microsoft Outlook, Build 10.0.2627",
    "QUALCOMM Windows Eudora Version 5.1", "The Bat! (v1.60q)", "Mozilla 4.7 [en]C-CCK-MCD",
    "Mailer 2.1", "Group Mail 3.0", "MIME::Lite 2.117", "PHP/4.2.2", "Bulk Mailer Pro 4.0",
    "Advanced Mass Sender 3.21", "Lotus Notes Release 5.0.10"};
constexpr std::string_view kQueryKeys[] = {"id", "uid", "rid", "ref", "u", "c", "m", "t", "src"};
// clang-format on

// ------------------------------------------------------------------------------------------
// Small string helpers.
char lower_c(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
char upper_c(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_alpha(c) || is_digit(c); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower_c(c);
  return out;
}
bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower_c(a[i]) != lower_c(b[i])) return false;
  return true;
}
bool istarts_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && iequals(s.substr(0, p.size()), p);
}
std::size_t ifind(std::string_view h, std::string_view n, std::size_t from = 0) {
  if (n.empty()) return from <= h.size() ? from : std::string_view::npos;
  for (std::size_t i = from; i + n.size() <= h.size(); ++i) {
    if (lower_c(h[i]) == lower_c(n[0]) && iequals(h.substr(i, n.size()), n)) return i;
  }
  return std::string_view::npos;
}
std::size_t irfind(std::string_view h, std::string_view n) {
  if (n.size() > h.size()) return std::string_view::npos;
  for (std::size_t i = h.size() - n.size() + 1; i-- > 0;) {
    if (iequals(h.substr(i, n.size()), n)) return i;
  }
  return std::string_view::npos;
}
std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t nl = s.find('\n', start);
    if (nl == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, nl - start));
    start = nl + 1;
  }
}
void replace_all(std::string& s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  std::size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
}
bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (n < 0 || i + static_cast<std::size_t>(n) >= s.size() + (n == 0 ? 1 : 0)) {
      if (n != 0) return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    }
    i += static_cast<std::size_t>(n) + 1;
  }
  return true;
}

std::string random_token(Rng& rng, int min_len, int max_len, bool digits_only = false) {
  static constexpr std::string_view kAlnum = "abcdefghijklmnopqrstuvwxyz0123456789";
  int len = rng.range(min_len, max_len);
  std::string t;
  for (int i = 0; i < len; ++i) {
    t += digits_only ? static_cast<char>('0' + rng.below(10)) : kAlnum[rng.below(kAlnum.size())];
  }
  return t;
}
std::string random_words(Rng& rng, int n, bool sentences) {
  std::string out;
  bool cap = sentences;
  for (int i = 0; i < n; ++i) {
    std::string w(rng.pick(kWords));
    if (cap) w[0] = upper_c(w[0]);
    cap = false;
    if (!out.empty()) out += ' ';
    out += w;
    if (sentences && (i == n - 1 || rng.chance(0.12))) {
      out += '.';
      cap = true;
    }
  }
  return out;
}
std::string random_domain(Rng& rng) {
  std::string d(rng.pick(kWords));
  if (rng.chance(0.5)) d += rng.pick(kWords);
  if (rng.chance(0.3)) d += std::to_string(rng.range(1, 99));
  return d + "." + std::string(rng.pick(kTlds));
}
std::string random_ip(Rng& rng) {
  return std::to_string(rng.range(12, 223)) + "." + std::to_string(rng.range(0, 255)) + "." +
         std::to_string(rng.range(0, 255)) + "." + std::to_string(rng.range(1, 254));
}
std::string random_date(Rng& rng) {
  static constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  static constexpr std::string_view kZones[] = {"-0400", "-0500", "-0700", "+0000",
                                                "+0100", "+0200", "+0800", "+0900"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %d %02d:%02d:%02d %s",
                std::string(rng.pick(kDays)).c_str(), rng.range(1, 28),
                std::string(rng.pick(kMonths)).c_str(), rng.range(2002, 2003), rng.range(0, 23),
                rng.range(0, 59), rng.range(0, 59), std::string(rng.pick(kZones)).c_str());
  return buf;
}
std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}
std::string pct_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (is_alnum(static_cast<char>(c)) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Transfer encodings.
constexpr std::string_view kB64 =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64_encode(std::string_view in, std::size_t line = 76) {
  std::string out;
  std::size_t col = 0;
  for (std::size_t i = 0; i < in.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    std::size_t n = std::min<std::size_t>(3, in.size() - i);
    if (n > 1) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (n > 2) v |= static_cast<unsigned char>(in[i + 2]);
    char q[4] = {kB64[(v >> 18) & 63], kB64[(v >> 12) & 63], n > 1 ? kB64[(v >> 6) & 63] : '=',
                 n > 2 ? kB64[v & 63] : '='};
    for (char c : q) {
      if (line && col == line) {
        out += '\n';
        col = 0;
      }
      out += c;
      ++col;
    }
  }
  if (line) out += '\n';
  return out;
}
std::string b64_decode(std::string_view in) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    std::size_t p = kB64.find(c);
    if (p == std::string_view::npos) continue;
    acc = (acc << 6) | static_cast<std::uint32_t>(p);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower_c(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}
std::string qp_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c != '=') {
      out += c;
      continue;
    }
    // Soft line break: "=" + optional trailing whitespace + newline.
    std::size_t j = i + 1;
    while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
    if (j < in.size() && (in[j] == '\n' || in[j] == '\r')) {
      if (in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') ++j;
      i = j;
      continue;
    }
    if (j >= in.size()) {
      i = j;
      continue;
    }
    if (i + 2 < in.size() + 0 && hexval(in[i + 1]) >= 0 && hexval(in[i + 2]) >= 0) {
      out += static_cast<char>(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}
// Text QP: "\n" are hard line breaks; lines are soft-broken at 76 columns.
std::string qp_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  auto lines = split_lines(in);
  for (std::size_t li = 0; li < lines.size(); ++li) {
    std::string_view line = lines[li];
    std::size_t col = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      std::string tok;
      bool last = i + 1 == line.size();
      if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last)) {
        tok = static_cast<char>(c);
      } else {
        tok = {'=', kHex[c >> 4], kHex[c & 15]};
      }
      if (col + tok.size() > 75) {
        out += "=\n";
        col = 0;
      }
      out += tok;
      col += tok.size();
    }
    if (li + 1 < lines.size()) out += '\n';
  }
  return out;
}

enum class Cte { k7bit, k8bit, kQp, kBase64, kBinary };
Cte parse_cte(std::string_view v) {
  std::string l = lower(trim(v));
  if (l == "quoted-printable") return Cte::kQp;
  if (l == "base64") return Cte::kBase64;
  if (l == "8bit") return Cte::k8bit;
  if (l == "binary") return Cte::kBinary;
  return Cte::k7bit;
}
std::string_view cte_name(Cte c) {
  switch (c) {
    case Cte::kQp: return "quoted-printable";
    case Cte::kBase64: return "base64";
    case Cte::k8bit: return "8bit";
    case Cte::kBinary: return "binary";
    default: return "7bit";
  }
}

// ------------------------------------------------------------------------------------------
// Content-Type values.
struct ContentType {
  std::string type;  // lowercased "type/subtype", "" when absent
  std::vector<std::pair<std::string, std::string>> params;  // lowercased keys, unquoted values

  std::string param(std::string_view key) const {
    for (const auto& [k, v] : params)
      if (k == key) return v;
    return {};
  }
  void set(std::string_view key, std::string value) {
    for (auto& [k, v] : params) {
      if (k == key) {
        v = std::move(value);
        return;
      }
    }
    params.emplace_back(std::string(key), std::move(value));
  }
  std::string str() const {
    std::string out = type;
    for (const auto& [k, v] : params) out += "; " + k + "=\"" + v + "\"";
    return out;
  }
};
ContentType parse_content_type(std::string_view v) {
  ContentType ct;
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < v.size() && (is_space(v[i]))) ++i;
  };
  skip_ws();
  std::size_t s = i;
  while (i < v.size() && v[i] != ';' && !is_space(v[i])) ++i;
  ct.type = lower(v.substr(s, i - s));
  while (i < v.size()) {
    while (i < v.size() && v[i] != ';') ++i;
    if (i >= v.size()) break;
    ++i;
    skip_ws();
    s = i;
    while (i < v.size() && v[i] != '=' && v[i] != ';') ++i;
    std::string key = lower(trim(v.substr(s, i - s)));
    if (i >= v.size() || v[i] != '=') continue;
    ++i;
    skip_ws();
    std::string val;
    if (i < v.size() && v[i] == '"') {
      ++i;
      while (i < v.size() && v[i] != '"') {
        if (v[i] == '\\' && i + 1 < v.size()) ++i;
        val += v[i++];
      }
      if (i < v.size()) ++i;
    } else {
      s = i;
      while (i < v.size() && v[i] != ';' && !is_space(v[i])) ++i;
      val = std::string(v.substr(s, i - s));
    }
    if (!key.empty()) ct.params.emplace_back(std::move(key), std::move(val));
  }
  return ct;
}

// ------------------------------------------------------------------------------------------
// The editable MIME tree. All text is LF-normalised; Mail::crlf says how to write it back.
struct Field {
  std::string name;
  std::string value;  // as written after the colon, folding kept ("\n\t...")
};

struct Entity {
  std::vector<Field> fields;
  std::string body;  // leaf: encoded body as written
  bool multipart = false;
  std::string boundary;
  bool has_preamble = false;
  std::string preamble;
  bool has_epilogue = false;
  std::string epilogue;
  std::vector<Entity> children;

  Field* field(std::string_view name) {
    for (auto& f : fields)
      if (iequals(f.name, name)) return &f;
    return nullptr;
  }
  const Field* field(std::string_view name) const {
    for (const auto& f : fields)
      if (iequals(f.name, name)) return &f;
    return nullptr;
  }
  std::string get(std::string_view name) const {
    const Field* f = field(name);
    return f ? std::string(trim(f->value)) : std::string();
  }
  void set(std::string_view name, std::string_view value) {
    if (Field* f = field(name)) {
      f->value = " " + std::string(value);
    } else {
      fields.push_back({std::string(name), " " + std::string(value)});
    }
  }
  void remove(std::string_view name) {
    std::erase_if(fields, [&](const Field& f) { return iequals(f.name, name); });
  }
  ContentType content_type() const { return parse_content_type(get("Content-Type")); }
};

struct Mail {
  std::string from_line;  // mbox "From " line, with its newline, or empty
  Entity top;
  bool crlf = false;
};

constexpr int kMaxDepth = 20;

Entity parse_entity(std::string_view s, int depth) {
  Entity e;
  std::size_t pos = 0;
  // Header block.
  while (pos < s.size()) {
    std::size_t nl = s.find('\n', pos);
    std::string_view line = s.substr(pos, nl == std::string_view::npos ? s.size() - pos : nl - pos);
    if (line.empty()) {
      pos = nl == std::string_view::npos ? s.size() : nl + 1;
      break;
    }
    if ((line[0] == ' ' || line[0] == '\t') && !e.fields.empty()) {
      e.fields.back().value += "\n";
      e.fields.back().value += line;
    } else {
      std::size_t colon = line.find(':');
      bool ok = colon != std::string_view::npos && colon > 0;
      for (std::size_t k = 0; ok && k < colon; ++k) {
        unsigned char c = static_cast<unsigned char>(line[k]);
        if (c <= 32 || c >= 127) ok = false;
      }
      if (!ok) break;  // Not a header line: the body starts here (no blank line).
      e.fields.push_back({std::string(line.substr(0, colon)), std::string(line.substr(colon + 1))});
    }
    pos = nl == std::string_view::npos ? s.size() : nl + 1;
  }
  std::string_view body = s.substr(std::min(pos, s.size()));
  ContentType ct = e.content_type();
  std::string boundary = ct.param("boundary");
  if (ct.type.rfind("multipart/", 0) == 0 && !boundary.empty() && depth < kMaxDepth) {
    std::string delim = "--" + boundary;
    auto lines = split_lines(body);
    std::vector<std::string_view> cur;
    int state = 0;  // 0 preamble, 1 in part, 2 epilogue
    std::vector<std::vector<std::string_view>> parts;
    std::vector<std::string_view> pre, epi;
    bool found = false;
    for (std::string_view line : lines) {
      std::string_view t = line;
      while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
      if (state < 2 && t.size() >= delim.size() && t.substr(0, delim.size()) == delim) {
        std::string_view rest = t.substr(delim.size());
        if (rest.empty() || rest == "--") {
          if (state == 1) parts.push_back(std::move(cur));
          cur.clear();
          found = true;
          state = rest.empty() ? 1 : 2;
          continue;
        }
      }
      if (state == 0)
        pre.push_back(line);
      else if (state == 1)
        cur.push_back(line);
      else
        epi.push_back(line);
    }
    if (state == 1) parts.push_back(std::move(cur));
    if (found) {
      auto join = [](const std::vector<std::string_view>& v) {
        std::string out;
        for (std::size_t i = 0; i < v.size(); ++i) {
          if (i) out += '\n';
          out += v[i];
        }
        return out;
      };
      e.multipart = true;
      e.boundary = boundary;
      e.has_preamble = !pre.empty();
      e.preamble = join(pre);
      e.has_epilogue = !epi.empty();
      e.epilogue = join(epi);
      for (const auto& p : parts) e.children.push_back(parse_entity(join(p), depth + 1));
      return e;
    }
  }
  e.body = std::string(body);
  return e;
}

void write_entity(const Entity& e, std::string& out) {
  for (const auto& f : e.fields) {
    out += f.name;
    out += ':';
    out += f.value;
    out += '\n';
  }
  out += '\n';
  if (!e.multipart) {
    out += e.body;
    return;
  }
  if (e.has_preamble) {
    out += e.preamble;
    out += '\n';
  }
  for (const auto& c : e.children) {
    out += "--" + e.boundary + "\n";
    write_entity(c, out);
    out += '\n';
  }
  out += "--" + e.boundary + "--";
  if (e.has_epilogue) {
    out += '\n';
    out += e.epilogue;
  }
}

Mail parse_mail(std::string_view raw) {
  Mail m;
  std::size_t hdr_end = raw.find("\n\n");
  std::size_t crlf_end = raw.find("\r\n\r\n");
  m.crlf = crlf_end != std::string_view::npos &&
           (hdr_end == std::string_view::npos || crlf_end < hdr_end);
  std::string s(raw);
  if (m.crlf || s.find("\r\n") != std::string::npos) replace_all(s, "\r\n", "\n");
  std::string_view v = s;
  if (v.rfind("From ", 0) == 0) {
    std::size_t nl = v.find('\n');
    std::size_t n = nl == std::string_view::npos ? v.size() : nl + 1;
    m.from_line = std::string(v.substr(0, n));
    v.remove_prefix(n);
  }
  m.top = parse_entity(v, 0);
  return m;
}

std::string write_mail(const Mail& m) {
  std::string out = m.from_line;
  write_entity(m.top, out);
  if (m.crlf) {
    std::string crlf;
    crlf.reserve(out.size() + out.size() / 40);
    for (char c : out) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    return crlf;
  }
  return out;
}

// Moves the Content-* fields of `e` into a new child entity that takes over the body.
Entity split_content(Entity& e) {
  Entity inner;
  std::vector<Field> keep;
  for (auto& f : e.fields) {
    if (istarts_with(f.name, "Content-"))
      inner.fields.push_back(std::move(f));
    else
      keep.push_back(std::move(f));
  }
  e.fields = std::move(keep);
  inner.body = std::move(e.body);
  inner.multipart = e.multipart;
  inner.boundary = std::move(e.boundary);
  inner.has_preamble = e.has_preamble;
  inner.preamble = std::move(e.preamble);
  inner.has_epilogue = e.has_epilogue;
  inner.epilogue = std::move(e.epilogue);
  inner.children = std::move(e.children);
  e.body.clear();
  e.multipart = false;
  e.children.clear();
  e.has_preamble = e.has_epilogue = false;
  if (!inner.field("Content-Type")) inner.fields.push_back({"Content-Type", " text/plain"});
  return inner;
}

// Turns `e` into a multipart/<subtype> container whose first child is e's former content.
void wrap_multipart(Entity& e, std::string_view subtype, std::string boundary) {
  Entity inner = split_content(e);
  e.multipart = true;
  e.boundary = std::move(boundary);
  e.children.clear();
  e.children.push_back(std::move(inner));
  e.has_preamble = true;
  e.preamble = "This is a multi-part message in MIME format.\n";
  e.has_epilogue = true;
  e.epilogue = "";
  if (!e.field("MIME-Version")) e.fields.push_back({"MIME-Version", " 1.0"});
  e.set("Content-Type",
        std::string("multipart/") + std::string(subtype) + ";\n\tboundary=\"" + e.boundary + "\"");
}

std::string new_boundary(Rng& rng) {
  return "----=_NextPart_" + random_token(rng, 3, 3, true) + "_" + random_token(rng, 4, 4) + "_" +
         random_token(rng, 8, 8);
}

// ------------------------------------------------------------------------------------------
// Text leaves.
bool word_safe_charset(std::string_view cs) {
  std::string l = lower(cs);
  static constexpr std::string_view kUnsafe[] = {
      "big5", "iso-2022", "shift",  "sjis",   "cp932", "ks_c", "cp949",
      "gbk",  "gb18030",  "gb2312", "utf-16", "utf-7", "hz-",  "windows-31j"};
  for (auto u : kUnsafe)
    if (l.find(u) != std::string::npos) return false;
  return true;
}

struct TextLeaf {
  Entity* e = nullptr;
  bool html = false;
  bool top = false;
  ContentType ct;
  Cte cte = Cte::k7bit;
  std::string text;  // decoded, LF line ends, in ct's charset
  bool word_safe = true;
};

std::string decode_body(const Entity& e) {
  Cte cte = parse_cte(e.get("Content-Transfer-Encoding"));
  if (cte == Cte::kBase64) return b64_decode(e.body);
  if (cte == Cte::kQp) return qp_decode(e.body);
  return e.body;
}

void collect_leaves(Entity& e, bool top, std::vector<TextLeaf>& out) {
  if (e.multipart) {
    for (auto& c : e.children) collect_leaves(c, false, out);
    return;
  }
  ContentType ct = e.content_type();
  if (ct.type.empty() && top) ct.type = "text/plain";
  if (ct.type.empty()) ct.type = "text/plain";  // RFC 2045 default in a multipart body part
  if (ct.type != "text/plain" && ct.type != "text/html") return;
  if (ifind(e.get("Content-Disposition"), "attachment") != std::string::npos) return;
  TextLeaf l;
  l.e = &e;
  l.top = top;
  l.html = ct.type == "text/html";
  l.cte = parse_cte(e.get("Content-Transfer-Encoding"));
  l.ct = std::move(ct);
  l.text = decode_body(e);
  replace_all(l.text, "\r\n", "\n");
  l.word_safe = word_safe_charset(l.ct.param("charset"));
  out.push_back(std::move(l));
}

std::vector<TextLeaf> text_leaves(Mail& m) {
  std::vector<TextLeaf> out;
  collect_leaves(m.top, true, out);
  return out;
}

// Writes `text` into the leaf's entity with encoding `cte` (switching to QP when the content
// cannot be carried by the requested encoding), and updates its header fields.
void store_text(Entity& e, std::string text, Cte cte, bool top) {
  if (!text.empty() && text.back() != '\n') text += '\n';
  bool ascii = is_ascii(text);
  if ((cte == Cte::k7bit && !ascii)) cte = Cte::kQp;
  if (cte == Cte::k8bit || cte == Cte::k7bit || cte == Cte::kBinary) {
    for (std::string_view line : split_lines(text)) {
      if (line.size() > 998) {
        cte = Cte::kQp;
        break;
      }
    }
  }
  switch (cte) {
    case Cte::kBase64: {
      std::string canon = text;
      replace_all(canon, "\n", "\r\n");
      e.body = b64_encode(canon);
      break;
    }
    case Cte::kQp: e.body = qp_encode(text); break;
    default: e.body = text; break;
  }
  bool had = e.field("Content-Transfer-Encoding") != nullptr;
  if (had || cte != Cte::k7bit) e.set("Content-Transfer-Encoding", cte_name(cte));
  if (top && cte != Cte::k7bit && !e.field("MIME-Version"))
    e.fields.push_back({"MIME-Version", " 1.0"});
}
void store(TextLeaf& l) { store_text(*l.e, l.text, l.cte, l.top); }

// Sets the leaf's declared content type (type and charset) keeping other parameters.
void set_leaf_type(TextLeaf& l, std::string_view type, std::string_view charset) {
  l.ct.type = std::string(type);
  if (!charset.empty()) l.ct.set("charset", std::string(charset));
  l.html = type == "text/html";
  l.e->set("Content-Type", l.ct.str());
  if (l.top && !l.e->field("MIME-Version")) l.e->fields.push_back({"MIME-Version", " 1.0"});
}

// ------------------------------------------------------------------------------------------
// Text ranges and words.
struct Range {
  std::size_t begin = 0, end = 0;
};

// Ranges of character data in HTML (outside tags, comments, scripts and styles).
std::vector<Range> html_text_ranges(std::string_view h) {
  std::vector<Range> out;
  std::size_t i = 0, start = 0;
  auto close = [&](std::size_t end) {
    if (end > start) out.push_back({start, end});
  };
  while (i < h.size()) {
    if (h[i] != '<' || i + 1 >= h.size()) {
      ++i;
      continue;
    }
    char n = h[i + 1];
    if (h.compare(i, 4, "<!--") == 0) {
      close(i);
      std::size_t e = h.find("-->", i + 4);
      i = e == std::string_view::npos ? h.size() : e + 3;
      start = i;
      continue;
    }
    if (!(is_alpha(n) || n == '/' || n == '!' || n == '?')) {
      ++i;
      continue;
    }
    close(i);
    std::size_t j = i + 1;
    if (n == '/') ++j;
    std::size_t ns = j;
    while (j < h.size() && (is_alnum(h[j]))) ++j;
    std::string name = lower(h.substr(ns, j - ns));
    // Find the end of the tag, skipping quoted attribute values.
    char prev = 0;
    while (j < h.size() && h[j] != '>') {
      if ((h[j] == '"' || h[j] == '\'') && prev == '=') {
        std::size_t q = h.find(h[j], j + 1);
        if (q == std::string_view::npos || q - j > 4096) {
          ++j;
          continue;
        }
        j = q;
      }
      if (!is_space(h[j])) prev = h[j];
      ++j;
    }
    i = j < h.size() ? j + 1 : h.size();
    if (n != '/' && (name == "script" || name == "style" || name == "title")) {
      std::size_t e = ifind(h, "</" + name, i);
      if (e == std::string_view::npos) {
        i = h.size();
      } else {
        std::size_t g = h.find('>', e);
        i = g == std::string_view::npos ? h.size() : g + 1;
      }
    }
    start = i;
  }
  close(h.size());
  return out;
}

// Words (runs of >= min_len ASCII letters) inside `ranges`, skipping entity references and
// whitespace-delimited tokens that look like URLs, addresses or host names.
std::vector<Range> find_words(std::string_view t, const std::vector<Range>& ranges,
                              std::size_t min_len, bool html) {
  std::vector<Range> out;
  for (const Range& r : ranges) {
    std::size_t i = r.begin;
    while (i < r.end) {
      if (is_space(t[i])) {
        ++i;
        continue;
      }
      std::size_t tok_end = i;
      while (tok_end < r.end && !is_space(t[tok_end])) ++tok_end;
      std::string_view tok = t.substr(i, tok_end - i);
      bool skip = tok.find("://") != std::string_view::npos ||
                  tok.find('@') != std::string_view::npos || istarts_with(tok, "www.") ||
                  ifind(tok, ".com") != std::string_view::npos ||
                  ifind(tok, ".net") != std::string_view::npos ||
                  ifind(tok, ".org") != std::string_view::npos;
      if (!skip) {
        std::size_t j = i;
        while (j < tok_end) {
          if (html && t[j] == '&') {
            std::size_t k = j + 1;
            while (k < tok_end && k - j < 12 && (is_alnum(t[k]) || t[k] == '#')) ++k;
            if (k < tok_end && t[k] == ';') {
              j = k + 1;
              continue;
            }
          }
          if (is_alpha(t[j])) {
            std::size_t k = j;
            while (k < tok_end && is_alpha(t[k])) ++k;
            // A letter run glued to non-ASCII bytes is part of a longer word: leave it alone.
            bool glued = (j > i && static_cast<unsigned char>(t[j - 1]) >= 0x80) ||
                         (k < tok_end && static_cast<unsigned char>(t[k]) >= 0x80);
            if (k - j >= min_len && !glued) out.push_back({j, k});
            j = k;
          } else {
            ++j;
          }
        }
      }
      i = tok_end;
    }
  }
  return out;
}

struct Edit {
  std::size_t begin, end;
  std::string with;
};
// Applies edits (any order) to `s` in one pass; an edit overlapping an earlier one is skipped.
void apply_edits(std::string& s, std::vector<Edit> edits) {
  if (edits.empty()) return;
  std::stable_sort(edits.begin(), edits.end(),
                   [](const Edit& a, const Edit& b) { return a.begin < b.begin; });
  std::string out;
  std::size_t extra = 0;
  for (const auto& e : edits) extra += e.with.size();
  out.reserve(s.size() + extra);
  std::size_t pos = 0;
  for (const auto& e : edits) {
    if (e.begin < pos || e.end > s.size()) continue;  // overlapping: skip
    out.append(s, pos, e.begin - pos);
    out += e.with;
    pos = e.end;
  }
  out.append(s, pos, std::string::npos);
  s = std::move(out);
}

std::vector<Range> whole(std::string_view t) { return {Range{0, t.size()}}; }
std::vector<Range> text_ranges(const TextLeaf& l) {
  return l.html ? html_text_ranges(l.text) : whole(l.text);
}

// Insertion points in HTML.
std::size_t html_body_start(std::string_view h) {
  std::size_t b = ifind(h, "<body");
  if (b != std::string_view::npos) {
    std::size_t g = h.find('>', b);
    if (g != std::string_view::npos) return g + 1;
  }
  std::size_t hd = ifind(h, "</head>");
  if (hd != std::string_view::npos) return hd + 7;
  std::size_t ht = ifind(h, "<html");
  if (ht != std::string_view::npos) {
    std::size_t g = h.find('>', ht);
    if (g != std::string_view::npos) return g + 1;
  }
  return 0;
}
std::size_t html_body_end(std::string_view h) {
  std::size_t b = irfind(h, "</body");
  if (b != std::string_view::npos) return b;
  b = irfind(h, "</html");
  if (b != std::string_view::npos) return b;
  return h.size();
}

void append_text(TextLeaf& l, std::string_view plain, std::string_view html) {
  if (l.html) {
    l.text.insert(html_body_end(l.text), std::string("\n") + std::string(html) + "\n");
  } else {
    while (!l.text.empty() && l.text.back() == '\n') l.text.pop_back();
    l.text += "\n\n";
    l.text += plain;
    l.text += "\n";
  }
}
void prepend_text(TextLeaf& l, std::string_view plain, std::string_view html) {
  if (l.html) {
    l.text.insert(html_body_start(l.text), std::string("\n") + std::string(html) + "\n");
  } else {
    l.text.insert(0, std::string(plain) + "\n\n");
  }
}

// Greedy wrap at `width` columns.
std::string wrap(std::string_view words, std::size_t width) {
  std::string out;
  std::size_t col = 0;
  std::size_t i = 0;
  while (i < words.size()) {
    while (i < words.size() && is_space(words[i])) ++i;
    std::size_t j = i;
    while (j < words.size() && !is_space(words[j])) ++j;
    if (j == i) break;
    std::string_view w = words.substr(i, j - i);
    if (col > 0 && col + 1 + w.size() > width) {
      out += '\n';
      col = 0;
    } else if (col > 0) {
      out += ' ';
      ++col;
    }
    out += w;
    col += w.size();
    i = j;
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Charsets.
constexpr std::uint16_t kCp1252[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};
void put_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}
std::string latin_to_utf8(std::string_view s, bool cp1252) {
  std::string out;
  for (unsigned char c : s) {
    std::uint32_t cp = c;
    if (cp1252 && c >= 0x80 && c < 0xA0) cp = kCp1252[c - 0x80];
    put_utf8(cp, out);
  }
  return out;
}
// UTF-8 -> ISO-8859-1 when every character fits; nullopt otherwise.
std::optional<std::string> utf8_to_latin1(std::string_view s) {
  if (!valid_utf8(s)) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if ((c >> 5) == 6 && i + 1 < s.size()) {
      std::uint32_t cp = ((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
      if (cp > 0xFF) return std::nullopt;
      out += static_cast<char>(cp);
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  return out;
}
std::string charset_family(std::string_view cs) {
  std::string l = lower(trim(cs));
  if (l.empty() || l == "us-ascii" || l == "ascii") return "ascii";
  if (l == "iso-8859-1" || l == "latin1" || l == "iso8859-1" || l == "latin-1") return "latin1";
  if (l == "windows-1252" || l == "cp1252") return "cp1252";
  if (l == "utf-8" || l == "utf8") return "utf8";
  return l;
}
void replace_meta_charset(std::string& html, std::string_view cs) {
  std::size_t pos = 0;
  while ((pos = ifind(html, "charset=", pos)) != std::string::npos) {
    // Only inside a <meta ...> tag.
    std::size_t lt = html.rfind('<', pos);
    if (lt == std::string::npos || !istarts_with(std::string_view(html).substr(lt), "<meta")) {
      pos += 8;
      continue;
    }
    std::size_t s = pos + 8;
    if (s < html.size() && (html[s] == '"' || html[s] == '\'')) ++s;
    std::size_t e = s;
    while (e < html.size() && (is_alnum(html[e]) || html[e] == '-' || html[e] == '_')) ++e;
    html.replace(s, e - s, cs);
    pos = s + cs.size();
  }
}

// ------------------------------------------------------------------------------------------
// URLs.
std::vector<Range> find_urls(std::string_view t) {
  std::vector<Range> out;
  std::size_t i = 0;
  while (i < t.size()) {
    std::size_t p = ifind(t, "http", i);
    if (p == std::string_view::npos) break;
    std::size_t q = p + 4;
    if (q < t.size() && lower_c(t[q]) == 's') ++q;
    if (t.compare(q, 3, "://") != 0 || (p > 0 && is_alnum(t[p - 1]))) {
      i = p + 4;
      continue;
    }
    std::size_t e = q + 3;
    while (e < t.size()) {
      unsigned char c = static_cast<unsigned char>(t[e]);
      if (c <= 32 || c >= 127 || c == '"' || c == '\'' || c == '<' || c == '>' || c == ')' ||
          c == ']' || c == '}' || c == '|' || c == '\\' || c == '^' || c == '`')
        break;
      ++e;
    }
    while (e > q + 3 && (t[e - 1] == '.' || t[e - 1] == ',' || t[e - 1] == ';' || t[e - 1] == ':' ||
                         t[e - 1] == '!' || t[e - 1] == '?'))
      --e;
    if (e > q + 4) out.push_back({p, e});
    i = std::max(e, p + 4);
  }
  return out;
}

struct UrlParts {
  std::string scheme_host;  // "http://host[:port]"
  std::string path;         // "/..." or ""
  std::string query;        // without '?', "" when none
  bool has_query = false;
  std::string fragment;  // with '#', or ""
};
UrlParts split_url(std::string_view u) {
  UrlParts p;
  std::size_t s = u.find("://");
  std::size_t h = s == std::string_view::npos ? 0 : s + 3;
  std::size_t e = h;
  while (e < u.size() && u[e] != '/' && u[e] != '?' && u[e] != '#') ++e;
  p.scheme_host = std::string(u.substr(0, e));
  std::size_t f = u.find('#', e);
  std::string_view rest = u.substr(e, f == std::string_view::npos ? u.size() - e : f - e);
  if (f != std::string_view::npos) p.fragment = std::string(u.substr(f));
  std::size_t qm = rest.find('?');
  p.path = std::string(rest.substr(0, qm));
  if (qm != std::string_view::npos) {
    p.has_query = true;
    p.query = std::string(rest.substr(qm + 1));
  }
  return p;
}
// Random token of the same shape as `s` (digits stay digits, letters keep their case).
std::string same_shape(Rng& rng, std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (is_digit(c))
      c = static_cast<char>('0' + rng.below(10));
    else if (c >= 'a' && c <= 'z')
      c = static_cast<char>('a' + rng.below(26));
    else if (c >= 'A' && c <= 'Z')
      c = static_cast<char>('A' + rng.below(26));
  }
  return out;
}
bool id_like(std::string_view seg) {
  std::size_t digits = 0, alnum = 0;
  for (char c : seg) {
    if (is_digit(c)) ++digits;
    if (is_alnum(c)) ++alnum;
  }
  if (seg.find('.') != std::string_view::npos) return false;  // file names stay
  return (digits > 0 && alnum >= 3) || alnum >= 12;
}

// ------------------------------------------------------------------------------------------
// The mutations.
struct Recipient {
  std::string first, last, email, id;
};
Recipient make_recipient(Rng& rng) {
  Recipient r;
  r.first = std::string(rng.pick(kFirstNames));
  r.last = std::string(rng.pick(kLastNames));
  std::string local;
  switch (rng.below(4)) {
    case 0: local = lower(r.first) + "." + lower(r.last); break;
    case 1: local = lower(r.first.substr(0, 1)) + lower(r.last); break;
    case 2: local = lower(r.first) + std::to_string(rng.range(1, 999)); break;
    default: local = lower(r.last) + "_" + lower(r.first.substr(0, 1)); break;
  }
  r.email = local + "@" + std::string(rng.pick(kMailDomains));
  r.id = random_token(rng, 6, 10, true);
  return r;
}

struct Ctx {
  Mail mail;
  Rng rng;
  Recipient rcpt;
  std::vector<std::string> applied;
  bool stress = false;
  Ctx(std::string_view raw, std::uint64_t seed) : mail(parse_mail(raw)), rng(seed), rcpt() {
    Rng r(seed ^ 0x5EEDull);
    rcpt = make_recipient(r);
  }
};

void note(Ctx& c, std::string_view kind, std::string_view what) {
  c.applied.push_back(std::string(kind) + ":" + std::string(what));
}

// --- hash-buster ---------------------------------------------------------------------------
void hash_buster(Ctx& c) {
  Rng& rng = c.rng;
  auto leaves = text_leaves(c.mail);
  if (leaves.empty()) {
    note(c, "hash-buster", "no-text");
    return;
  }
  bool any_html = std::any_of(leaves.begin(), leaves.end(), [](auto& l) { return l.html; });
  int nops = rng.chance(c.stress ? 0.6 : 0.3) ? 2 : 1;
  std::vector<int> ops;
  while (static_cast<int>(ops.size()) < nops) {
    int op = static_cast<int>(rng.below(5));
    if (op == 3 && !any_html) op = 0;
    if (std::find(ops.begin(), ops.end(), op) == ops.end()) ops.push_back(op);
  }
  for (int op : ops) {
    switch (op) {
      case 0: {  // a paragraph of random dictionary words at the end
        std::string para =
            random_words(rng, c.stress ? rng.range(30, 120) : rng.range(8, 30), true);
        bool small = rng.chance(0.5);
        std::string html = small ? "<p><font size=\"1\" color=\"#999999\">" + para + "</font></p>"
                                 : "<p>" + para + "</p>";
        for (auto& l : leaves) append_text(l, wrap(para, 72), html);
        note(c, "hash-buster", "append-words");
        break;
      }
      case 1: {  // random strings at the end
        std::string lines;
        int n = c.stress ? rng.range(3, 6) : rng.range(1, 3);
        for (int i = 0; i < n; ++i) {
          if (i) lines += '\n';
          int k = rng.range(1, 6);
          for (int j = 0; j < k; ++j) {
            if (j) lines += ' ';
            lines += random_token(rng, 4, 14);
          }
        }
        std::string html = lines;
        replace_all(html, "\n", "<br>\n");
        for (auto& l : leaves) append_text(l, lines, html);
        note(c, "hash-buster", "append-gibberish");
        break;
      }
      case 2: {  // random sentence at the top
        std::string s = random_words(rng, c.stress ? rng.range(10, 30) : rng.range(4, 12), true);
        for (auto& l : leaves) prepend_text(l, wrap(s, 72), "<p>" + s + "</p>");
        note(c, "hash-buster", "prepend-words");
        break;
      }
      case 3: {  // hidden random words inside the HTML
        static constexpr std::string_view kHidden[] = {
            "<span style=\"display:none\">", "<div style=\"display: none;\">",
            "<font style=\"font-size:0px\">", "<span style=\"font-size: 0\">",
            "<p style=\"display:none\">"};
        for (auto& l : leaves) {
          if (!l.html) continue;
          int n = c.stress ? rng.range(2, 5) : rng.range(1, 3);
          auto ranges = html_text_ranges(l.text);
          auto words = find_words(l.text, ranges, 1, true);
          std::vector<Edit> edits;
          for (int i = 0; i < n && !words.empty(); ++i) {
            std::size_t idx = rng.below(words.size());
            std::string_view open = rng.pick(kHidden);
            std::string tag = std::string(open.substr(1, open.find_first_of(" >") - 1));
            std::string junk =
                random_words(rng, c.stress ? rng.range(40, 150) : rng.range(10, 40), false);
            edits.push_back(
                {words[idx].begin, words[idx].begin, std::string(open) + junk + "</" + tag + "> "});
          }
          apply_edits(l.text, std::move(edits));
        }
        note(c, "hash-buster", "hidden-html");
        break;
      }
      default: {  // short random lines between paragraphs
        int n = c.stress ? rng.range(4, 8) : rng.range(2, 4);
        for (auto& l : leaves) {
          std::vector<std::size_t> breaks;
          if (l.html) {
            for (std::size_t p = 0; (p = ifind(l.text, "<p", p)) != std::string::npos; p += 2) {
              if (p + 2 < l.text.size() && (l.text[p + 2] == '>' || is_space(l.text[p + 2])) &&
                  p >= html_body_start(l.text))
                breaks.push_back(p);
            }
            for (std::size_t p = 0; (p = ifind(l.text, "<br", p)) != std::string::npos; p += 3) {
              if (p >= html_body_start(l.text)) breaks.push_back(p);
            }
          } else {
            for (std::size_t p = 0; (p = l.text.find("\n\n", p)) != std::string::npos; p += 2)
              breaks.push_back(p + 1);
          }
          if (breaks.empty()) {
            append_text(l, random_token(rng, 6, 12), random_token(rng, 6, 12));
            continue;
          }
          std::vector<Edit> edits;
          for (std::size_t i : rng.choose(breaks.size(), static_cast<std::size_t>(n))) {
            std::string junk = rng.chance(0.5) ? random_token(rng, 5, 12)
                                               : random_words(rng, rng.range(2, 5), false);
            edits.push_back(
                {breaks[i], breaks[i], l.html ? "<p>" + junk + "</p>\n" : junk + "\n\n"});
          }
          apply_edits(l.text, std::move(edits));
        }
        note(c, "hash-buster", "interleave");
        break;
      }
    }
  }
  for (auto& l : leaves) store(l);
}

// --- personalisation -----------------------------------------------------------------------
std::string find_address(std::string_view v) {
  std::size_t at = v.find('@');
  if (at == std::string_view::npos) return {};
  std::size_t b = at, e = at + 1;
  auto ok = [](char ch) {
    return is_alnum(ch) || ch == '.' || ch == '_' || ch == '-' || ch == '+';
  };
  while (b > 0 && ok(v[b - 1])) --b;
  while (e < v.size() && ok(v[e])) ++e;
  if (b == at || e == at + 1) return {};
  return std::string(v.substr(b, e - b));
}

void personalise(Ctx& c) {
  Rng& rng = c.rng;
  const Recipient& r = c.rcpt;
  std::string old_addr = find_address(c.mail.top.get("To"));
  switch (rng.below(3)) {
    case 0: c.mail.top.set("To", r.first + " " + r.last + " <" + r.email + ">"); break;
    case 1: c.mail.top.set("To", "<" + r.email + ">"); break;
    default: c.mail.top.set("To", r.email); break;
  }
  note(c, "personalise", "to");
  auto leaves = text_leaves(c.mail);
  if (leaves.empty()) return;

  // Greeting, per-recipient ID, "sent to" line, address replacement: 2-4 of them.
  std::vector<int> ops;
  for (std::size_t i : rng.choose(4, static_cast<std::size_t>(rng.range(2, 4))))
    ops.push_back(static_cast<int>(i));
  std::string greeting;
  switch (rng.below(5)) {
    case 0: greeting = "Dear " + r.first + ","; break;
    case 1: greeting = "Hi " + r.first + ","; break;
    case 2: greeting = "Hello " + r.first + " " + r.last + ","; break;
    case 3: greeting = "Dear " + r.email + ","; break;
    default: greeting = r.first + " -"; break;
  }
  std::string id_line;
  switch (rng.below(4)) {
    case 0: id_line = "Your reference number: " + r.id; break;
    case 1: id_line = "Customer ID: " + random_token(rng, 2, 2) + "-" + r.id; break;
    case 2: id_line = "Offer code for " + r.first + ": " + r.id; break;
    default: id_line = "Member #" + r.id; break;
  }
  for (int op : ops) {
    switch (op) {
      case 0:
        for (auto& l : leaves) prepend_text(l, greeting, "<p>" + html_escape(greeting) + "</p>");
        note(c, "personalise", "greeting");
        break;
      case 1: {
        bool top = rng.chance(0.4);
        for (auto& l : leaves) {
          if (top)
            prepend_text(l, id_line, "<p>" + html_escape(id_line) + "</p>");
          else
            append_text(l, id_line, "<p>" + html_escape(id_line) + "</p>");
        }
        note(c, "personalise", "id");
        break;
      }
      case 2: {
        std::string line = "This message was sent to " + r.email +
                           (rng.chance(0.5) ? "." : " because you subscribed to our partners.");
        for (auto& l : leaves)
          append_text(l, wrap(line, 72),
                      "<p><font size=\"1\">" + html_escape(line) + "</font></p>");
        note(c, "personalise", "sent-to");
        break;
      }
      default: {
        bool done = false;
        if (!old_addr.empty()) {
          for (auto& l : leaves) {
            std::size_t p = 0;
            while ((p = ifind(l.text, old_addr, p)) != std::string::npos) {
              l.text.replace(p, old_addr.size(), r.email);
              p += r.email.size();
              done = true;
            }
          }
        }
        if (!done) {
          // No address to replace: put the recipient's name into the first sentence instead.
          for (auto& l : leaves) {
            auto words = find_words(l.text, text_ranges(l), 3, l.html);
            if (words.empty()) continue;
            Range w = words[0];
            std::string first_word = l.text.substr(w.begin, w.end - w.begin);
            std::string lowered = first_word;
            if (!(lowered.size() > 1 && is_alpha(lowered[1]) && upper_c(lowered[1]) == lowered[1]))
              lowered[0] = lower_c(lowered[0]);
            l.text.replace(w.begin, w.end - w.begin, r.first + ", " + lowered);
          }
        }
        note(c, "personalise", done ? "address" : "name-in-text");
        break;
      }
    }
  }
  for (auto& l : leaves) store(l);
}

// --- tracking URLs -------------------------------------------------------------------------
std::string redirector_host(Rng& rng) {
  switch (rng.below(4)) {
    case 0: return "click." + random_domain(rng);
    case 1: return "trk." + random_domain(rng);
    case 2: return "rd." + random_domain(rng);
    default: return "www." + random_domain(rng);
  }
}

std::string retrack(Rng& rng, std::string_view url, bool query, bool path, bool redirect,
                    bool in_html) {
  UrlParts p = split_url(url);
  if (query) {
    if (p.has_query && !p.query.empty()) {
      std::string q;
      std::size_t i = 0;
      while (i <= p.query.size()) {
        std::size_t amp = p.query.find('&', i);
        std::string_view kv = std::string_view(p.query).substr(
            i, amp == std::string::npos ? p.query.size() - i : amp - i);
        std::size_t eq = kv.find('=');
        if (eq == std::string_view::npos) {
          q += id_like(kv) ? same_shape(rng, kv) : std::string(kv);
        } else {
          std::string_view v = kv.substr(eq + 1);
          q += std::string(kv.substr(0, eq + 1));
          // Values that are URLs or words stay; identifiers get new random values.
          if (v.find("://") != std::string_view::npos || v.find('%') != std::string_view::npos)
            q += std::string(v);
          else
            q += v.size() >= 3 ? same_shape(rng, v) : random_token(rng, 5, 10);
        }
        if (amp == std::string::npos) break;
        q += '&';
        i = amp + 1;
      }
      p.query = q;
    } else {
      p.has_query = true;
      p.query = std::string(rng.pick(kQueryKeys)) + "=" + random_token(rng, 6, 16);
      if (rng.chance(0.4)) {
        p.query += (in_html ? "&amp;" : "&") + std::string(rng.pick(kQueryKeys)) + "=" +
                   random_token(rng, 3, 8, true);
      }
    }
  }
  if (path) {
    bool changed = false;
    std::string np;
    std::size_t i = 0;
    while (i < p.path.size()) {
      std::size_t s = p.path.find('/', i + 1);
      std::string_view seg = std::string_view(p.path).substr(
          i, s == std::string::npos ? p.path.size() - i : s - i);  // includes leading '/'
      std::string_view body = seg.substr(seg.empty() ? 0 : 1);
      if (id_like(body)) {
        np += "/" + same_shape(rng, body);
        changed = true;
      } else {
        np += std::string(seg);
      }
      if (s == std::string::npos) break;
      i = s;
    }
    if (!changed) np = "/" + random_token(rng, 5, 10) + (p.path.empty() ? "/" : p.path);
    p.path = np;
  }
  std::string out = p.scheme_host + p.path + (p.has_query ? "?" + p.query : "") + p.fragment;
  if (redirect) {
    std::string host = redirector_host(rng);
    switch (rng.below(4)) {
      case 0: out = "http://" + host + "/r?u=" + pct_encode(out); break;
      case 1: out = "http://" + host + "/" + random_token(rng, 6, 10) + "/*" + out; break;
      case 2: out = "http://" + host + "/cgi-bin/redirect.cgi?" + out; break;
      default:
        out = "http://" + host + "/click/" + random_token(rng, 6, 12) + "?url=" + pct_encode(out);
        break;
    }
  }
  return out;
}

void tracking_urls(Ctx& c) {
  Rng& rng = c.rng;
  auto leaves = text_leaves(c.mail);
  if (leaves.empty()) {
    note(c, "tracking-urls", "no-text");
    return;
  }
  bool any_url = false;
  for (auto& l : leaves) any_url = any_url || !find_urls(l.text).empty();
  bool query = false, path = false, redirect = false, unsub = !any_url || rng.chance(0.4);
  if (any_url) {
    while (!query && !path && !redirect) {
      query = rng.chance(c.stress ? 0.9 : 0.7);
      path = rng.chance(c.stress ? 0.7 : 0.4);
      redirect = rng.chance(c.stress ? 0.6 : 0.35);
    }
  }
  if (query) note(c, "tracking-urls", "query");
  if (path) note(c, "tracking-urls", "path");
  if (redirect) note(c, "tracking-urls", "redirector");
  std::string unsub_host;
  for (auto& l : leaves) {
    auto urls = find_urls(l.text);
    if (unsub_host.empty() && !urls.empty()) {
      unsub_host =
          split_url(std::string_view(l.text).substr(urls[0].begin, urls[0].end - urls[0].begin))
              .scheme_host;
    }
    std::vector<Edit> edits;
    for (const Range& u : urls) {
      std::string_view url = std::string_view(l.text).substr(u.begin, u.end - u.begin);
      // Leave mailto-like and image URLs alone only when nothing would change anyway.
      edits.push_back({u.begin, u.end, retrack(rng, url, query, path, redirect, l.html)});
    }
    apply_edits(l.text, std::move(edits));
  }
  if (unsub) {
    if (unsub_host.empty()) unsub_host = "http://www." + random_domain(rng);
    std::string link = unsub_host + "/unsubscribe?email=" + pct_encode(c.rcpt.email);
    std::string link_html = link + "&amp;id=" + c.rcpt.id;
    link += "&id=" + c.rcpt.id;
    for (auto& l : leaves) {
      append_text(l, "To be removed from our list, visit " + link,
                  "<p><font size=\"1\">To be removed from our list, <a href=\"" + link_html +
                      "\">click here</a>.</font></p>");
    }
    note(c, "tracking-urls", "unsubscribe");
  }
  for (auto& l : leaves) store(l);
}

// --- re-encoding ---------------------------------------------------------------------------
std::string rewrap_plain(std::string_view text, std::size_t width) {
  std::string out;
  auto lines = split_lines(text);
  std::vector<std::string_view> para;
  auto flush = [&] {
    if (para.empty()) return;
    bool prose = true;
    for (auto l : para) {
      if (!l.empty() && (l[0] == ' ' || l[0] == '\t' || l[0] == '>')) prose = false;
      if (l.find("   ") != std::string_view::npos || l.find('\t') != std::string_view::npos)
        prose = false;
    }
    if (prose) {
      std::string joined;
      for (auto l : para) {
        if (!joined.empty()) joined += ' ';
        joined += l;
      }
      out += wrap(joined, width);
      out += '\n';
    } else {
      for (auto l : para) {
        out += l;
        out += '\n';
      }
    }
    para.clear();
  };
  auto rule = [](std::string_view l) {  // separator lines ("-----", "____") stay on their own
    for (char ch : l)
      if (is_alnum(ch)) return false;
    return l.size() >= 3;
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (trim(lines[i]).empty()) {
      flush();
      if (i + 1 < lines.size()) out += '\n';
    } else if (rule(trim(lines[i]))) {
      flush();
      out += lines[i];
      out += '\n';
    } else {
      para.push_back(lines[i]);
    }
  }
  flush();
  return out;
}

std::string rewrap_html(std::string_view h, std::size_t width) {
  std::string out(h);
  auto ranges = html_text_ranges(out);
  std::size_t col = 0, ri = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    while (ri < ranges.size() && ranges[ri].end <= i) ++ri;
    bool in_text = ri < ranges.size() && ranges[ri].begin <= i;
    if (out[i] == '\n') {
      col = 0;
      continue;
    }
    if (in_text && out[i] == ' ' && col >= width) {
      out[i] = '\n';
      col = 0;
      continue;
    }
    ++col;
  }
  return out;
}

void reencode(Ctx& c) {
  Rng& rng = c.rng;
  auto leaves = text_leaves(c.mail);
  std::vector<std::size_t> ops = rng.choose(4, static_cast<std::size_t>(rng.range(1, 3)));
  if (leaves.empty()) ops = {2};
  bool any = false;
  for (std::size_t op : ops) {
    switch (op) {
      case 0: {  // transfer encoding
        std::string what;
        for (auto& l : leaves) {
          static constexpr Cte kChoices[] = {Cte::kQp, Cte::kBase64, Cte::k8bit};
          Cte n;
          do {
            n = rng.pick(kChoices);
          } while (n == l.cte ||
                   (n == Cte::k8bit && (l.cte == Cte::k7bit || l.cte == Cte::kBinary)));
          l.cte = n;
          what = std::string(cte_name(n));
        }
        note(c, "reencode", "cte=" + what);
        any = true;
        break;
      }
      case 1: {  // line re-wrapping
        std::size_t width = static_cast<std::size_t>(rng.range(48, 76));
        for (auto& l : leaves)
          l.text = l.html ? rewrap_html(l.text, width) : rewrap_plain(l.text, width);
        note(c, "reencode", "rewrap=" + std::to_string(width));
        any = true;
        break;
      }
      case 2:  // line ends
        c.mail.crlf = !c.mail.crlf;
        note(c, "reencode", c.mail.crlf ? "crlf" : "lf");
        any = true;
        break;
      default: {  // charset
        std::string what;
        for (auto& l : leaves) {
          std::string fam = charset_family(l.ct.param("charset"));
          std::string to;
          if (fam == "ascii" && !is_ascii(l.text)) fam = "cp1252";  // undeclared 8-bit
          if (fam == "ascii") {
            to = rng.chance(0.5) ? "utf-8" : "iso-8859-1";
          } else if (fam == "latin1" || fam == "cp1252") {
            // What a reader saw: ISO-8859-1 labels are read as windows-1252 (as MUAs and
            // browsers do), so 0x80-0x9F stay the quotes and dashes they were.
            l.text = latin_to_utf8(l.text, true);
            to = "utf-8";
          } else if (fam == "utf8") {
            if (auto lat = utf8_to_latin1(l.text)) {
              l.text = *lat;
              to = "iso-8859-1";
            }
          }
          if (to.empty()) continue;
          set_leaf_type(l, l.ct.type, to);
          if (l.html) replace_meta_charset(l.text, to);
          what = to;
        }
        if (!what.empty()) {
          note(c, "reencode", "charset=" + what);
          any = true;
        }
        break;
      }
    }
  }
  if (!any) {  // nothing applicable: change the transfer encoding of every text leaf
    for (auto& l : leaves) l.cte = l.cte == Cte::kBase64 ? Cte::kQp : Cte::kBase64;
    note(c, "reencode", "cte");
  }
  for (auto& l : leaves) store(l);
}

// --- HTML obfuscation ----------------------------------------------------------------------
std::string text_to_html(std::string_view text) {
  std::string out = "<html><head></head><body>\n";
  auto lines = split_lines(text);
  std::string para;
  auto linkify = [](std::string_view line) {
    std::string o;
    auto urls = find_urls(line);
    std::size_t pos = 0;
    for (const Range& u : urls) {
      o += html_escape(line.substr(pos, u.begin - pos));
      std::string url(line.substr(u.begin, u.end - u.begin));
      o += "<a href=\"" + html_escape(url) + "\">" + html_escape(url) + "</a>";
      pos = u.end;
    }
    o += html_escape(line.substr(pos));
    return o;
  };
  auto flush = [&] {
    if (!para.empty()) out += "<p>" + para + "</p>\n";
    para.clear();
  };
  for (auto line : lines) {
    if (trim(line).empty()) {
      flush();
      continue;
    }
    if (!para.empty()) para += "<br>\n";
    para += linkify(line);
  }
  flush();
  out += "</body></html>\n";
  return out;
}

void html_obfuscate(Ctx& c) {
  Rng& rng = c.rng;
  auto leaves = text_leaves(c.mail);
  bool any_html = std::any_of(leaves.begin(), leaves.end(), [](auto& l) { return l.html; });
  if (!any_html) {
    bool alternative = rng.chance(0.3);
    for (auto& l : leaves) {
      std::string html = text_to_html(l.text);
      if (alternative) {
        // multipart/alternative: the original text/plain first, the HTML version second.
        std::string cs = l.ct.param("charset");
        Entity& e = *l.e;
        store(l);
        wrap_multipart(e, "alternative", new_boundary(rng));
        Entity h;
        h.fields.push_back(
            {"Content-Type",
             " text/html; charset=\"" + (cs.empty() ? std::string("us-ascii") : cs) + "\""});
        store_text(h, html, l.cte == Cte::kBase64 ? Cte::kBase64 : Cte::kQp, false);
        e.children.push_back(std::move(h));
      } else {
        l.text = html;
        set_leaf_type(l, "text/html", l.ct.param("charset"));
        store(l);
      }
    }
    note(c, "html-obfuscation", alternative ? "text-to-alternative" : "text-to-html");
    leaves = text_leaves(c.mail);
  }
  // 2-4 techniques, the same for every HTML leaf.
  std::vector<std::size_t> techniques =
      rng.choose(5, static_cast<std::size_t>(c.stress ? rng.range(3, 5) : rng.range(2, 4)));
  const double scale = c.stress ? 2.0 : 1.0;
  static constexpr std::string_view kNames[] = {"tags", "comments", "entities", "hidden",
                                                "zero-width"};
  for (std::size_t t : techniques) note(c, "html-obfuscation", kNames[t]);
  static constexpr std::string_view kEmptyTags[] = {"<b></b>",       "<i></i>", "<span></span>",
                                                    "<font></font>", "<u></u>", "<o:p></o:p>"};
  static constexpr std::string_view kWrapTags[] = {"b", "i", "span", "font", "strong"};
  static constexpr std::string_view kZw[] = {"&#8203;", "&#x200B;", "&#x200b;", "&zwnj;",
                                             "&#8204;", "&#xFEFF;", "&#8205;"};
  static constexpr std::string_view kHiddenOpen[] = {
      "<span style=\"display:none\">", "<div style=\"display: none\">",
      "<font style=\"font-size:0px\">", "<span style=\"font-size:0\">",
      "<span style=\"DISPLAY: none\">"};
  for (auto& l : leaves) {
    if (!l.html) continue;
    bool utf8 = charset_family(l.ct.param("charset")) == "utf8";
    auto ranges = html_text_ranges(l.text);
    auto words = l.word_safe ? find_words(l.text, ranges, 3, true) : std::vector<Range>{};
    std::vector<Edit> edits;
    std::vector<bool> used(words.size(), false);
    auto pick_words = [&](double frac) {
      std::vector<std::size_t> out;
      std::size_t n = static_cast<std::size_t>(static_cast<double>(words.size()) * frac + 0.5);
      if (n == 0 && !words.empty()) n = 1;
      for (std::size_t i : rng.choose(words.size(), n)) {
        if (!used[i]) {
          used[i] = true;
          out.push_back(i);
        }
      }
      return out;
    };
    for (std::size_t t : techniques) {
      switch (t) {
        case 0:  // tags inside words
          for (std::size_t i :
               pick_words(scale * (0.10 + 0.15 * static_cast<double>(rng.below(100)) / 100))) {
            Range w = words[i];
            std::size_t len = w.end - w.begin;
            std::size_t p = w.begin + 1 + rng.below(len - 1);
            if (rng.chance(0.4) && p + 1 < w.end) {
              std::string tag(rng.pick(kWrapTags));
              edits.push_back({p, p + 1, "<" + tag + ">" + l.text[p] + "</" + tag + ">"});
            } else {
              edits.push_back({p, p, std::string(rng.pick(kEmptyTags))});
            }
          }
          break;
        case 1:  // comments inside words
          for (std::size_t i :
               pick_words(scale * (0.05 + 0.10 * static_cast<double>(rng.below(100)) / 100))) {
            Range w = words[i];
            std::size_t p = w.begin + 1 + rng.below(w.end - w.begin - 1);
            edits.push_back({p, p, "<!-- " + random_token(rng, 0, 8) + " -->"});
          }
          break;
        case 2:  // character references for some letters
          for (std::size_t i :
               pick_words(scale * (0.10 + 0.15 * static_cast<double>(rng.below(100)) / 100))) {
            Range w = words[i];
            std::size_t len = w.end - w.begin;
            std::string rep;
            auto which = rng.choose(len, static_cast<std::size_t>(rng.range(1, 3)));
            std::size_t wi = 0;
            for (std::size_t k = 0; k < len; ++k) {
              char ch = l.text[w.begin + k];
              if (wi < which.size() && which[wi] == k) {
                ++wi;
                char buf[16];
                if (rng.chance(0.5))
                  std::snprintf(buf, sizeof buf, "&#%d;", ch);
                else
                  std::snprintf(buf, sizeof buf, rng.chance(0.5) ? "&#x%x;" : "&#x%X;", ch);
                rep += buf;
              } else {
                rep += ch;
              }
            }
            edits.push_back({w.begin, w.end, rep});
          }
          break;
        case 3: {  // invisible elements with junk, between words and (less often) inside them
          int n = c.stress ? rng.range(5, 10) : rng.range(2, 5);
          for (int k = 0; k < n && !words.empty(); ++k) {
            std::size_t i = rng.below(words.size());
            if (used[i]) continue;
            used[i] = true;
            std::string_view open = rng.pick(kHiddenOpen);
            std::string tag(open.substr(1, open.find(' ') - 1));
            Range w = words[i];
            if (rng.chance(0.3)) {
              std::size_t p = w.begin + 1 + rng.below(w.end - w.begin - 1);
              edits.push_back(
                  {p, p, std::string(open) + random_token(rng, 2, 5) + "</" + tag + ">"});
            } else {
              edits.push_back({w.begin, w.begin,
                               std::string(open) + random_words(rng, rng.range(3, 12), false) +
                                   " </" + tag + ">"});
            }
          }
          break;
        }
        default:  // zero-width characters inside words
          for (std::size_t i :
               pick_words(scale * (0.10 + 0.10 * static_cast<double>(rng.below(100)) / 100))) {
            Range w = words[i];
            std::size_t p = w.begin + 1 + rng.below(w.end - w.begin - 1);
            std::string zw =
                utf8 && rng.chance(0.5) ? std::string("\xE2\x80\x8B") : std::string(rng.pick(kZw));
            edits.push_back({p, p, zw});
          }
          break;
      }
    }
    apply_edits(l.text, std::move(edits));
    store(l);
  }
}

// --- typos ---------------------------------------------------------------------------------
std::string typo(Rng& rng, std::string w, std::string* what) {
  static constexpr std::pair<char, std::string_view> kLook[] = {
      {'o', "0"}, {'O', "0"}, {'l', "1"}, {'i', "1"}, {'I', "1"}, {'e', "3"},
      {'a', "@"}, {'s', "$"}, {'S', "5"}, {'E', "3"}, {'A', "4"}, {'B', "8"}};
  std::size_t n = w.size();
  switch (rng.below(7)) {
    case 0: {
      std::size_t p = rng.below(n);
      char r = static_cast<char>('a' + rng.below(26));
      w[p] = (w[p] >= 'A' && w[p] <= 'Z') ? upper_c(r) : r;
      *what = "substitute";
      break;
    }
    case 1: {
      std::size_t p = rng.below(n - 1);
      std::swap(w[p], w[p + 1]);
      *what = "swap";
      break;
    }
    case 2: {
      std::size_t p = rng.below(n);
      w.insert(p, 1, w[p]);
      *what = "double";
      break;
    }
    case 3:
      if (n >= 5) {
        w.erase(1 + rng.below(n - 2), 1);
        *what = "drop";
        break;
      }
      [[fallthrough]];
    case 4: {
      int k = rng.range(0, 2);
      if (k == 0)
        for (char& ch : w) ch = upper_c(ch);
      else if (k == 1)
        for (char& ch : w) ch = lower_c(ch);
      else
        w[0] = upper_c(w[0]);
      if (k == 2)
        for (std::size_t i = 1; i < n; ++i) w[i] = lower_c(w[i]);
      *what = "case";
      break;
    }
    default: {
      std::vector<std::size_t> cands;
      for (std::size_t i = 0; i < n; ++i)
        for (const auto& [from, to] : kLook)
          if (w[i] == from) cands.push_back(i);
      if (cands.empty()) {
        w[rng.below(n)] = static_cast<char>('a' + rng.below(26));
        *what = "substitute";
        break;
      }
      std::size_t p = cands[rng.below(cands.size())];
      for (const auto& [from, to] : kLook) {
        if (w[p] == from) {
          w.replace(p, 1, to);
          break;
        }
      }
      *what = "lookalike";
      break;
    }
  }
  return w;
}

void typos(Ctx& c) {
  Rng& rng = c.rng;
  auto leaves = text_leaves(c.mail);
  std::set<std::string> kinds;
  for (auto& l : leaves) {
    if (!l.word_safe) continue;
    auto words = find_words(l.text, text_ranges(l), 4, l.html);
    if (words.empty()) continue;
    // A few words: ~1-3% of them, at least 1, at most 8.
    double rate = c.stress ? 0.04 + 0.04 * static_cast<double>(rng.below(100)) / 100
                           : 0.01 + 0.02 * static_cast<double>(rng.below(100)) / 100;
    std::size_t n = static_cast<std::size_t>(static_cast<double>(words.size()) * rate + 0.5);
    n = std::clamp<std::size_t>(n, 1, c.stress ? 30 : 8);
    std::vector<Edit> edits;
    for (std::size_t i : rng.choose(words.size(), n)) {
      std::string what;
      std::string w = l.text.substr(words[i].begin, words[i].end - words[i].begin);
      edits.push_back({words[i].begin, words[i].end, typo(rng, w, &what)});
      kinds.insert(what);
    }
    apply_edits(l.text, std::move(edits));
    store(l);
  }
  if (kinds.empty()) note(c, "typos", "none");
  for (const auto& k : kinds) note(c, "typos", k);
}

// --- headers -------------------------------------------------------------------------------
std::string encode_word(std::string_view s, bool base64) {
  std::string cs = valid_utf8(s) ? "utf-8" : "iso-8859-1";
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t n = std::min<std::size_t>(s.size() - i, base64 ? 36 : 24);
    // Do not split a UTF-8 sequence.
    while (cs == "utf-8" && i + n < s.size() && (static_cast<unsigned char>(s[i + n]) >> 6) == 2)
      --n;
    std::string_view chunk = s.substr(i, n);
    if (!out.empty()) out += "\n ";
    if (base64) {
      std::string b = b64_encode(chunk, 0);
      out += "=?" + cs + "?B?" + b + "?=";
    } else {
      out += "=?" + cs + "?Q?";
      static constexpr char kHex[] = "0123456789ABCDEF";
      for (unsigned char ch : chunk) {
        if (ch == ' ')
          out += '_';
        else if (is_alnum(static_cast<char>(ch)))
          out += static_cast<char>(ch);
        else {
          out += '=';
          out += kHex[ch >> 4];
          out += kHex[ch & 15];
        }
      }
      out += "?=";
    }
    i += n;
  }
  return out;
}

void headers(Ctx& c) {
  Rng& rng = c.rng;
  Entity& top = c.mail.top;
  std::vector<std::size_t> ops = rng.choose(7, static_cast<std::size_t>(rng.range(2, 5)));
  for (std::size_t op : ops) {
    switch (op) {
      case 0: {  // Subject
        std::string subj = top.get("Subject");
        bool encoded = subj.find("=?") != std::string::npos;
        switch (rng.below(encoded ? 4 : 5)) {
          case 0: {
            static constexpr std::string_view kPre[] = {"Re: ", "RE: ", "Fwd: ", "FW: ", "ADV: "};
            subj = std::string(rng.pick(kPre)) + subj;
            break;
          }
          case 1:
            switch (rng.below(4)) {
              case 0: subj += " #" + random_token(rng, 4, 6, true); break;
              case 1: subj += " [" + random_token(rng, 5, 8) + "]"; break;
              case 2: subj += "   " + random_token(rng, 6, 12); break;
              default: subj += " - " + random_token(rng, 5, 7, true); break;
            }
            break;
          case 2: subj = c.rcpt.first + ", " + subj; break;
          case 3:
            if (!encoded) {
              for (char& ch : subj) ch = rng.chance(0.5) ? upper_c(ch) : ch;
            } else {
              subj += " !!";
            }
            break;
          default: subj = encode_word(subj, rng.chance(0.5)); break;
        }
        top.set("Subject", subj);
        note(c, "headers", "subject");
        break;
      }
      case 1: {
        std::string name =
            std::string(rng.pick(kFirstNames)) + " " + std::string(rng.pick(kLastNames));
        top.set("From",
                "\"" + name + "\" <" + random_token(rng, 5, 10) + "@" + random_domain(rng) + ">");
        note(c, "headers", "from");
        break;
      }
      case 2:
        top.set("Message-ID", "<" + random_token(rng, 10, 18) + "." +
                                  random_token(rng, 4, 6, true) + "@" + random_domain(rng) + ">");
        note(c, "headers", "message-id");
        break;
      case 3:
        top.set("Date", random_date(rng));
        note(c, "headers", "date");
        break;
      case 4: {
        top.remove("Received");
        int n = rng.range(1, 3);
        std::vector<Field> rec;
        for (int i = 0; i < n; ++i) {
          std::string host = random_token(rng, 3, 8) + "." + random_domain(rng);
          rec.push_back({"Received", " from " + host + " ([" + random_ip(rng) + "])\n\tby mx" +
                                         std::to_string(rng.range(1, 9)) + "." +
                                         random_domain(rng) + " with SMTP id " +
                                         random_token(rng, 8, 12) + ";\n\t" + random_date(rng)});
        }
        top.fields.insert(top.fields.begin(), rec.begin(), rec.end());
        note(c, "headers", "received");
        break;
      }
      case 5: {
        int n = rng.range(1, 3);
        for (int i = 0; i < n; ++i) {
          switch (rng.below(4)) {
            case 0: top.set("X-Mailer", rng.pick(kMailers)); break;
            case 1:
              top.set("X-Priority", std::to_string(rng.range(1, 3)));
              top.set("X-MSMail-Priority", rng.chance(0.5) ? "Normal" : "High");
              break;
            case 2: top.set("X-Campaign-ID", random_token(rng, 8, 16)); break;
            default: {
              std::string w(rng.pick(kWords));
              w[0] = upper_c(w[0]);
              top.set("X-" + w + "-ID", random_token(rng, 6, 12));
              break;
            }
          }
        }
        note(c, "headers", "x-headers");
        break;
      }
      default:
        top.set("Reply-To", random_token(rng, 5, 9) + "@" + random_domain(rng));
        top.set("Return-Path", "<" + random_token(rng, 5, 9) + "@" + random_domain(rng) + ">");
        note(c, "headers", "reply-to");
        break;
    }
  }
}

void apply(Ctx& c, MutationKind kind) {
  switch (kind) {
    case MutationKind::kHashBuster: hash_buster(c); break;
    case MutationKind::kPersonalise: personalise(c); break;
    case MutationKind::kTrackingUrls: tracking_urls(c); break;
    case MutationKind::kReencode: reencode(c); break;
    case MutationKind::kHtmlObfuscate: html_obfuscate(c); break;
    case MutationKind::kTypos: typos(c); break;
    case MutationKind::kHeaders: headers(c); break;
    case MutationKind::kCombo: break;
  }
}

}  // namespace

std::string_view kind_name(MutationKind kind) {
  switch (kind) {
    case MutationKind::kHashBuster: return "hash-buster";
    case MutationKind::kPersonalise: return "personalise";
    case MutationKind::kTrackingUrls: return "tracking-urls";
    case MutationKind::kReencode: return "reencode";
    case MutationKind::kHtmlObfuscate: return "html-obfuscation";
    case MutationKind::kTypos: return "typos";
    case MutationKind::kHeaders: return "headers";
    case MutationKind::kCombo: return "combo";
  }
  return "?";
}

std::optional<MutationKind> kind_from_name(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(MutationKind::kCombo); ++k) {
    auto kind = static_cast<MutationKind>(k);
    if (iequals(name, kind_name(kind))) return kind;
  }
  return std::nullopt;
}

std::uint64_t stable_hash(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  return h;
}

Mutation mutate(std::string_view raw, MutationKind kind, std::uint64_t seed, Intensity intensity) {
  Ctx c(raw, seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(kind) + 1);
  c.stress = intensity == Intensity::kStress;
  if (kind != MutationKind::kCombo) {
    apply(c, kind);
  } else {
    // 2-4 distinct kinds, applied in the order a spammer's pipeline would: headers and
    // template fields first, then text changes, then markup, then the final encoding.
    static constexpr MutationKind kOrder[] = {
        MutationKind::kHeaders,    MutationKind::kPersonalise, MutationKind::kTrackingUrls,
        MutationKind::kHashBuster, MutationKind::kTypos,       MutationKind::kHtmlObfuscate,
        MutationKind::kReencode};
    auto picked =
        c.rng.choose(std::size(kOrder),
                     static_cast<std::size_t>(c.stress ? c.rng.range(3, 5) : c.rng.range(2, 4)));
    for (std::size_t i : picked) apply(c, kOrder[i]);
  }
  return Mutation{write_mail(c.mail), std::move(c.applied)};
}

std::string add_list_footer(std::string_view raw, std::string_view footer) {
  Mail m = parse_mail(raw);
  Rng rng(stable_hash(footer) ^ stable_hash(raw.substr(0, 256)));
  std::string foot(footer);
  replace_all(foot, "\r\n", "\n");
  ContentType ct = m.top.content_type();
  if (!m.top.multipart && (ct.type.empty() || ct.type == "text/plain")) {
    std::vector<TextLeaf> leaves = text_leaves(m);
    if (!leaves.empty()) {
      TextLeaf& l = leaves[0];
      if (!l.text.empty() && l.text.back() != '\n') l.text += '\n';
      l.text += foot;
      store(l);
      return write_mail(m);
    }
  }
  if (!m.top.multipart || ct.type != "multipart/mixed") {
    wrap_multipart(m.top, "mixed", new_boundary(rng));
  }
  Entity f;
  f.fields.push_back({"Content-Type", " text/plain; charset=\"us-ascii\""});
  f.fields.push_back({"Content-Transfer-Encoding", " 7bit"});
  f.fields.push_back({"Content-Disposition", " inline"});
  store_text(f, foot, Cte::k7bit, false);
  m.top.children.push_back(std::move(f));
  return write_mail(m);
}

std::optional<std::string> extract_list_footer(std::string_view raw, std::string* list_name) {
  Mail m = parse_mail(raw);
  auto leaves = text_leaves(m);
  for (auto& l : leaves) {
    if (l.html) continue;
    std::string_view t = l.text;
    // Mailman: a line of 47 underscores followed by "<Name> mailing list".
    std::size_t u = t.rfind("\n_______________________________________________\n");
    if (u != std::string_view::npos) {
      std::size_t name_start = u + 49;
      std::size_t name_end = t.find('\n', name_start);
      std::string_view name =
          t.substr(name_start, name_end == std::string_view::npos ? t.size() - name_start
                                                                  : name_end - name_start);
      std::size_t ml = ifind(name, " mailing list");
      if (ml == std::string_view::npos) ml = ifind(name, " maillist");
      if (ml != std::string_view::npos) {
        if (list_name) *list_name = lower(trim(name.substr(0, ml)));
        std::size_t begin = u + 1;
        // The sponsor block SourceForge lists put right above the footer.
        std::size_t sp = t.rfind("\n-------------------------------------------------------\n", u);
        if (sp != std::string_view::npos && u - sp < 600 &&
            ifind(t.substr(sp, u - sp), "sponsored by") != std::string_view::npos)
          begin = sp + 1;
        return std::string(t.substr(begin));
      }
    }
    std::size_t y = t.find("------------------------ Yahoo! Groups Sponsor");
    if (y != std::string_view::npos) {
      std::size_t ls = t.rfind('\n', y);
      std::string_view foot = t.substr(ls == std::string_view::npos ? 0 : ls + 1);
      if (list_name) {
        std::size_t un = foot.find("-unsubscribe@");
        std::size_t b = un;
        while (b != std::string_view::npos && b > 0 && !is_space(foot[b - 1])) --b;
        *list_name = un == std::string_view::npos ? std::string("yahoo-groups")
                                                  : lower(foot.substr(b, un - b));
      }
      return std::string(foot);
    }
  }
  return std::nullopt;
}

std::string decoded_text(std::string_view raw) {
  Mail m = parse_mail(raw);
  std::string out;
  for (auto& l : text_leaves(m)) {
    if (!out.empty()) out += "\n--\n";
    out += l.text;
  }
  return out;
}

namespace {
void check_entity(const Entity& e, std::string_view raw_type, std::vector<std::string>& out) {
  ContentType ct = e.content_type();
  if (ct.type.rfind("multipart/", 0) == 0) {
    if (ct.param("boundary").empty())
      out.push_back("multipart without boundary (" + ct.type + ")");
    else if (!e.multipart)
      out.push_back("multipart boundary never found (" + ct.type + ")");
  }
  (void)raw_type;
  if (e.multipart) {
    for (const auto& c : e.children) check_entity(c, ct.type, out);
    return;
  }
  std::string type = ct.type.empty() ? "text/plain" : ct.type;
  Cte cte = parse_cte(e.get("Content-Transfer-Encoding"));
  switch (cte) {
    case Cte::k7bit:
      if (!is_ascii(e.body)) out.push_back("8-bit data in 7bit part (" + type + ")");
      [[fallthrough]];
    case Cte::k8bit:
      for (auto line : split_lines(e.body)) {
        if (line.size() > 998) {
          out.push_back("line over 998 bytes (" + type + ")");
          break;
        }
      }
      break;
    case Cte::kQp:
      for (auto line : split_lines(e.body)) {
        if (line.size() > 76) {
          out.push_back("quoted-printable line over 76 (" + type + ")");
          break;
        }
      }
      if (!is_ascii(e.body)) out.push_back("8-bit data in quoted-printable part (" + type + ")");
      break;
    case Cte::kBase64:
      for (char ch : e.body) {
        if (!is_space(ch) && ch != '=' && kB64.find(ch) == std::string_view::npos) {
          out.push_back("bad base64 character (" + type + ")");
          break;
        }
      }
      break;
    case Cte::kBinary: break;
  }
}
}  // namespace

std::vector<std::string> check_wellformed(std::string_view raw) {
  Mail m = parse_mail(raw);
  std::vector<std::string> out;
  if (m.top.fields.empty()) out.push_back("no header fields");
  check_entity(m.top, "", out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace strop::quality
