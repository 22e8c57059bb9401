// rules.hpp: the milter's rule engine: a rules file (SpamAssassin-like syntax) parsed into an
// immutable RuleSet, and evaluation of a RuleSet against one message.
//
// Rule kinds: header (a named header, or ALL, by regular expression; or exists:Name), body
// (Subject plus the decoded visible text of the text and HTML parts), rawbody (decoded text
// parts and HTML source, tags kept), uri (each URL found in the message), full (the raw
// message bytes), meta (a boolean/arithmetic expression over other rules). Regular
// expressions are RE2 (linear time, no backreferences or lookaround); `score NAME n` sets a
// rule's score (default 1.0); names starting with "__" are building blocks for metas and
// are neither scored nor reported. Built-in rules: GTUBE (the SpamAssassin test string,
// score 1000), STROP_NODE (the node's verdict: score * confidence / 100) and SPAMD (spamd's
// score * score); their scores can be set with `score`. The format is documented in
// docs/milter.md.
//
// parse_rules() is pure; untrusted rule text is bounded by RuleLimits and hitting a limit is
// an error with the line number. A RuleSet is immutable and cheap to copy (shared state);
// evaluate() is const and may run on many threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "sigs/message.hpp"

namespace strop::milter {

inline constexpr std::string_view kRuleGtube = "GTUBE";
inline constexpr std::string_view kRuleNode = "STROP_NODE";
inline constexpr std::string_view kRuleSpamd = "SPAMD";
inline constexpr std::string_view kGtube =
    "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

struct RuleLimits {
  std::size_t max_file_bytes = 1u << 20;     // Default: 1 MiB of rules text
  std::size_t max_line_bytes = 16u << 10;    // Default: 16 KiB per line
  std::size_t max_rules = 10000;             // Default: 10,000 rules
  std::size_t max_pattern_bytes = 8u << 10;  // Default: 8 KiB per regular expression
  std::int64_t max_regex_mem = 4 << 20;      // Default: 4 MiB RE2 memory per expression
  int max_program_size = 100000;             // Default: RE2 program size per expression
  std::size_t max_meta_tokens = 1024;        // Default: 1024 tokens per meta expression
  int max_meta_depth = 64;                   // Default: 64 nested parentheses/operators
};

// Bounds on what one evaluation reads from a message.
struct EvalLimits {
  std::size_t max_header_bytes = 64u << 10;    // Default: 64 KiB per header field / ALL
  std::size_t max_body_bytes = 256u << 10;     // Default: 256 KiB of body text
  std::size_t max_rawbody_bytes = 512u << 10;  // Default: 512 KiB of rawbody text
  std::size_t max_full_bytes = 1u << 20;       // Default: 1 MiB of the raw message
  std::size_t max_uris = 512;                  // Default: 512 URLs
};

struct RuleInfo {
  std::string name;
  std::string kind;  // "header", "body", "rawbody", "uri", "full", "meta", "builtin"
  double score = 0;
  std::string description;
  int line = 0;  // 0 for built-ins
};

class RuleSet {
 public:
  RuleSet();  // only the built-ins

  std::size_t size() const;
  // All rules, built-ins first, then in file order.
  std::vector<RuleInfo> rules() const;
  std::optional<RuleInfo> find(std::string_view name) const;

  struct Impl;

 private:
  explicit RuleSet(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  friend Result<RuleSet> parse_rules(std::string_view, const RuleLimits&);
  friend struct RuleEvaluator;
  std::shared_ptr<const Impl> impl_;
};

// Parses a rules file. Errors name the line: "line 12: unknown rule FOO in meta BAR".
Result<RuleSet> parse_rules(std::string_view text, const RuleLimits& limits = {});

struct RuleInput {
  const sigs::Message* message = nullptr;  // the parsed message; null when it did not parse
  std::string_view raw;                    // the whole message as received
  std::optional<double> node_confidence;   // 0..100 when the node matched the message
  std::optional<double> spamd_score;       // spamd's score when it ran
};

struct RuleHit {
  std::string name;
  double score = 0;
};

struct RuleResult {
  double score = 0;           // sum of the reported hits
  std::vector<RuleHit> hits;  // reported hits (no "__" rules), by score descending, then name
};

RuleResult evaluate(const RuleSet& rules, const RuleInput& input, const EvalLimits& limits = {});

}  // namespace strop::milter
