// quality_test: after one copy of a spam is reported, do its spammer-style variants still match?
//
// For every message of corpus/spam: signatures of the original (sigs::compute, native engines)
// against signatures of kVariantsPerKind variants of every single mutation kind and
// kComboVariants combinations (fixed seeds), judged by sigs::compare(...).match. Prints the match
// rate per kind, which engines carried the matches, the worst misses (file, kind, what was
// applied, similarities) and the originals without any content signature, then fails when a
// rate is under its target (>= 98% per single kind, >= 95% for combinations).
// A stress profile (Intensity::kStress, kStressPerKind / kStressCombos variants) is measured and
// printed too, to show the margin; it is not asserted. Then the same variants re-decided under
// each verdict policy of the sweep (corpus.hpp sweep_policies: fuzzy/1 threshold, url/1 rule):
// the recall per mutation class behind the thresholds in docs/signatures.md.
//
//   quality_test [--corpus DIR] [--tsv FILE] [--per-kind N] [--combos N] [--limit N]
//                [--kind NAME] [--worst N] [--stress-per-kind N] [--stress-combos N]
// Exit status: 0 targets met, 1 a target missed, 64 usage, 66 no corpus.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "mutate.hpp"
#include "sigs/compute.hpp"
#include "sigs/message.hpp"

