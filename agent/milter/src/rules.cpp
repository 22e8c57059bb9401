#include "milter/rules.hpp"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <unordered_map>

#include "milter/text.hpp"

namespace strop::milter {
namespace {

enum class Kind { kHeader, kExists, kBody, kRawBody, kUri, kFull, kMeta, kBuiltin };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kHeader:
    case Kind::kExists:
      return "header";
    case Kind::kBody:
      return "body";
    case Kind::kRawBody:
      return "rawbody";
    case Kind::kUri:
      return "uri";
    case Kind::kFull:
      return "full";
    case Kind::kMeta:
      return "meta";
    case Kind::kBuiltin:
      return "builtin";
  }
  return "?";
}

// One step of a meta expression in reverse Polish notation.
struct MetaOp {
  enum Type { kNum, kRule, kNot, kNeg, kAnd, kOr, kAdd, kSub, kMul, kLt, kLe, kGt, kGe, kEq, kNe };
  Type type = kNum;
  double value = 0;      // kNum
  std::size_t rule = 0;  // kRule (index, resolved after parsing)
  std::string name;      // kRule, until resolved
};

struct Rule {
  std::string name;
  Kind kind = Kind::kBody;
  double score = 1.0;
  std::string description;
  int line = 0;
  std::string field;  // header rules: the header name, or "ALL"
  bool negate = false;
  std::unique_ptr<RE2> re;
  std::vector<MetaOp> meta;

  bool reported() const { return !name.starts_with("__"); }
};

}  // namespace

struct RuleSet::Impl {
  std::vector<Rule> rules;
  std::unordered_map<std::string, std::size_t> by_name;
  std::vector<std::size_t> meta_order;  // metas, dependencies first

  // One multi-pattern pass per text kind; rule_of maps set index -> rule index.
  struct Index {
    std::unique_ptr<RE2::Set> set;
    std::vector<std::size_t> rules;  // rule indices of this kind (fallback path)
    std::vector<std::size_t> rule_of;
  };
  Index body, rawbody, full, uri;
  std::vector<std::size_t> header_rules;
  std::size_t gtube = 0, node = 1, spamd = 2;
};

namespace {

Error line_error(Errc code, int line, const std::string& msg) {
  return make_error(code, "line " + std::to_string(line) + ": " + msg);
}

bool valid_rule_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

bool valid_header_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u < 0x7f && c != ':';
  });
}

// Splits off the first whitespace-delimited word.
std::string_view next_word(std::string_view* s) {
  *s = trim(*s);
  std::size_t i = 0;
  while (i < s->size() && !std::isspace(static_cast<unsigned char>((*s)[i]))) ++i;
  std::string_view w = s->substr(0, i);
  *s = trim(s->substr(i));
  return w;
}

struct RegexSpec {
  std::string pattern;  // with inline flags, ready for RE2
};

// Parses "/re/flags" or "m{re}flags" (any punctuation delimiter; (), [], {}, <> pair up).
Result<RegexSpec> parse_regex(std::string_view s, const RuleLimits& limits) {
  s = trim(s);
  if (s.empty()) return make_error(Errc::kMalformed, "missing regular expression");
  char open = s[0];
  std::size_t start = 1;
  if (open == 'm' && s.size() > 1 && std::ispunct(static_cast<unsigned char>(s[1]))) {
    open = s[1];
    start = 2;
  } else if (open != '/') {
    return make_error(Errc::kMalformed, "regular expression must look like /re/flags");
  }
  char close = open;
  if (open == '{') close = '}';
  if (open == '(') close = ')';
  if (open == '[') close = ']';
  if (open == '<') close = '>';
  std::size_t i = start;
  int nest = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\') {
      ++i;
      continue;
    }
    if (close != open && c == open) {
      ++nest;
    } else if (c == close) {
      if (nest == 0) break;
      --nest;
    }
  }
  if (i >= s.size()) return make_error(Errc::kMalformed, "unterminated regular expression");
  std::string_view body = s.substr(start, i - start);
  std::string_view flags = trim(s.substr(i + 1));
  if (body.size() > limits.max_pattern_bytes) {
    return make_error(Errc::kLimitExceeded, "regular expression longer than max_pattern_bytes (" +
                                                std::to_string(limits.max_pattern_bytes) + ")");
  }
  std::string inline_flags;
  for (char f : flags) {
    if (f == 'i' || f == 'm' || f == 's') {
      if (inline_flags.find(f) == std::string::npos) inline_flags += f;
    } else if (f == 'g' || f == 'o') {
      // Perl's /g and /o change nothing for a match test.
    } else {
      return make_error(Errc::kMalformed,
                        std::string("unsupported regular expression flag '") + f + "'");
    }
  }
  RegexSpec spec;
  if (!inline_flags.empty()) spec.pattern = "(?" + inline_flags + ")";
  // An escaped delimiter ("\/") is just the delimiter to RE2 as well; keep the text as is.
  spec.pattern.append(body);
  return spec;
}

