// rules_eval.cpp: running a rule set over a message: the texts, built-ins, header rules, the
// multi-pattern passes, metas and the result (see rules_internal.hpp).

#include <algorithm>

#include "milter/text.hpp"
#include "rules_internal.hpp"

namespace strop::milter {

using rules_internal::Kind;
using rules_internal::Rule;

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

// The texts the rules see, capped by the limits: body (Subject + text parts), rawbody (text and
// HTML source) and full (the raw message). The views point into the strings or into in.raw.
struct MessageTexts {
  std::string body, rawbody;
  std::string_view body_v, rawbody_v, full_v;
};

void collect_texts(const RuleInput& in, const EvalLimits& limits, MessageTexts* t) {
  const sigs::Message* msg = in.message;
  std::string& body = t->body;
  std::string& rawbody = t->rawbody;
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
    t->body_v = body;
    t->rawbody_v = rawbody;
  } else {
    t->body_v = cap(raw_body(in.raw), limits.max_body_bytes);
    t->rawbody_v = cap(raw_body(in.raw), limits.max_rawbody_bytes);
  }
  t->full_v = cap(in.raw, limits.max_full_bytes);
}

// The built-in rules: GTUBE, the node's confidence and the spamd score.
void match_builtins(const RuleSet::Impl& impl, const RuleInput& in, std::string_view body_v,
                    std::string_view full_v, std::vector<char>* hit,
                    std::vector<double>* score_of) {
  if (body_v.find(kGtube) != std::string_view::npos ||
      full_v.find(kGtube) != std::string_view::npos) {
    (*hit)[impl.gtube] = 1;
  }
  if (in.node_confidence && *in.node_confidence > 0) {
    (*hit)[impl.node] = 1;
    (*score_of)[impl.node] =
        impl.rules[impl.node].score * std::min(*in.node_confidence, 100.0) / 100;
  }
  if (in.spamd_score) {
    (*hit)[impl.spamd] = 1;
    (*score_of)[impl.spamd] = impl.rules[impl.spamd].score * *in.spamd_score;
  }
}

// Header and exists: rules (ALL: every header, "Name: value" lines).
void match_headers(const RuleSet::Impl& impl, const sigs::Message* msg, const EvalLimits& limits,
                   std::vector<char>* hit) {
  if (impl.header_rules.empty()) return;
  std::string all;
  if (msg != nullptr) {
    for (const auto& h : msg->headers) {
      if (all.size() >= limits.max_header_bytes) break;
      all += h.name;
      all += ": ";
      all += cap(h.value, limits.max_header_bytes - std::min(all.size(), limits.max_header_bytes));
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
      (*hit)[r] = found ? 1 : 0;
    } else {
      (*hit)[r] = (rule.negate ? !matched : matched) ? 1 : 0;
    }
  }
}

}  // namespace

RuleResult RuleEvaluator::run(const RuleSet& rs, const RuleInput& in, const EvalLimits& limits) {
  const RuleSet::Impl& impl = *rs.impl_;
  std::vector<char> hit(impl.rules.size(), 0);
  std::vector<double> score_of(impl.rules.size(), 0);
  for (std::size_t i = 0; i < impl.rules.size(); ++i) score_of[i] = impl.rules[i].score;

  const sigs::Message* msg = in.message;
  MessageTexts t;
  collect_texts(in, limits, &t);
  std::string_view body_v = t.body_v, rawbody_v = t.rawbody_v, full_v = t.full_v;

  match_builtins(impl, in, body_v, full_v, &hit, &score_of);
  match_headers(impl, msg, limits, &hit);

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
    hit[m] = rules_internal::eval_meta(impl.rules[m].meta, hit, &stack) ? 1 : 0;
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
