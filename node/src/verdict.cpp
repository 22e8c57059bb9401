// verdict.cpp: see verdict.hpp.
#include "verdict.hpp"

#include <algorithm>

namespace strop::node {
namespace {

bool may_decide(const storage::Match& m, const VerdictPolicy& policy) {
  return !m.allowed && policy.engines.has(m.engine);
}

}  // namespace

bool match_decides(const storage::Match& m, std::span<const storage::Match> matches,
                   std::span<const sigs::Signature> query, const VerdictPolicy& policy) {
  if (!may_decide(m, policy)) return false;
  if (m.engine != sigs::Engine::kUrl) return true;
  const bool corroborated = std::any_of(matches.begin(), matches.end(), [&](const auto& o) {
    return o.engine != sigs::Engine::kUrl && o.confidence > 0 && may_decide(o, policy);
  });
  if (corroborated) return true;
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

}  // namespace strop::node