RE2::Options regex_options(const RuleLimits& limits, bool latin1) {
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(limits.max_regex_mem);
  o.set_encoding(latin1 ? RE2::Options::EncodingLatin1 : RE2::Options::EncodingUTF8);
  return o;
}

Result<std::unique_ptr<RE2>> compile(const std::string& pattern, const RuleLimits& limits,
                                     bool latin1) {
  auto re = std::make_unique<RE2>(pattern, regex_options(limits, latin1));
  if (!re->ok()) return make_error(Errc::kMalformed, "bad regular expression: " + re->error());
  if (re->ProgramSize() > limits.max_program_size) {
    return make_error(Errc::kLimitExceeded,
                      "regular expression program larger than "
                      "max_program_size (" +
                          std::to_string(limits.max_program_size) + ")");
  }
  return re;
}

// ---- meta expressions: recursive descent into RPN ----

struct Token {
  enum Type { kEnd, kNum, kName, kOp, kLParen, kRParen };
  Type type = kEnd;
  std::string text;
  double value = 0;
};

Result<std::vector<Token>> tokenize_meta(std::string_view s, const RuleLimits& limits) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (out.size() >= limits.max_meta_tokens) {
      return make_error(Errc::kLimitExceeded, "meta expression has more than max_meta_tokens (" +
                                                  std::to_string(limits.max_meta_tokens) + ")");
    }
    Token t;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::size_t j = i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      t.type = Token::kName;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      std::size_t j = i;
      while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
      t.type = Token::kNum;
      auto [p, ec] = std::from_chars(s.data() + i, s.data() + j, t.value);
      if (ec != std::errc() || p != s.data() + j) {
        return make_error(Errc::kMalformed, "bad number in meta expression");
      }
      i = j;
    } else if (c == '(') {
      t.type = Token::kLParen;
      ++i;
    } else if (c == ')') {
      t.type = Token::kRParen;
      ++i;
    } else {
      static constexpr std::string_view kTwo[] = {"&&", "||", "<=", ">=", "==", "!="};
      t.type = Token::kOp;
      bool two = false;
      for (auto op : kTwo) {
        if (s.substr(i).starts_with(op)) {
          t.text = std::string(op);
          i += 2;
          two = true;
          break;
        }
      }
      if (!two) {
        if (std::string_view("!+-*<>").find(c) == std::string_view::npos) {
          return make_error(Errc::kMalformed,
                            std::string("unexpected character '") + c + "' in meta expression");
        }
        t.text = std::string(1, c);
        ++i;
      }
    }
    out.push_back(std::move(t));
  }
  out.push_back(Token{});
  return out;
}

class MetaParser {
 public:
  MetaParser(const std::vector<Token>& toks, const RuleLimits& limits)
      : toks_(toks), limits_(limits) {}

  Result<std::vector<MetaOp>> parse() {
    auto r = parse_or(0);
    if (!r) return r.error();
    if (toks_[pos_].type != Token::kEnd) {
      return make_error(Errc::kMalformed,
                        "unexpected '" + describe(toks_[pos_]) + "' in meta expression");
    }
    return std::move(out_);
  }

