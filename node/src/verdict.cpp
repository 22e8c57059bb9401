// verdict.cpp: see verdict.hpp.
#include "verdict.hpp"

#include <algorithm>

namespace strop::node {
namespace {

bool may_decide(const storage::Match& m, const VerdictPolicy& policy) {
  return !m.allowed && policy.engines.has(m.engine);
}

// A fuzzy/1 match between two long texts under sigs::kFuzzyLongMatchMin positions: evidence
// of a shared section, which decides only together with a url/1 match.
bool fuzzy_needs_url(const storage::Match& m, std::span<const sigs::Signature> query) {
  if (m.engine != sigs::Engine::kFuzzy || m.query_index >= query.size()) return false;
  const std::string_view id = m.id;
  const std::size_t colon = id.find(':');
  auto stored = sigs::decode_fuzzy(colon == std::string_view::npos ? id : id.substr(colon + 1));
  auto checked = sigs::decode_fuzzy(query[m.query_index].value);
  if (!stored || !checked) return false;
  return !sigs::fuzzy_match_decides_alone(sigs::fuzzy_equal_positions(*stored, *checked), *stored,
                                          *checked);
}

}  // namespace

bool match_decides(const storage::Match& m, std::span<const storage::Match> matches,
                   std::span<const sigs::Signature> query, const VerdictPolicy& policy) {
  if (!may_decide(m, policy)) return false;
  // Another match of the check, of `engine` (or of any engine but url/1), that may decide.
  auto backed_by = [&](auto pick) {
    return std::any_of(matches.begin(), matches.end(), [&](const storage::Match& o) {
      return &o != &m && pick(o) && o.confidence > 0 && may_decide(o, policy);
    });
  };
  if (m.engine == sigs::Engine::kFuzzy && fuzzy_needs_url(m, query))
    return backed_by([](const storage::Match& o) { return o.engine == sigs::Engine::kUrl; });
  if (m.engine != sigs::Engine::kUrl) return true;
  if (backed_by([](const storage::Match& o) { return o.engine != sigs::Engine::kUrl; }))
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

}  // namespace strop::node