namespace {

using strop::quality::MutationKind;
namespace sigs = strop::sigs;

// Match-rate targets: a mutated variant of reported spam must still match.
constexpr double kSingleKindTarget = 0.98;  // each single mutation kind
constexpr double kComboTarget = 0.95;       // combinations of 2-4 kinds
constexpr int kVariantsPerKind = 2;         // variants per single kind per message
constexpr int kComboVariants = 4;           // combination variants per message
constexpr int kWorstMisses = 40;            // misses listed
// Stress profile (Intensity::kStress): reported, not asserted.
constexpr int kStressPerKind = 1;
constexpr int kStressCombos = 2;

struct Outcome {
  std::string file;
  MutationKind kind = MutationKind::kCombo;
  std::uint64_t seed = 0;
  bool match = false;
  bool parse_ok = true;
  bool orig_content = true;
  std::string applied;
  std::string engines;  // describe(comparison)
  double fuzzy = 0;     // fuzzy similarity
  std::vector<sigs::Engine> matched_by;
  std::optional<strop::quality::Evidence> evidence;  // both computed
};

struct KindStats {
  int variants = 0;
  int matched = 0;
  int parse_failures = 0;
  std::map<sigs::Engine, int> by_engine;  // matches each engine alone would have given
  double fuzzy_sum = 0;
  int fuzzy_n = 0;
};

int usage(const char* msg) {
  std::fprintf(stderr,
               "quality_test: %s\nusage: quality_test [--corpus DIR] [--tsv FILE] [--per-kind N] "
               "[--combos N] [--limit N] [--kind NAME] [--worst N]\n",
               msg);
  return 64;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += ',';
    out += s;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string corpus = strop::quality::corpus_root(STROP_SHARED_DIR);
  std::string tsv_path;
  int per_kind = kVariantsPerKind, combos = kComboVariants, worst = kWorstMisses;
  int stress_per_kind = kStressPerKind, stress_combos = kStressCombos;
  std::size_t limit = 0;
  std::optional<MutationKind> only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) return usage(("missing value for " + a).c_str());
    std::string v = argv[++i];
    if (a == "--corpus")
      corpus = v;
    else if (a == "--tsv")
      tsv_path = v;
    else if (a == "--per-kind")
      per_kind = std::atoi(v.c_str());
    else if (a == "--combos")
      combos = std::atoi(v.c_str());
    else if (a == "--limit")
      limit = static_cast<std::size_t>(std::atol(v.c_str()));
    else if (a == "--worst")
      worst = std::atoi(v.c_str());
    else if (a == "--stress-per-kind")
      stress_per_kind = std::atoi(v.c_str());
    else if (a == "--stress-combos")
      stress_combos = std::atoi(v.c_str());
    else if (a == "--kind") {
      only = strop::quality::kind_from_name(v);
      if (!only) return usage(("unknown kind " + v).c_str());
    } else {
      return usage(("unknown option " + a).c_str());
    }
  }
  auto t0 = std::chrono::steady_clock::now();
  auto spam = strop::quality::load_dir(corpus + "/spam");
  if (spam.empty()) {
    std::fprintf(stderr, "quality_test: no messages in %s/spam\n", corpus.c_str());
    return 66;
  }
  if (limit && spam.size() > limit) spam.resize(limit);

  std::vector<std::pair<MutationKind, int>> plan;  // kind, variants per message
  for (MutationKind k : strop::quality::kSingleKinds) plan.emplace_back(k, per_kind);
  plan.emplace_back(MutationKind::kCombo, combos);
  if (only) std::erase_if(plan, [&](const auto& p) { return p.first != *only; });

  // Originals, computed once.
  const sigs::Options options;  // native engines
  struct Original {
    bool ok = false;
    bool content = false;
    sigs::SignatureSet set;
  };
  std::vector<Original> origs;
  std::vector<std::string> no_content, orig_errors;
  for (const auto& f : spam) {
    Original o;
    auto r = sigs::compute(f.raw, options);
    if (r.ok()) {
      o.ok = true;
      o.set = std::move(*r);
      o.content = strop::quality::has_content(o.set);
      if (!o.content) no_content.push_back(f.name + " [" + o.set.text() + "]");
    } else {
      orig_errors.push_back(f.name + " (" + r.error().to_string() + ")");
    }
    origs.push_back(std::move(o));
  }

  auto run = [&](const std::vector<std::pair<MutationKind, int>>& kinds,
                 strop::quality::Intensity intensity, std::map<MutationKind, KindStats>& stats,
                 std::vector<Outcome>& outcomes) {
    for (std::size_t fi = 0; fi < spam.size(); ++fi) {
      const auto& f = spam[fi];
      const Original& orig = origs[fi];
      std::uint64_t base = strop::quality::stable_hash(f.name);
      for (const auto& [kind, n] : kinds) {
        for (int v = 0; v < n; ++v) {
          std::uint64_t seed = base + static_cast<std::uint64_t>(v) * 1000003u;
          auto m = strop::quality::mutate(f.raw, kind, seed, intensity);
          Outcome o;
          o.file = f.name;
          o.kind = kind;
          o.seed = seed;
          o.applied = join(m.applied);
          o.orig_content = orig.content;
          auto var = sigs::compute(m.raw, options);  // fails only when the parse fails
          o.parse_ok = var.ok() || !orig.ok;
          KindStats& ks = stats[kind];
          ++ks.variants;
          if (!o.parse_ok) ++ks.parse_failures;
          if (var.ok() && orig.ok) {
            auto cmp = sigs::compare(orig.set, *var);
            o.match = cmp.match;
            o.evidence = strop::quality::evidence(orig.set, *var);
            o.engines = strop::quality::describe(cmp);
            o.fuzzy = strop::quality::similarity(cmp, sigs::Engine::kFuzzy);
            for (const auto& ec : cmp.engines) {
              if (ec.match) {
                ++ks.by_engine[ec.engine];
                o.matched_by.push_back(ec.engine);
              }
              if (ec.engine == sigs::Engine::kFuzzy && ec.present) {
                ks.fuzzy_sum += ec.similarity;
                ++ks.fuzzy_n;
              }
            }
          } else {
            o.engines = var.ok() ? "original not computed" : "variant: " + var.error().to_string();
          }
          if (o.match) ++ks.matched;
          outcomes.push_back(std::move(o));
        }
      }
    }
  };
  std::map<MutationKind, KindStats> stats;
  std::vector<Outcome> outcomes;
  run(plan, strop::quality::Intensity::kNormal, stats, outcomes);

  std::vector<std::pair<MutationKind, int>> stress_plan;
  for (MutationKind k : strop::quality::kSingleKinds) stress_plan.emplace_back(k, stress_per_kind);
  stress_plan.emplace_back(MutationKind::kCombo, stress_combos);
  if (only) std::erase_if(stress_plan, [&](const auto& p) { return p.first != *only; });
  std::erase_if(stress_plan, [](const auto& p) { return p.second <= 0; });
  std::map<MutationKind, KindStats> stress_stats;
  std::vector<Outcome> stress_outcomes;
  run(stress_plan, strop::quality::Intensity::kStress, stress_stats, stress_outcomes);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  // Table.
  std::printf(
      "Signature quality on %zu spam messages (%zu variants + %zu stress variants, %.1f s)\n\n",
      spam.size(), outcomes.size(), stress_outcomes.size(), secs);
  std::printf("%-18s %8s %8s %8s %8s  %7s %7s %7s %7s  %s\n", "kind", "variants", "matched", "rate",
              "target", "body", "fuzzy", "url", "attach", "mean fuzzy sim");
  bool ok = true;
  int single_variants = 0, single_matched = 0;
  auto row = [&](const char* name, const KindStats& ks, double target) {
    double rate = ks.variants ? static_cast<double>(ks.matched) / ks.variants : 1.0;
    auto by = [&](sigs::Engine e) {
      auto it = ks.by_engine.find(e);
      return it == ks.by_engine.end() ? 0 : it->second;
    };
    bool pass = rate >= target;
    std::printf("%-18s %8d %8d %7.2f%% %7.0f%%  %7d %7d %7d %7d  %.3f%s\n", name, ks.variants,
                ks.matched, 100 * rate, 100 * target, by(sigs::Engine::kBody),
                by(sigs::Engine::kFuzzy), by(sigs::Engine::kUrl), by(sigs::Engine::kAttach),
                ks.fuzzy_n ? ks.fuzzy_sum / ks.fuzzy_n : 0.0, pass ? "" : "   << below target");
    return pass;
  };
  for (MutationKind k : strop::quality::kSingleKinds) {
    if (!stats.count(k)) continue;
    const KindStats& ks = stats[k];
    ok &= row(std::string(strop::quality::kind_name(k)).c_str(), ks, kSingleKindTarget);
    single_variants += ks.variants;
    single_matched += ks.matched;
  }
  if (single_variants) {
    KindStats all;
    all.variants = single_variants;
    all.matched = single_matched;
    for (MutationKind k : strop::quality::kSingleKinds) {
      for (const auto& [e, n] : stats[k].by_engine) all.by_engine[e] += n;
      all.fuzzy_sum += stats[k].fuzzy_sum;
      all.fuzzy_n += stats[k].fuzzy_n;
    }
    ok &= row("all single kinds", all, kSingleKindTarget);
  }
  if (stats.count(MutationKind::kCombo))
    ok &= row("combo", stats[MutationKind::kCombo], kComboTarget);
  std::printf(
      "(engine columns: variants that engine alone matched; a variant may count under several)\n");

  if (!stress_outcomes.empty()) {
    std::printf(
        "\nStress profile (Intensity::kStress: long hash-busters, 4-8%% typos, heavy obfuscation, "
        "3-5 kinds per combination); informational, not asserted:\n");
    int sv = 0, sm = 0;
    for (MutationKind k : strop::quality::kSingleKinds) {
      if (!stress_stats.count(k)) continue;
      row(std::string(strop::quality::kind_name(k)).c_str(), stress_stats[k], kSingleKindTarget);
      sv += stress_stats[k].variants;
      sm += stress_stats[k].matched;
    }
    KindStats all;
    all.variants = sv;
    all.matched = sm;
    for (MutationKind k : strop::quality::kSingleKinds) {
      for (const auto& [e, n] : stress_stats[k].by_engine) all.by_engine[e] += n;
      all.fuzzy_sum += stress_stats[k].fuzzy_sum;
      all.fuzzy_n += stress_stats[k].fuzzy_n;
    }
    if (sv) row("all single kinds", all, kSingleKindTarget);
    if (stress_stats.count(MutationKind::kCombo))
      row("combo", stress_stats[MutationKind::kCombo], kComboTarget);
  }

  // Recall per mutation class under each verdict policy (normal profile).
  {
    std::vector<MutationKind> kinds;
    for (MutationKind k : strop::quality::kSingleKinds)
      if (stats.count(k)) kinds.push_back(k);
    if (stats.count(MutationKind::kCombo)) kinds.push_back(MutationKind::kCombo);
    std::printf("\nRecall (%%) per mutation class under each verdict policy:\n%-30s", "policy");
    for (MutationKind k : kinds) {
      std::string name(strop::quality::kind_name(k));
      std::printf(" %8.8s", name.c_str());
    }
    std::printf(" %8s\n", "singles");
    for (const auto& pol : strop::quality::sweep_policies()) {
      std::map<MutationKind, std::pair<int, int>> n;  // matched, variants
      for (const auto& o : outcomes) {
        auto& p = n[o.kind];
        ++p.second;
        p.first += o.evidence && strop::quality::decides(*o.evidence, pol);
      }
      std::printf("%-30s", pol.name);
      int sm = 0, sv = 0;
      for (MutationKind k : kinds) {
        const auto& p = n[k];
        std::printf(" %8.2f", p.second ? 100.0 * p.first / p.second : 0.0);
        if (k != MutationKind::kCombo) {
          sm += p.first;
          sv += p.second;
        }
      }
      std::printf(" %8.2f\n", sv ? 100.0 * sm / sv : 0.0);
    }
  }

  int parse_failures = 0;
  for (const auto& [k, ks] : stats) parse_failures += ks.parse_failures;
  if (parse_failures) {
    ok = false;
    std::printf("\n%d variants sigs::compute rejected although their original was accepted:\n",
                parse_failures);
    for (const auto& o : outcomes)
      if (!o.parse_ok)
        std::printf("  %s %s seed=%llu\n", o.file.c_str(),
                    std::string(strop::quality::kind_name(o.kind)).c_str(),
                    static_cast<unsigned long long>(o.seed));
  }

  // Per-sub-mutation miss counts: which technique hurts.
  std::map<std::string, std::pair<int, int>> by_applied;  // applied item -> (variants, misses)
  for (const auto& o : outcomes) {
    std::size_t s = 0;
    while (s <= o.applied.size()) {
      std::size_t e = o.applied.find(',', s);
      std::string item = o.applied.substr(s, e == std::string::npos ? std::string::npos : e - s);
      if (auto eq = item.find('='); eq != std::string::npos) item = item.substr(0, eq);
      if (!item.empty()) {
        auto& p = by_applied[item];
        ++p.first;
        p.second += !o.match;
      }
      if (e == std::string::npos) break;
      s = e + 1;
    }
  }
  std::printf("\nMisses per technique (all kinds, combos included):\n");
  for (const auto& [item, p] : by_applied) {
    if (p.second)
      std::printf("  %-34s %5d / %5d missed (%.1f%%)\n", item.c_str(), p.second, p.first,
                  100.0 * p.second / p.first);
  }

  // Worst misses.
  std::vector<const Outcome*> misses;
  for (const auto& o : outcomes)
    if (!o.match) misses.push_back(&o);
  std::sort(misses.begin(), misses.end(), [](const Outcome* a, const Outcome* b) {
    if (a->orig_content != b->orig_content) return a->orig_content > b->orig_content;
    if (a->fuzzy != b->fuzzy) return a->fuzzy < b->fuzzy;
    return a->file < b->file;
  });
  std::printf(
      "\n%zu misses; the worst %d (lowest fuzzy similarity first; originals with content "
      "signatures first):\n",
      misses.size(), std::min<int>(worst, static_cast<int>(misses.size())));
  for (int i = 0; i < worst && i < static_cast<int>(misses.size()); ++i) {
    const Outcome& o = *misses[static_cast<std::size_t>(i)];
    std::printf("  %s %-16s seed=%-20llu %s  [%s]\n", o.file.c_str(),
                std::string(strop::quality::kind_name(o.kind)).c_str(),
                static_cast<unsigned long long>(o.seed), o.engines.c_str(), o.applied.c_str());
  }
  std::printf("  (reproduce: strop-mutate --kind KIND --seed SEED corpus/spam/FILE OUTDIR)\n");

  std::printf(
      "\n%zu originals without a content signature (body/1 or fuzzy/1); their variants are "
      "counted, unmatched ones as misses:\n",
      no_content.size());
  for (const auto& n : no_content) std::printf("  %s\n", n.c_str());
  if (!orig_errors.empty()) {
    std::printf("\n%zu originals sigs::compute rejected:\n", orig_errors.size());
    for (const auto& n : orig_errors) std::printf("  %s\n", n.c_str());
  }

  if (!tsv_path.empty()) {
    std::ofstream tsv(tsv_path);
    tsv << "profile\tfile\tkind\tseed\tmatch\tengines\tapplied\n";
    for (const auto* list : {&outcomes, &stress_outcomes}) {
      const char* profile = list == &outcomes ? "normal" : "stress";
      for (const auto& o : *list) {
        tsv << profile << '\t' << o.file << '\t' << strop::quality::kind_name(o.kind) << '\t'
            << o.seed << '\t' << (o.match ? 1 : 0) << '\t' << o.engines << '\t' << o.applied
            << '\n';
      }
    }
    std::printf("\nAll outcomes: %s\n", tsv_path.c_str());
  }
  std::printf("\n%s\n", ok ? "quality targets met" : "FAIL: a quality target was missed");
  return ok ? 0 : 1;
}