 private:
  static std::string describe(const Token& t) {
    switch (t.type) {
      case Token::kEnd:
        return "end";
      case Token::kNum:
        return "number";
      case Token::kLParen:
        return "(";
      case Token::kRParen:
        return ")";
      default:
        return t.text;
    }
  }
  bool is_op(std::string_view op) const {
    return toks_[pos_].type == Token::kOp && toks_[pos_].text == op;
  }
  Result<void> depth_check(int depth) const {
    if (depth > limits_.max_meta_depth) {
      return make_error(Errc::kLimitExceeded,
                        "meta expression nested deeper than "
                        "max_meta_depth (" +
                            std::to_string(limits_.max_meta_depth) + ")");
    }
    return {};
  }
  void emit(MetaOp::Type t) {
    MetaOp op;
    op.type = t;
    out_.push_back(op);
  }

  Result<void> parse_or(int depth) {
    if (auto r = parse_and(depth); !r) return r;
    while (is_op("||")) {
      ++pos_;
      if (auto r = parse_and(depth); !r) return r;
      emit(MetaOp::kOr);
    }
    return {};
  }
  Result<void> parse_and(int depth) {
    if (auto r = parse_cmp(depth); !r) return r;
    while (is_op("&&")) {
      ++pos_;
      if (auto r = parse_cmp(depth); !r) return r;
      emit(MetaOp::kAnd);
    }
    return {};
  }
  Result<void> parse_cmp(int depth) {
    if (auto r = parse_add(depth); !r) return r;
    static const std::pair<std::string_view, MetaOp::Type> kCmp[] = {
        {"<", MetaOp::kLt},  {"<=", MetaOp::kLe}, {">", MetaOp::kGt},
        {">=", MetaOp::kGe}, {"==", MetaOp::kEq}, {"!=", MetaOp::kNe}};
    for (;;) {
      bool found = false;
      for (auto [txt, type] : kCmp) {
        if (is_op(txt)) {
          ++pos_;
          if (auto r = parse_add(depth); !r) return r;
          emit(type);
          found = true;
          break;
        }
      }
      if (!found) return {};
    }
  }
  Result<void> parse_add(int depth) {
    if (auto r = parse_mul(depth); !r) return r;
    while (is_op("+") || is_op("-")) {
      auto type = is_op("+") ? MetaOp::kAdd : MetaOp::kSub;
      ++pos_;
      if (auto r = parse_mul(depth); !r) return r;
      emit(type);
    }
    return {};
  }
  Result<void> parse_mul(int depth) {
    if (auto r = parse_unary(depth); !r) return r;
    while (is_op("*")) {
      ++pos_;
      if (auto r = parse_unary(depth); !r) return r;
      emit(MetaOp::kMul);
    }
    return {};
  }
  Result<void> parse_unary(int depth) {
    if (auto d = depth_check(depth); !d) return d;
    if (is_op("!") || is_op("-")) {
      auto type = is_op("!") ? MetaOp::kNot : MetaOp::kNeg;
      ++pos_;
      if (auto r = parse_unary(depth + 1); !r) return r;
      emit(type);
      return {};
    }
    const Token& t = toks_[pos_];
    switch (t.type) {
      case Token::kNum: {
        MetaOp op;
        op.type = MetaOp::kNum;
        op.value = t.value;
        out_.push_back(op);
        ++pos_;
        return {};
      }
      case Token::kName: {
        MetaOp op;
        op.type = MetaOp::kRule;
        op.name = t.text;
        out_.push_back(std::move(op));
        ++pos_;
        return {};
      }
      case Token::kLParen: {
        ++pos_;
        if (auto r = parse_or(depth + 1); !r) return r;
        if (toks_[pos_].type != Token::kRParen) {
          return make_error(Errc::kMalformed, "missing ')' in meta expression");
        }
        ++pos_;
        return {};
      }
      default:
        return make_error(Errc::kMalformed, "unexpected '" + describe(t) + "' in meta expression");
    }
  }

