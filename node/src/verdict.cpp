// verdict.cpp: see verdict.hpp.
#include "verdict.hpp"

#include <algorithm>

namespace strop::node {
namespace {

bool may_decide(const storage::Match& m, const VerdictPolicy& policy) {
  return !m.allowed && policy.engines.has(m.engine);
}

// What a fuzzy/1 match may do (sigs::fuzzy_match_decides_alone, sigs::fuzzy_backs_url).
enum class FuzzyRule { kAlone, kWithUrl, kNothing };

FuzzyRule fuzzy_rule(const storage::Match& m, std::span<const sigs::Signature> query) {
  if (m.query_index >= query.size()) return FuzzyRule::kAlone;
  const std::string_view id = m.id;
  const std::size_t colon = id.find(':');
  auto stored = sigs::decode_fuzzy(colon == std::string_view::npos ? id : id.substr(colon + 1));
  auto checked = sigs::decode_fuzzy(query[m.query_index].value);
  if (!stored || !checked) return FuzzyRule::kAlone;  // not a value pair to judge: as before
  const int equal = sigs::fuzzy_equal_positions(*stored, *checked);
  if (sigs::fuzzy_match_decides_alone(equal, *stored, *checked)) return FuzzyRule::kAlone;
  if (sigs::fuzzy_backs_url(equal, *stored, *checked)) return FuzzyRule::kWithUrl;
  return FuzzyRule::kNothing;
}

}  // namespace

bool match_decides(const storage::Match& m, std::span<const storage::Match> matches,
                   std::span<const sigs::Signature> query, const VerdictPolicy& policy) {
  if (!may_decide(m, policy)) return false;
  // Another match of the check that may decide and is picked by `pick`.
  auto backed_by = [&](auto pick) {
    return std::any_of(matches.begin(), matches.end(), [&](const storage::Match& o) {
      return &o != &m && o.confidence > 0 && may_decide(o, policy) && pick(o);
    });
  };
  if (m.engine == sigs::Engine::kFuzzy) {
    switch (fuzzy_rule(m, query)) {
      case FuzzyRule::kAlone: return true;
      case FuzzyRule::kWithUrl:
        return backed_by([](const storage::Match& o) { return o.engine == sigs::Engine::kUrl; });
      case FuzzyRule::kNothing: return false;
    }
  }
  if (m.engine != sigs::Engine::kUrl) return true;
  if (backed_by([&](const storage::Match& o) {
        return o.engine != sigs::Engine::kUrl &&
               (o.engine != sigs::Engine::kFuzzy || fuzzy_rule(o, query) != FuzzyRule::kNothing);
      }))
    return true;
  sigs::SignatureSet set{std::vector<sigs::Signature>(query.begin(), query.end())};
  return sigs::url_match_decides_alone(set, m.reports);
}

void decide_verdict(std::span<const sigs::Signature> query, const VerdictPolicy& policy,
                    storage::CheckOutcome* out) {
  out->confidence = 0;
  bool any = false;
  for (const auto& m : out->matches) {
    if (!match_decides(m, out->matches, query, policy)) continue;
    any = true;
    out->confidence = std::max(out->confidence, m.confidence);
  }
  out->spam = any && out->confidence >= policy.threshold;
}

protocol::MessageVerdict message_verdict(storage::CheckOutcome out, std::string id) {
  protocol::MessageVerdict v;
  v.id = std::move(id);
  v.verdict = out.spam ? protocol::Verdict::kSpam : protocol::Verdict::kNotSpam;
  v.confidence = out.confidence;
  v.matches.reserve(out.matches.size());
  for (auto& x : out.matches) {
    v.matches.push_back(
        {x.engine, std::move(x.id), x.similarity, x.reports, x.revokes, x.confidence});
  }
  return v;
}

}  // namespace strop::node
