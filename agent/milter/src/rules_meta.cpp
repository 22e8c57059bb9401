// rules_meta.cpp: meta expressions: the tokenizer, a recursive-descent parser into RPN, the
// dependency order of metas and their evaluation (see rules_internal.hpp).

#include <algorithm>
#include <cctype>
#include <charconv>

#include "rules_internal.hpp"

namespace strop::milter::rules_internal {
namespace {

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
      case Token::kEnd: return "end";
      case Token::kNum: return "number";
      case Token::kLParen: return "(";
      case Token::kRParen: return ")";
      default: return t.text;
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

}  // namespace

Result<std::vector<MetaOp>> parse_meta(std::string_view s, const RuleLimits& limits) {
  auto toks = tokenize_meta(s, limits);
  if (!toks) return toks.error();
  MetaParser mp(*toks, limits);
  return mp.parse();
}

Result<void> order_metas(RuleSet::Impl* impl) {
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
  return {};
}

bool eval_meta(const std::vector<MetaOp>& ops, const std::vector<char>& hit,
               std::vector<double>* stack) {
  stack->clear();
  for (const MetaOp& op : ops) {
    if (op.type == MetaOp::kNum) {
      stack->push_back(op.value);
      continue;
    }
    if (op.type == MetaOp::kRule) {
      stack->push_back(hit[op.rule] ? 1.0 : 0.0);
      continue;
    }
    if (op.type == MetaOp::kNot || op.type == MetaOp::kNeg) {
      double a = stack->back();
      stack->back() = op.type == MetaOp::kNot ? (a == 0 ? 1.0 : 0.0) : -a;
      continue;
    }
    double b = stack->back();
    stack->pop_back();
    double a = stack->back();
    double v = 0;
    switch (op.type) {
      case MetaOp::kAnd: v = (a != 0 && b != 0) ? 1 : 0; break;
      case MetaOp::kOr: v = (a != 0 || b != 0) ? 1 : 0; break;
      case MetaOp::kAdd: v = a + b; break;
      case MetaOp::kSub: v = a - b; break;
      case MetaOp::kMul: v = a * b; break;
      case MetaOp::kLt: v = a < b; break;
      case MetaOp::kLe: v = a <= b; break;
      case MetaOp::kGt: v = a > b; break;
      case MetaOp::kGe: v = a >= b; break;
      case MetaOp::kEq: v = a == b; break;
      case MetaOp::kNe: v = a != b; break;
      default: break;
    }
    stack->back() = v;
  }
  return !stack->empty() && stack->back() != 0;
}

}  // namespace strop::milter::rules_internal