  const std::vector<Token>& toks_;
  const RuleLimits& limits_;
  std::size_t pos_ = 0;
  std::vector<MetaOp> out_;
};

Result<double> parse_score(std::string_view s) {
  s = trim(s);
  // SpamAssassin allows four scores (one per score set); the first is the one that applies
  // without Bayes and network tests.
  std::string_view first = next_word(&s);
  double v = 0;
  if (!first.empty() && first.front() == '+') first.remove_prefix(1);
  auto [p, ec] = std::from_chars(first.data(), first.data() + first.size(), v);
  if (first.empty() || ec != std::errc() || p != first.data() + first.size() || !std::isfinite(v) ||
      std::fabs(v) > 1e6) {
    return make_error(Errc::kMalformed, "bad score '" + std::string(first) + "'");
  }
  int extra = 0;
  while (!s.empty()) {
    auto w = next_word(&s);
    double ignored = 0;
    auto [q, ec2] = std::from_chars(w.data(), w.data() + w.size(), ignored);
    if (ec2 != std::errc() || q != w.data() + w.size() || ++extra > 3) {
      return make_error(Errc::kMalformed, "a score line takes one number (or four)");
    }
  }
  if (extra != 0 && extra != 3) {
    return make_error(Errc::kMalformed, "a score line takes one number (or four)");
  }
  return v;
}

Rule builtin(std::string_view name, double score, std::string_view description) {
  Rule r;
  r.name = std::string(name);
  r.kind = Kind::kBuiltin;
  r.score = score;
  r.description = std::string(description);
  return r;
}

std::shared_ptr<RuleSet::Impl> builtin_impl() {
  auto impl = std::make_shared<RuleSet::Impl>();
  impl->rules.push_back(builtin(kRuleGtube, 1000, "Generic Test for Unsolicited Bulk Email"));
  impl->rules.push_back(builtin(kRuleNode, 10,
                                "Signature listed at the Strop node "
                                "(score scaled by confidence)"));
  impl->rules.push_back(builtin(kRuleSpamd, 1, "spamd (SpamAssassin) score times this score"));
  for (std::size_t i = 0; i < impl->rules.size(); ++i) impl->by_name[impl->rules[i].name] = i;
  return impl;
}

// Builds the multi-pattern index of one text kind.
void build_index(RuleSet::Impl::Index* idx, const std::vector<Rule>& rules, Kind kind,
                 const std::vector<std::string>& patterns, bool latin1) {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].kind == kind) idx->rules.push_back(i);
  }
  if (idx->rules.size() < 2) return;  // one regex alone is as fast as a set
  RE2::Options o;
  o.set_log_errors(false);
  o.set_max_mem(64 << 20);
  o.set_encoding(latin1 ? RE2::Options::EncodingLatin1 : RE2::Options::EncodingUTF8);
  auto set = std::make_unique<RE2::Set>(o, RE2::UNANCHORED);
  for (std::size_t r : idx->rules) {
    if (set->Add(patterns[r], nullptr) < 0) return;  // fall back to one regex at a time
    idx->rule_of.push_back(r);
  }
  if (!set->Compile()) {
    idx->rule_of.clear();
    return;
  }
  idx->set = std::move(set);
}

}  // namespace

RuleSet::RuleSet() : impl_(builtin_impl()) {}

std::size_t RuleSet::size() const { return impl_->rules.size(); }

std::vector<RuleInfo> RuleSet::rules() const {
  std::vector<RuleInfo> out;
  for (const auto& r : impl_->rules) {
    out.push_back(RuleInfo{r.name, kind_name(r.kind), r.score, r.description, r.line});
  }
  return out;
}

std::optional<RuleInfo> RuleSet::find(std::string_view name) const {
  auto it = impl_->by_name.find(std::string(name));
  if (it == impl_->by_name.end()) return std::nullopt;
  const Rule& r = impl_->rules[it->second];
  return RuleInfo{r.name, kind_name(r.kind), r.score, r.description, r.line};
}

