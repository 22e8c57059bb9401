// rules_parse.cpp: reading a rules file (SpamAssassin-style subset) into a RuleSet: lines,
// regular expressions, scores and descriptions, the multi-pattern indexes (see
// rules_internal.hpp; meta expressions are in rules_meta.cpp).

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include "milter/text.hpp"
#include "rules_internal.hpp"

namespace strop::milter {

namespace rules_internal {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kHeader:
    case Kind::kExists: return "header";
    case Kind::kBody: return "body";
    case Kind::kRawBody: return "rawbody";
    case Kind::kUri: return "uri";
    case Kind::kFull: return "full";
    case Kind::kMeta: return "meta";
    case Kind::kBuiltin: return "builtin";
  }
  return "?";
}

Error line_error(Errc code, int line, const std::string& msg) {
  return make_error(code, "line " + std::to_string(line) + ": " + msg);
}

}  // namespace rules_internal

using rules_internal::Kind;
using rules_internal::kind_name;
using rules_internal::line_error;
using rules_internal::order_metas;
using rules_internal::parse_meta;
using rules_internal::Rule;

namespace {

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

// A score or describe line, applied once every rule is known.
struct Pending {
  int line;
  std::string name;
  std::string text;
};

// Parses one rule line (directive NAME rest); *pattern receives its regex for the set index.
Result<Rule> parse_rule(std::string_view directive, std::string_view name, std::string_view rest,
                        int lineno, const RuleLimits& limits, std::string* pattern) {
  Rule rule;
  rule.name = std::string(name);
  rule.line = lineno;
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
      *pattern = spec->pattern;
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
    *pattern = spec->pattern;
  } else if (directive == "meta") {
    rule.kind = Kind::kMeta;
    auto ops = parse_meta(rest, limits);
    if (!ops) return line_error(ops.error().code, lineno, ops.error().message);
    rule.meta = std::move(*ops);
  } else {
    return line_error(Errc::kMalformed, lineno,
                      "unknown directive '" + std::string(directive) + "'");
  }
  if (rule.kind == Kind::kHeader || rule.kind == Kind::kBody || rule.kind == Kind::kRawBody ||
      rule.kind == Kind::kUri || rule.kind == Kind::kFull) {
    auto re = compile(*pattern, limits, latin1);
    if (!re) return line_error(re.error().code, lineno, re.error().message);
    rule.re = std::move(*re);
  }
  return rule;
}

// Applies the score and describe lines, which may come before or after their rule.
Result<void> apply_pending(RuleSet::Impl* impl, const std::vector<Pending>& scores,
                           const std::vector<Pending>& describes) {
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
  return {};
}

// Lists the header rules and builds the multi-pattern index of each text kind.
void build_indexes(RuleSet::Impl* impl, const std::vector<std::string>& patterns) {
  for (std::size_t i = 0; i < impl->rules.size(); ++i) {
    if (impl->rules[i].kind == Kind::kHeader || impl->rules[i].kind == Kind::kExists) {
      impl->header_rules.push_back(i);
    }
  }
  build_index(&impl->body, impl->rules, Kind::kBody, patterns, false);
  build_index(&impl->rawbody, impl->rules, Kind::kRawBody, patterns, false);
  build_index(&impl->full, impl->rules, Kind::kFull, patterns, true);
  build_index(&impl->uri, impl->rules, Kind::kUri, patterns, false);
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
    std::string pattern;
    auto parsed = parse_rule(directive, name, rest, lineno, limits, &pattern);
    if (!parsed) return parsed.error();
    Rule rule = std::move(*parsed);
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

  if (auto r = apply_pending(impl.get(), scores, describes); !r) return r.error();
  if (auto r = order_metas(impl.get()); !r) return r.error();

  build_indexes(impl.get(), patterns);
  return RuleSet(std::shared_ptr<const RuleSet::Impl>(std::move(impl)));
}

}  // namespace strop::milter
