// rules_internal.hpp: what the rules_*.cpp files share (internal to the milter; the contract is
// milter/rules.hpp): the parsed rule, meta expressions in reverse Polish notation, and
// RuleSet::Impl. rules_parse.cpp reads rules files, rules_meta.cpp parses, orders and evaluates
// meta expressions, rules_eval.cpp runs a rule set over a message.
//
// Thread-safety: a RuleSet::Impl is immutable once parse_rules returns it, so any number of
// threads may evaluate it at once (RE2 and RE2::Set matching are const and thread-safe).
// Lifetime: RuleSet shares its Impl; MetaOp::rule indexes Impl::rules.
#pragma once

#include <re2/re2.h>
#include <re2/set.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "milter/rules.hpp"

namespace strop::milter {
namespace rules_internal {

enum class Kind { kHeader, kExists, kBody, kRawBody, kUri, kFull, kMeta, kBuiltin };

// The kind's name in RuleInfo ("header", "body", ...).
const char* kind_name(Kind k);

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

}  // namespace rules_internal

struct RuleSet::Impl {
  std::vector<rules_internal::Rule> rules;
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

namespace rules_internal {

// "line N: msg".
Error line_error(Errc code, int line, const std::string& msg);

// Parses a meta expression (the text after "meta NAME") into RPN; rule names stay unresolved.
Result<std::vector<MetaOp>> parse_meta(std::string_view s, const RuleLimits& limits);

// Resolves the metas' rule references and sets impl->meta_order (each meta after the metas it
// uses). Fails on an unknown rule or a cycle, naming the meta's line.
Result<void> order_metas(RuleSet::Impl* impl);

// Evaluates one meta over hit (1 per rule that hit, else 0): whether the result is non-zero.
// stack is scratch space, reused across calls.
bool eval_meta(const std::vector<MetaOp>& ops, const std::vector<char>& hit,
               std::vector<double>* stack);

}  // namespace rules_internal
}  // namespace strop::milter