Result<RuleSet> parse_rules(std::string_view text, const RuleLimits& limits) {
  if (text.size() > limits.max_file_bytes) {
    return make_error(Errc::kLimitExceeded, "rules file larger than max_file_bytes (" +
                                                std::to_string(limits.max_file_bytes) + ")");
  }
  auto impl = builtin_impl();
  std::vector<std::string> patterns(impl->rules.size());
  struct Pending {
    int line;
    std::string name;
    std::string text;
  };
  std::vector<Pending> scores, describes;

  int lineno = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string_view line = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++lineno;
    if (line.size() > limits.max_line_bytes) {
      return line_error(
          Errc::kLimitExceeded, lineno,
          "line longer than max_line_bytes (" + std::to_string(limits.max_line_bytes) + ")");
    }
    if (line.find('\0') != std::string_view::npos) {
      return line_error(Errc::kMalformed, lineno, "NUL byte");
    }
    std::string_view rest = trim(line);
    if (rest.empty() || rest.front() == '#') continue;
    std::string_view directive = next_word(&rest);
    std::string_view name = next_word(&rest);
    if (!valid_rule_name(name)) {
      return line_error(Errc::kMalformed, lineno,
                        "bad or missing rule name after '" + std::string(directive) + "'");
    }
    if (directive == "score") {
      scores.push_back({lineno, std::string(name), std::string(rest)});
      continue;
    }
    if (directive == "describe") {
      describes.push_back({lineno, std::string(name), std::string(rest)});
      continue;
    }
    Rule rule;
    rule.name = std::string(name);
    rule.line = lineno;
    std::string pattern;
    bool latin1 = false;
    if (directive == "header") {
      if (rest.starts_with("exists:")) {
        rule.kind = Kind::kExists;
        rule.field = std::string(trim(rest.substr(7)));
        if (!valid_header_name(rule.field)) {
          return line_error(Errc::kMalformed, lineno, "bad header name in exists:");
        }
      } else {
        rule.kind = Kind::kHeader;
        std::string_view field = next_word(&rest);
        std::string_view op = next_word(&rest);
        if (!valid_header_name(field)) {
          return line_error(Errc::kMalformed, lineno, "bad header name");
        }
        if (op != "=~" && op != "!~") {
          return line_error(Errc::kMalformed, lineno, "expected =~ or !~ after the header name");
        }
        rule.field = std::string(field);
        rule.negate = op == "!~";
        auto spec = parse_regex(rest, limits);
        if (!spec) return line_error(spec.error().code, lineno, spec.error().message);
        pattern = spec->pattern;
      }
    } else if (directive == "body" || directive == "rawbody" || directive == "uri" ||
               directive == "full") {
      rule.kind = directive == "body"      ? Kind::kBody
                  : directive == "rawbody" ? Kind::kRawBody
                  : directive == "uri"     ? Kind::kUri
                                           : Kind::kFull;
      latin1 = rule.kind == Kind::kFull;
      auto spec = parse_regex(rest, limits);
      if (!spec) return line_error(spec.error().code, lineno, spec.error().message);
      pattern = spec->pattern;
    } else if (directive == "meta") {
      rule.kind = Kind::kMeta;
      auto toks = tokenize_meta(rest, limits);
      if (!toks) return line_error(toks.error().code, lineno, toks.error().message);
      MetaParser mp(*toks, limits);
      auto ops = mp.parse();
      if (!ops) return line_error(ops.error().code, lineno, ops.error().message);
      rule.meta = std::move(*ops);
    } else {
      return line_error(Errc::kMalformed, lineno,
                        "unknown directive '" + std::string(directive) + "'");
    }
    if (rule.kind == Kind::kHeader || rule.kind == Kind::kBody || rule.kind == Kind::kRawBody ||
        rule.kind == Kind::kUri || rule.kind == Kind::kFull) {
      auto re = compile(pattern, limits, latin1);
      if (!re) return line_error(re.error().code, lineno, re.error().message);
      rule.re = std::move(*re);
    }
    if (impl->by_name.count(rule.name) != 0) {
      const Rule& prev = impl->rules[impl->by_name[rule.name]];
      return line_error(
          Errc::kMalformed, lineno,
          prev.kind == Kind::kBuiltin
              ? "rule " + rule.name + " is built in (set its score with 'score')"
              : "rule " + rule.name + " already defined at line " + std::to_string(prev.line));
    }
    if (impl->rules.size() >= limits.max_rules + 3) {
      return line_error(Errc::kLimitExceeded, lineno,
                        "more than max_rules (" + std::to_string(limits.max_rules) + ") rules");
    }
    impl->by_name[rule.name] = impl->rules.size();
    impl->rules.push_back(std::move(rule));
    patterns.push_back(std::move(pattern));
  }

  for (const auto& s : scores) {
    auto it = impl->by_name.find(s.name);
    if (it == impl->by_name.end()) {
      return line_error(Errc::kMalformed, s.line, "score for unknown rule " + s.name);
    }
    auto v = parse_score(s.text);
    if (!v) return line_error(v.error().code, s.line, v.error().message);
    impl->rules[it->second].score = *v;
  }
  for (const auto& d : describes) {
    auto it = impl->by_name.find(d.name);
    if (it == impl->by_name.end()) {
      return line_error(Errc::kMalformed, d.line, "describe for unknown rule " + d.name);
    }
    impl->rules[it->second].description = d.text;
  }

  // Resolve meta references and order metas so that each comes after the metas it uses.
  std::vector<std::size_t> metas;
  for (std::size_t i = 0; i < impl->rules.size(); ++i) {
    Rule& r = impl->rules[i];
    if (r.kind != Kind::kMeta) continue;
    metas.push_back(i);
    for (auto& op : r.meta) {
      if (op.type != MetaOp::kRule) continue;
      auto it = impl->by_name.find(op.name);
      if (it == impl->by_name.end()) {
        return line_error(Errc::kMalformed, r.line,
                          "unknown rule " + op.name + " in meta " + r.name);
      }
      op.rule = it->second;
    }
  }
  // Iterative DFS with colours: 0 new, 1 on stack, 2 done.
  std::vector<int> colour(impl->rules.size(), 0);
  for (std::size_t root : metas) {
    if (colour[root] != 0) continue;
    std::vector<std::pair<std::size_t, std::size_t>> stack{{root, 0}};
    colour[root] = 1;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      const auto& ops = impl->rules[node].meta;
      bool pushed = false;
      while (next < ops.size()) {
        const MetaOp& op = ops[next++];
        if (op.type != MetaOp::kRule || impl->rules[op.rule].kind != Kind::kMeta) continue;
        if (colour[op.rule] == 1) {
          const Rule& r = impl->rules[node];
          return line_error(
              Errc::kMalformed, r.line,
              "meta " + r.name + " depends on itself through " + impl->rules[op.rule].name);
        }
        if (colour[op.rule] == 0) {
          colour[op.rule] = 1;
          stack.emplace_back(op.rule, 0);
          pushed = true;
          break;
        }
      }
      if (pushed) continue;
      colour[node] = 2;
      impl->meta_order.push_back(node);
      stack.pop_back();
    }
  }

  for (std::size_t i = 0; i < impl->rules.size(); ++i) {
    if (impl->rules[i].kind == Kind::kHeader || impl->rules[i].kind == Kind::kExists) {
      impl->header_rules.push_back(i);
    }
  }
  build_index(&impl->body, impl->rules, Kind::kBody, patterns, false);
  build_index(&impl->rawbody, impl->rules, Kind::kRawBody, patterns, false);
  build_index(&impl->full, impl->rules, Kind::kFull, patterns, true);
  build_index(&impl->uri, impl->rules, Kind::kUri, patterns, false);
  return RuleSet(std::shared_ptr<const RuleSet::Impl>(std::move(impl)));
}

// ---- evaluation ----

struct RuleEvaluator {
  static RuleResult run(const RuleSet& rs, const RuleInput& in, const EvalLimits& limits);
};

namespace {

std::string_view cap(std::string_view s, std::size_t n) {
  return s.substr(0, std::min(n, s.size()));
}

// The body of a raw message (after the first empty line), or "" when there is none.
std::string_view raw_body(std::string_view raw) {
  auto p = raw.find("\r\n\r\n");
  auto q = raw.find("\n\n");
  if (p == std::string_view::npos && q == std::string_view::npos) return {};
  if (q != std::string_view::npos && (p == std::string_view::npos || q < p)) {
    return raw.substr(q + 2);
  }
  return raw.substr(p + 4);
}

void match_kind(const RuleSet::Impl& impl, const RuleSet::Impl::Index& idx, std::string_view text,
                std::vector<char>* hit) {
  if (idx.rules.empty()) return;
  if (idx.set) {
    std::vector<int> v;
    RE2::Set::ErrorInfo info{RE2::Set::kNoError};
    if (idx.set->Match(text, &v, &info) || info.kind == RE2::Set::kNoError) {
      for (int k : v) (*hit)[idx.rule_of[static_cast<std::size_t>(k)]] = 1;
      return;
    }
    // DFA out of memory: fall through to one expression at a time.
  }
  for (std::size_t r : idx.rules) {
    if (!(*hit)[r] && RE2::PartialMatch(text, *impl.rules[r].re)) (*hit)[r] = 1;
  }
}

}  // namespace

RuleResult RuleEvaluator::run(const RuleSet& rs, const RuleInput& in, const EvalLimits& limits) {
  const RuleSet::Impl& impl = *rs.impl_;
  std::vector<char> hit(impl.rules.size(), 0);
  std::vector<double> score_of(impl.rules.size(), 0);
  for (std::size_t i = 0; i < impl.rules.size(); ++i) score_of[i] = impl.rules[i].score;

  const sigs::Message* msg = in.message;
  std::string body, rawbody;
  std::string_view body_v, rawbody_v;
  if (msg != nullptr) {
    for (const auto& h : msg->headers) {
      if (iequals(h.name, "Subject")) {
        body = h.value;
        body += '\n';
        break;
      }
    }
    for (const auto& p : msg->parts) {
      if (p.kind == sigs::PartKind::kAttachment) continue;
      if (body.size() < limits.max_body_bytes) {
        body.append(cap(p.text, limits.max_body_bytes - body.size()));
        body += '\n';
      }
      if (rawbody.size() < limits.max_rawbody_bytes) {
        const std::string& src = p.kind == sigs::PartKind::kHtml ? p.data : p.text;
        rawbody.append(cap(src, limits.max_rawbody_bytes - rawbody.size()));
        rawbody += '\n';
      }
    }
    body_v = body;
    rawbody_v = rawbody;
  } else {
    body_v = cap(raw_body(in.raw), limits.max_body_bytes);
    rawbody_v = cap(raw_body(in.raw), limits.max_rawbody_bytes);
  }
  std::string_view full_v = cap(in.raw, limits.max_full_bytes);

  // Built-ins.
  if (body_v.find(kGtube) != std::string_view::npos ||
      full_v.find(kGtube) != std::string_view::npos) {
    hit[impl.gtube] = 1;
  }
  if (in.node_confidence && *in.node_confidence > 0) {
    hit[impl.node] = 1;
    score_of[impl.node] = impl.rules[impl.node].score * std::min(*in.node_confidence, 100.0) / 100;
  }
  if (in.spamd_score) {
    hit[impl.spamd] = 1;
    score_of[impl.spamd] = impl.rules[impl.spamd].score * *in.spamd_score;
  }

  // Headers.
  if (!impl.header_rules.empty()) {
    std::string all;
    if (msg != nullptr) {
      for (const auto& h : msg->headers) {
        if (all.size() >= limits.max_header_bytes) break;
        all += h.name;
        all += ": ";
        all +=
            cap(h.value, limits.max_header_bytes - std::min(all.size(), limits.max_header_bytes));
        all += '\n';
      }
    }
    for (std::size_t r : impl.header_rules) {
      const Rule& rule = impl.rules[r];
      bool found = false, matched = false;
      if (rule.field == "ALL") {
        found = !all.empty();
        matched = found && RE2::PartialMatch(cap(all, limits.max_header_bytes), *rule.re);
      } else if (msg != nullptr) {
        for (const auto& h : msg->headers) {
          if (!iequals(h.name, rule.field)) continue;
          found = true;
          if (rule.kind == Kind::kExists) break;
          if (RE2::PartialMatch(cap(h.value, limits.max_header_bytes), *rule.re)) {
            matched = true;
            break;
          }
        }
      }
      if (rule.kind == Kind::kExists) {
        hit[r] = found ? 1 : 0;
      } else {
        hit[r] = (rule.negate ? !matched : matched) ? 1 : 0;
      }
    }
  }

  match_kind(impl, impl.body, body_v, &hit);
  match_kind(impl, impl.rawbody, rawbody_v, &hit);
  match_kind(impl, impl.full, full_v, &hit);
  if (!impl.uri.rules.empty() && msg != nullptr) {
    std::size_t n = 0;
    for (const auto& p : msg->parts) {
      for (const auto& u : p.urls) {
        if (n++ >= limits.max_uris) break;
        match_kind(impl, impl.uri, cap(u, limits.max_header_bytes), &hit);
      }
    }
  }

  // Metas, dependencies first. A rule's value is 1 when it hit, else 0.
  std::vector<double> stack;
  for (std::size_t m : impl.meta_order) {
    stack.clear();
    for (const MetaOp& op : impl.rules[m].meta) {
      if (op.type == MetaOp::kNum) {
        stack.push_back(op.value);
        continue;
      }
      if (op.type == MetaOp::kRule) {
        stack.push_back(hit[op.rule] ? 1.0 : 0.0);
        continue;
      }
      if (op.type == MetaOp::kNot || op.type == MetaOp::kNeg) {
        double a = stack.back();
        stack.back() = op.type == MetaOp::kNot ? (a == 0 ? 1.0 : 0.0) : -a;
        continue;
      }
      double b = stack.back();
      stack.pop_back();
      double a = stack.back();
      double v = 0;
      switch (op.type) {
        case MetaOp::kAnd:
          v = (a != 0 && b != 0) ? 1 : 0;
          break;
        case MetaOp::kOr:
          v = (a != 0 || b != 0) ? 1 : 0;
          break;
        case MetaOp::kAdd:
          v = a + b;
          break;
        case MetaOp::kSub:
          v = a - b;
          break;
        case MetaOp::kMul:
          v = a * b;
          break;
        case MetaOp::kLt:
          v = a < b;
          break;
        case MetaOp::kLe:
          v = a <= b;
          break;
        case MetaOp::kGt:
          v = a > b;
          break;
        case MetaOp::kGe:
          v = a >= b;
          break;
        case MetaOp::kEq:
          v = a == b;
          break;
        case MetaOp::kNe:
          v = a != b;
          break;
        default:
          break;
      }
      stack.back() = v;
    }
    hit[m] = (!stack.empty() && stack.back() != 0) ? 1 : 0;
  }

  RuleResult out;
  for (std::size_t i = 0; i < impl.rules.size(); ++i) {
    if (!hit[i] || !impl.rules[i].reported()) continue;
    out.hits.push_back(RuleHit{impl.rules[i].name, score_of[i]});
    out.score += score_of[i];
  }
  std::sort(out.hits.begin(), out.hits.end(), [](const RuleHit& a, const RuleHit& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.name < b.name;
  });
  return out;
}

RuleResult evaluate(const RuleSet& rules, const RuleInput& input, const EvalLimits& limits) {
  return RuleEvaluator::run(rules, input, limits);
}

}  // namespace strop::milter
